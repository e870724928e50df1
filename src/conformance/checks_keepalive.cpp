// Group "keepalive": the client's `{}` pings and the service's WebSocket Ping
// frames (autopush protocol §Ping; RFC 6455 §5.5.2–5.5.3).
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "webpush/conformance/check.h"

namespace webpush::conformance {

using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

// Short enough that a Ping is timed to a fraction of a second: WsProbe::next
// answers Pings inside and returns only for a message, so waits are sliced.
constexpr Millis kSlice{100};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

Millis left(SteadyTime deadline) {
  const auto ms = std::chrono::duration_cast<Millis>(deadline - Clock::now());
  return ms.count() < 0 ? Millis(0) : ms;
}

// Whether `text` is the answer to a `{}` ping: ARS sends `{}`; Firefox takes any
// object without a string messageType, or messageType "ping", as one.
bool is_pong(const std::string& text) {
  const json m = json::parse(text, nullptr, false);
  if (!m.is_object()) return false;
  const auto it = m.find("messageType");
  return it == m.end() || !it->is_string() || *it == "ping";
}

// Waits for the answer to a `{}` just sent, skipping other messages (broadcasts,
// notifications). Returns the answer's text. Errors: timeout ("no {} reply within
// 5.0 s"), closed (how the service closed), those of WsProbe::next.
Result<std::string> await_pong(WsProbe& ws, Millis timeout) {
  const SteadyTime deadline = Clock::now() + timeout;
  for (;;) {
    auto event = ws.next(left(deadline));
    if (!event) {
      if (event.error().is(Errc::timeout)) {
        return fail(Errc::timeout, fmt::format("no {{}} reply within {:.1f} s", seconds(timeout)));
      }
      return tl::unexpected(event.error());
    }
    if (event->kind == WsEvent::Kind::close || event->kind == WsEvent::Kind::eof) {
      return fail(Errc::closed, describe_close(event->close));
    }
    if (event->kind == WsEvent::Kind::text && is_pong(event->payload)) return std::move(event->payload);
  }
}

// Reads (and drops) messages until `ws` has recorded `count` Pings or `deadline`
// passes. Errors: timeout, closed (how the service closed), those of WsProbe::next.
Result<void> await_pings(WsProbe& ws, std::size_t count, SteadyTime deadline) {
  while (ws.pings().size() < count) {
    if (Clock::now() >= deadline) return fail(Errc::timeout, "no Ping in time");
    auto event = ws.next(std::min(kSlice, left(deadline)));
    if (!event) {
      if (event.error().is(Errc::timeout)) continue;
      return tl::unexpected(event.error());
    }
    if (event->kind == WsEvent::Kind::close || event->kind == WsEvent::Kind::eof) {
      return fail(Errc::closed, describe_close(event->close));
    }
  }
  return {};
}

// Waits until `deadline` (or until `stop` is set) answering Pings (when
// answer_pings is on). Errors: closed, those of WsProbe::next.
Result<void> idle_until(WsProbe& ws, SteadyTime deadline, const std::atomic<bool>* stop = nullptr) {
  while (Clock::now() < deadline && (stop == nullptr || !stop->load())) {
    auto event = ws.next(std::min(kSlice, left(deadline)));
    if (!event) {
      if (event.error().is(Errc::timeout)) continue;
      return tl::unexpected(event.error());
    }
    if (event->kind == WsEvent::Kind::close || event->kind == WsEvent::Kind::eof) {
      return fail(Errc::closed, describe_close(event->close));
    }
  }
  return {};
}

std::string no_ping_text(const Context& context) {
  const double wait = seconds(context.options().ping_wait);
  return fmt::format("no WebSocket Ping within {:g} s (autopush pings every 300 s: rerun with --ping-wait 330)", wait);
}

Outcome client_ping(Context& context) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  WsProbe& ws = (*client)->ws();
  const auto start = Clock::now();
  if (auto sent = ws.send_text("{}"); !sent) return Outcome::fail(sent.error());
  auto reply = await_pong(ws, context.options().reply_timeout);
  if (!reply) {
    if (reply.error().is(Errc::closed)) return Outcome::fail("{} after the hello: " + reply.error().message());
    return Outcome::fail(reply.error().message());
  }
  const double ms = seconds(Clock::now() - start) * 1000;
  if (*reply != "{}") return Outcome::pass(fmt::format("{{}} answered with {} in {:.0f} ms", reply->substr(0, 80), ms));
  return Outcome::pass(fmt::format("{{}} answered with {{}} in {:.0f} ms", ms));
}

