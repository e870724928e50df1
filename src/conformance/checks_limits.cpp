// Group "limits" (only with --probe-limits): where the service draws its lines
// — the largest WebSocket message it reads, the channels one uaid may hold, the
// messages it stores for an offline user agent — found by trying, not assumed.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "webpush/conformance/check.h"

namespace webpush::conformance {

using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

// "64 KiB (65536 bytes)" for whole KiB, else "65537 bytes".
std::string bytes_text(std::size_t n) {
  if (n % 1024 != 0) return fmt::format("{} bytes", n);
  if (n % (1024 * 1024) == 0) return fmt::format("{} MiB ({} bytes)", n / (1024 * 1024), n);
  return fmt::format("{} KiB ({} bytes)", n / 1024, n);
}

// ---- limits.frame-size

// The sizes tried first, each a whole text message; between the last answered
// and the first refused one the line is then found by bisection.
constexpr std::array<std::size_t, 5> kFrameSizes = {4 * 1024, 16 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024};
constexpr int kMaxBisections = 20;

struct FrameResult {
  enum class Kind { answered, closed, hang, error };
  Kind kind = Kind::error;
  std::string text;  ///< what happened: "answered (status 200)", "closed with 1009 …", …
};

// An unregister of a fresh channel padded with an unknown field to exactly `size`
// bytes: the service must read all of it to answer, and autopush ignores the field.
std::string padded_unregister(const std::string& channel_id, std::size_t size) {
  json m = {{"messageType", "unregister"}, {"channelID", channel_id}, {"padding", ""}};
  const std::size_t base = m.dump().size();
  if (size > base) m["padding"] = std::string(size - base, 'x');
  return m.dump();
}

// After no answer to the big message: whether the connection still answers a `{}`.
std::string hang_text(WsProbe& ws, Millis timeout) {
  if (auto sent = ws.send_text("{}"); !sent) return "then " + sent.error().message();
  const SteadyTime deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto event = ws.next(std::chrono::duration_cast<Millis>(deadline - Clock::now()));
    if (!event) break;
    if (event->kind == WsEvent::Kind::close || event->kind == WsEvent::Kind::eof) {
      return "a {} sent after it: " + describe_close(event->close);
    }
    if (event->kind == WsEvent::Kind::text && event->payload == "{}") {
      return "the connection still answers {}: the message was dropped silently";
    }
  }
  return "a {} sent after it got no reply either";
}

// Sends one message of `size` bytes on a new connection and says what came of it.
FrameResult try_frame(Context& context, std::size_t size) {
  auto client = context.client();
  if (!client) return {FrameResult::Kind::error, "a new connection: " + client.error().message()};
  WsProbe& ws = (*client)->ws();
  const std::string id = new_channel_id();
  // A failed send (the service closed while reading) still leaves its Close to read.
  auto sent = ws.send_text(padded_unregister(id, size));
  const Millis timeout = context.options().reply_timeout;
  const SteadyTime deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto event = ws.next(std::chrono::duration_cast<Millis>(deadline - Clock::now()));
    if (!event) {
      if (event.error().is(Errc::timeout)) break;
      return {FrameResult::Kind::closed, event.error().message()};
    }
    if (event->kind == WsEvent::Kind::close || event->kind == WsEvent::Kind::eof) {
      std::string text = describe_close(event->close);
      if (!sent) text += " (sending: " + sent.error().message() + ")";
      return {FrameResult::Kind::closed, text};
    }
    const json reply = json::parse(event->payload, nullptr, false);
    if (text_field(reply, "messageType") == "unregister") {
      return {FrameResult::Kind::answered, fmt::format("answered (status {})", int_field(reply, "status"))};
    }
  }
  if (!sent) return {FrameResult::Kind::hang, "could not be sent (" + sent.error().message() + ") and no close came"};
  return {FrameResult::Kind::hang,
          fmt::format("neither answered nor closed within {:.1f} s; {}", seconds(timeout), hang_text(ws, timeout))};
}

// Narrows (answered, refused] to one byte while the refusals are closes (cheap).
void bisect(Context& context, std::size_t& answered, std::size_t& refused, FrameResult& refusal) {
  for (int i = 0; i < kMaxBisections && refused - answered > 1; ++i) {
    const std::size_t mid = answered + (refused - answered) / 2;
    FrameResult r = try_frame(context, mid);
    if (r.kind == FrameResult::Kind::answered) {
      answered = mid;
    } else if (r.kind == FrameResult::Kind::closed) {
      refused = mid;
      refusal = std::move(r);
    } else {
      return;
    }
  }
}