// After the Pongs: the connection still carries a `{}` round trip.
Outcome still_connected(WsProbe& ws, Millis timeout, const std::string& pings) {
  if (auto sent = ws.send_text("{}"); !sent) return Outcome::fail(pings + "; then " + sent.error().message());
  auto reply = await_pong(ws, timeout);
  if (!reply) return Outcome::fail(pings + "; after the Pong a {} got " + reply.error().message());
  return Outcome::pass(pings + "; still connected after the Pong ({} answered)");
}

Outcome ws_ping(Context& context) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  WsProbe& ws = (*client)->ws();
  const auto connected = Clock::now();
  const Millis wait = context.options().ping_wait;
  if (auto first = await_pings(ws, 1, connected + wait); !first) {
    if (first.error().is(Errc::timeout)) {
      context.service_pings = false;  // keepalive.pong-timeout need not wait the same time again
      return Outcome::skip(no_ping_text(context));
    }
    return Outcome::fail(fmt::format("no Ping; the connection {} {:.1f} s after the hello", first.error().message(),
                                     seconds(Clock::now() - connected)));
  }
  const SteadyTime first_at = ws.pings()[0];
  // The next Ping comes one interval after the Pong: wait a bit more than the
  // time the first took, within ping_wait.
  const auto grace = std::chrono::duration_cast<Millis>((first_at - connected) * 3 / 2) + Millis(1'000);
  auto second = await_pings(ws, 2, first_at + std::min(grace, wait));
  if (!second && second.error().is(Errc::closed)) {
    return Outcome::fail(fmt::format("a Ping {:.1f} s after the hello, answered with a Pong; then the connection {}",
                                     seconds(first_at - connected), second.error().message()));
  }
  if (!second && !second.error().is(Errc::timeout)) return Outcome::fail(second.error());
  const std::string pings =
      second ? fmt::format("Ping every {:.1f} s, answered", seconds(ws.pings()[1] - first_at))
             : fmt::format("a Ping {:.1f} s after the hello, answered; no second one within {:.1f} s",
                           seconds(first_at - connected), seconds(Clock::now() - first_at));
  return still_connected(ws, context.options().reply_timeout, pings);
}

Outcome pong_timeout(Context& context) {
  if (context.service_pings == false) {
    return Outcome::skip(
        fmt::format("keepalive.ws-ping saw no WebSocket Ping within {:g} s; not waiting again "
                    "(autopush pings every 300 s: rerun with --ping-wait 330)",
                    seconds(context.options().ping_wait)));
  }
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  WsProbe& ws = (*client)->ws();
  ws.set_answer_pings(false);
  const auto connected = Clock::now();
  if (auto first = await_pings(ws, 1, connected + context.options().ping_wait); !first) {
    if (first.error().is(Errc::timeout)) return Outcome::skip(no_ping_text(context));
    return Outcome::fail(fmt::format("no Ping; the connection {} {:.1f} s after the hello", first.error().message(),
                                     seconds(Clock::now() - connected)));
  }
  const SteadyTime ping_at = ws.pings()[0];
  const Millis wait = std::max(2 * context.options().reply_timeout, Millis(10'000));
  auto idle = idle_until(ws, ping_at + wait);
  if (idle) {
    return Outcome::pass(
        fmt::format("still open {:.1f} s after an unanswered Ping ({} Pings unanswered): the "
                    "service does not close for a missing Pong",
                    seconds(wait), ws.pings().size()));
  }
  if (idle.error().is(Errc::closed)) {
    return Outcome::pass(
        fmt::format("{} {:.1f} s after an unanswered Ping", idle.error().message(), seconds(Clock::now() - ping_at)));
  }
  return Outcome::fail(idle.error());
}

// keepalive.client-ping-rate: one connection per gap, all at once.
constexpr std::array<int, 8> kGapSeconds = {1, 2, 5, 10, 20, 30, 45, 60};
// Added to each gap so that the service, whose clock starts when the first `{}`
// arrives, sees at least the gap.
constexpr Millis kGapMargin{200};

struct GapProbe {
  Millis gap{0};
  std::unique_ptr<PushClient> client;
  bool tolerated = false;
  bool hang = false;     ///< the second `{}` got neither an answer nor a close
  std::string observed;  ///< what happened to the second `{}` (or before it)
  std::atomic<bool> done{false};
};

void run_gap(GapProbe& probe, Millis timeout, const std::atomic<bool>& stop) {
  WsProbe& ws = probe.client->ws();
  if (auto sent = ws.send_text("{}"); !sent) {
    probe.observed = "the first {}: " + sent.error().message();
    return;
  }
  const auto first = Clock::now();
  if (auto reply = await_pong(ws, timeout); !reply) {
    probe.observed = "the first {}: " + reply.error().message();
    return;
  }
  if (auto idle = idle_until(ws, first + probe.gap + kGapMargin, &stop); !idle) {
    probe.observed = "before the second {}: " + idle.error().message();
    return;
  }
  if (stop.load()) return;
  if (auto sent = ws.send_text("{}"); !sent) {
    probe.observed = sent.error().message();
    return;
  }
  auto reply = await_pong(ws, timeout);
  probe.tolerated = reply.has_value();
  probe.hang = !reply && reply.error().is(Errc::timeout);
  probe.observed = reply        ? std::string("answered")
                   : probe.hang ? fmt::format("ignored (no reply and no close within {:.1f} s)", seconds(timeout))
                                : reply.error().message();
}

// Whether the answer is known: the shortest tolerated gap, every shorter one refused.
bool decided(const std::vector<GapProbe>& probes) {
  for (const auto& p : probes) {
    if (!p.done.load()) return false;
    if (p.tolerated) return true;
  }
  return true;
}

// Runs every gap at once and stops the longer ones once the answer is known.
void run_gaps(std::vector<GapProbe>& probes, Millis timeout) {
  std::atomic<bool> stop{false};
  std::vector<std::jthread> threads;
  for (auto& p : probes) {
    threads.emplace_back([&p, &stop, timeout] {
      run_gap(p, timeout, stop);
      p.done.store(true);
    });
  }
  while (!decided(probes)) std::this_thread::sleep_for(kSlice);
  stop.store(true);
}

std::string describe_gaps(const std::vector<GapProbe>& probes) {
  std::string out;
  for (const auto& p : probes) {
    if (p.observed.empty()) continue;  // stopped: a shorter gap had answered the question
    out += fmt::format("{}{} s: {}", out.empty() ? "" : "; ", p.gap.count() / 1000, p.observed);
  }
  return out;
}

Outcome client_ping_rate(Context& context) {
  std::vector<GapProbe> probes(kGapSeconds.size());
  for (std::size_t i = 0; i < kGapSeconds.size(); ++i) {
    auto client = context.client();
    if (!client) return Outcome::fail(client.error());
    probes[i].gap = Millis(kGapSeconds[i] * 1'000);
    probes[i].client = std::move(*client);
  }
  run_gaps(probes, context.options().reply_timeout);
  // A {} that was ignored rather than refused with a close is the service's
  // line too (neither the RFC nor autopush's design requires the close).
  const auto tolerated = std::find_if(probes.begin(), probes.end(), [](const GapProbe& p) { return p.tolerated; });
  if (tolerated == probes.end()) {
    return Outcome::fail(fmt::format("pings a minute apart are not tolerated ({})", describe_gaps(probes)));
  }
  if (tolerated == probes.begin()) {
    return Outcome::pass(
        fmt::format("tolerates {{}} pings {} s apart, the shortest gap tried", tolerated->gap.count() / 1000));
  }
  const auto& refused = *(tolerated - 1);
  return Outcome::pass(fmt::format("tolerates {} s; at {} s: {} ({})", tolerated->gap.count() / 1000,
                                   refused.gap.count() / 1000, refused.observed, describe_gaps(probes)));
}

constexpr Check kChecks[] = {
    {"keepalive.client-ping", "a {} sent after the hello is answered with {}", "autopush protocol: ping", client_ping},
    {"keepalive.ws-ping", "the service's WebSocket Pings are answered and the connection stays up",
     "RFC 6455 §5.5.2; autopush: auto_ping_interval", ws_ping},
    {"keepalive.pong-timeout", "what the service does when its Ping goes unanswered (observed)",
     "RFC 6455 §5.5.2; autopush: auto_ping_timeout", pong_timeout},
    {"keepalive.client-ping-rate", "the shortest gap between {} pings the service tolerates",
     "autopush protocol: ping (at most once a minute)", client_ping_rate, true},
};

}  // namespace

std::span<const Check> keepalive_checks() { return kChecks; }

}  // namespace webpush::conformance