Outcome frame_size(Context& context) {
  std::size_t answered = 0;
  std::optional<std::size_t> refused;
  FrameResult refusal;
  for (std::size_t size : kFrameSizes) {
    FrameResult r = try_frame(context, size);
    if (r.kind == FrameResult::Kind::error) return Outcome::fail(r.text);
    if (r.kind != FrameResult::Kind::answered) {
      refused = size;
      refusal = std::move(r);
      break;
    }
    answered = size;
  }
  if (refused && refusal.kind == FrameResult::Kind::closed) bisect(context, answered, *refused, refusal);
  auto after = context.client();
  const std::string largest = answered == 0 ? "none answered" : "largest answered " + bytes_text(answered);
  if (!refused) {
    if (!after)
      return Outcome::fail("every size up to 1 MiB answered; then a new connection: " + after.error().message());
    return Outcome::pass("every message up to " + bytes_text(answered) + " answered");
  }
  const std::string text = fmt::format("{}; {}: {}", largest, bytes_text(*refused), refusal.text);
  if (refusal.kind == FrameResult::Kind::hang) return Outcome::fail(text);
  if (!after) return Outcome::fail(text + "; then a new connection: " + after.error().message());
  return Outcome::pass(text + "; new connections still accepted");
}

// ---- limits.registrations

constexpr std::size_t kMaxRegistrations = 500;
constexpr std::size_t kPipeline = 50;  // requests sent before their replies are read

struct Registrations {
  std::vector<std::string> accepted;
  std::string stop;  ///< why it stopped before the bound ("" when it did not)
  bool hang = false;
};

// Sends `ids`' registers at once, then reads their replies.
void register_batch(PushClient& client, const std::vector<std::string>& ids, Registrations& out) {
  std::size_t sent = 0;
  for (const auto& id : ids) {
    if (auto s = client.send({{"messageType", "register"}, {"channelID", id}}); !s) break;
    ++sent;
  }
  for (std::size_t i = 0; i < sent; ++i) {
    auto reply = client.await("register");
    const std::size_t n = out.accepted.size() + 1;
    if (!reply) {
      out.hang = reply.error().is(Errc::timeout);
      if (out.stop.empty()) out.stop = fmt::format("register #{}: {}", n, reply.error().message());
      return;
    }
    const auto status = int_field(*reply, "status");
    const std::string id = text_field(*reply, "channelID");
    if (status == 200 && std::find(ids.begin(), ids.end(), id) != ids.end()) {
      out.accepted.push_back(id);
    } else if (out.stop.empty()) {
      out.stop = fmt::format("register #{} refused: {}", n, shorten(reply->dump()));
    }
  }
  if (sent < ids.size() && out.stop.empty()) out.stop = fmt::format("the connection ended after {} sent", sent);
}

// Unregisters `ids` (pipelined) over `client`, or over a new connection with the
// same uaid when its connection has ended. Returns how many are left registered.
std::size_t unregister_all(Context& context, std::unique_ptr<PushClient>& client, const std::vector<std::string>& ids) {
  if (client->ws().ended()) {
    auto again = context.client(client->uaid());
    if (!again) return ids.size();
    if ((*again)->uaid() != client->uaid()) return 0;  // the service dropped the uaid and its channels
    client = std::move(*again);
  }
  std::size_t done = 0;
  for (std::size_t start = 0; start < ids.size(); start += kPipeline) {
    const std::size_t end = std::min(ids.size(), start + kPipeline);
    for (std::size_t i = start; i < end; ++i) {
      if (auto s = client->send({{"messageType", "unregister"}, {"channelID", ids[i]}}); !s) return ids.size() - done;
    }
    for (std::size_t i = start; i < end; ++i) {
      auto reply = client->await("unregister");
      if (!reply) return ids.size() - done;
      if (int_field(*reply, "status") == 200) ++done;
    }
  }
  return ids.size() - done;
}

Outcome registrations(Context& context) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  Registrations regs;
  while (regs.stop.empty() && regs.accepted.size() < kMaxRegistrations) {
    std::vector<std::string> ids(std::min(kPipeline, kMaxRegistrations - regs.accepted.size()));
    for (auto& id : ids) id = new_channel_id();
    register_batch(**client, ids, regs);
  }
  const std::size_t left = unregister_all(context, *client, regs.accepted);
  const std::string cleanup = left == 0 ? "" : fmt::format("; cleanup: {} channels left registered", left);
  if (regs.hang) {
    return Outcome::fail(fmt::format("{} registrations accepted; {}{}", regs.accepted.size(), regs.stop, cleanup));
  }
  if (regs.stop.empty()) {
    return Outcome::pass(fmt::format("all {} registrations on one uaid accepted{}", regs.accepted.size(), cleanup));
  }
  return Outcome::pass(
      fmt::format("{} registrations on one uaid accepted; {}{}", regs.accepted.size(), regs.stop, cleanup));
}

// ---- limits.stored-messages

constexpr std::size_t kStoredMessages = 200;
constexpr std::size_t kPosters = 4;  // concurrent application-server connections

struct Posted {
  std::size_t accepted = 0;
  std::string refusal;  ///< the first refused POST ("POST #151: 429"), "" when none
};

// POSTs `requests` with kPosters connections at once.
Posted post_all(Context& context, const std::string& endpoint, const std::vector<load::PushRequest>& requests) {
  std::vector<std::string> answers(requests.size());
  {
    std::vector<std::jthread> threads;
    for (std::size_t t = 0; t < kPosters; ++t) {
      threads.emplace_back([&, t] {
        HttpProbe http(context.options().ca_file, std::max(context.options().reply_timeout, Millis(10'000)));
        for (std::size_t i = t; i < requests.size(); i += kPosters) {
          auto answer = http.request("POST", endpoint, requests[i].headers, requests[i].body);
          answers[i] = describe(answer);
          if (!answer || answer->status != 201) break;
        }
      });
    }
  }
  Posted out;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (answers[i] == "201") {
      ++out.accepted;
    } else if (out.refusal.empty() && !answers[i].empty()) {
      out.refusal = fmt::format("POST #{}: {}", i + 1, answers[i]);
    }
  }
  return out;
}

struct Delivery {
  std::set<std::string> versions;  ///< distinct messages received (and acked)
  std::optional<std::string> closed;
};

// Receives and acks until `expected` distinct messages arrived, the service
// closes, or nothing comes within the reply timeout.
void receive_all(PushClient& client, std::size_t expected, Millis timeout, Delivery& out) {
  while (out.versions.size() < expected) {
    auto n = client.next_notification(timeout);
    if (!n) {
      if (n.error().is(Errc::closed)) out.closed = n.error().message();
      return;
    }
    out.versions.insert(text_field(*n, "version"));
    if (auto acked = client.ack(*n); !acked) return;
  }
}

Outcome stored_messages(Context& context) {
  auto first = context.client();
  if (!first) return Outcome::fail(first.error());
  auto channel = (*first)->subscribe(&context.vapid_key());
  if (!channel) return Outcome::fail(channel.error());
  const std::string uaid = (*first)->uaid();
  (*first)->ws().close_and_wait(context.options().reply_timeout);  // offline: what is pushed now is stored
  std::vector<load::PushRequest> requests;
  for (std::size_t i = 0; i < kStoredMessages; ++i) {
    auto request =
        context.build(*channel, test_payload(fmt::format("stored {}", i), 32), push_options_for(context, *channel));
    if (!request) return Outcome::fail(request.error());
    requests.push_back(std::move(*request));
  }
  const Posted posted = post_all(context, channel->endpoint, requests);
  std::string text = fmt::format("{} of {} POSTs to an offline subscription accepted{}", posted.accepted,
                                 kStoredMessages, posted.refusal.empty() ? "" : " (" + posted.refusal + ")");
  Delivery delivery;
  const Millis timeout = context.options().reply_timeout;
  auto second = context.client(uaid);
  if (!second) return Outcome::fail(text + "; reconnecting: " + second.error().message());
  if ((*second)->uaid() != uaid) return Outcome::fail(text + "; the reconnect got a new uaid before any delivery");
  (*first)->forget_channels();  // unregistered below, over the connection that keeps the uaid
  receive_all(**second, posted.accepted, timeout, delivery);
  text += fmt::format("; {} delivered and acked", delivery.versions.size());
  std::unique_ptr<PushClient> keeper = std::move(*second);
  if (delivery.closed) {
    text += ", then " + *delivery.closed;
    auto third = context.client(uaid);
    if (!third) return Outcome::fail(text + "; reconnecting: " + third.error().message());
    keeper = std::move(*third);
    if (keeper->uaid() != uaid) {
      return Outcome::pass(text + fmt::format("; the next hello got a new uaid: the service dropped the uaid after {} "
                                              "stored messages",
                                              delivery.versions.size()));
    }
    receive_all(*keeper, posted.accepted, timeout, delivery);
    text += fmt::format("; same uaid on reconnecting, {} delivered in all", delivery.versions.size());
  }
  if (auto reply = keeper->unregister(channel->id); !reply) text += "; cleanup: " + reply.error().message();
  if (delivery.versions.size() < posted.accepted) return Outcome::fail(text + ": accepted messages were lost");
  return Outcome::pass(text);
}

constexpr Check kChecks[] = {
    {"limits.frame-size", "the largest WebSocket message the service reads, and what it does above it",
     "RFC 6455 §10.4; autopush protocol", frame_size, true},
    {"limits.registrations", "how many channels one uaid may register (up to 500)", "autopush protocol: register",
     registrations, true},
    {"limits.stored-messages", "how many messages are stored for an offline user agent, and what happens past it",
     "RFC 8030 §5.2; autopush: msg_limit", stored_messages, true},
};

}  // namespace

std::span<const Check> limits_checks() { return kChecks; }

}  // namespace webpush::conformance
