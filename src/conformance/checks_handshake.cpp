// Group "handshake": the hello exchange and what a uaid means.
#include <fmt/format.h>

#include "webpush/conformance/check.h"

namespace webpush::conformance {

using nlohmann::json;

namespace {

bool is_simple_hex_uaid(const std::string& uaid) {
  if (uaid.size() != 32) return false;
  return std::all_of(uaid.begin(), uaid.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

double seconds_since(SteadyTime start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Outcome new_uaid(Context& context) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  const std::string& uaid = (*client)->uaid();
  if (!is_simple_hex_uaid(uaid)) {
    return Outcome::fail(fmt::format("uaid \"{}\" is not 32 lower-case hex digits", uaid));
  }
  auto second = context.client();
  if (!second) return Outcome::fail(second.error());
  if ((*second)->uaid() == uaid) return Outcome::fail("two hellos without a uaid got the same uaid " + uaid);
  return Outcome::pass(fmt::format("uaid {} (32 lower-case hex); another hello got another one", uaid));
}

Outcome same_uaid(Context& context) {
  auto first = context.client();
  if (!first) return Outcome::fail(first.error());
  // A uaid with nothing registered need not be kept (autopush stores it at the first register).
  auto channel = (*first)->subscribe();
  if (!channel) return Outcome::fail(channel.error());
  const std::string uaid = (*first)->uaid();
  (*first)->ws().close_and_wait(context.options().reply_timeout);
  auto again = context.client(uaid);
  if (!again) return Outcome::fail(again.error());
  if ((*again)->uaid() != uaid) {
    return Outcome::fail(fmt::format("hello with uaid {} answered with uaid {}", uaid, (*again)->uaid()));
  }
  // The channel registered on the first connection is unregistered over this one.
  (*first)->forget_channels();
  if (auto reply = (*again)->unregister(channel->id); !reply) return Outcome::fail(reply.error());
  return Outcome::pass("the same uaid came back: " + uaid);
}

Outcome older_connection_closed(Context& context) {
  auto first = context.client();
  if (!first) return Outcome::fail(first.error());
  auto channel = (*first)->subscribe();
  if (!channel) return Outcome::fail(channel.error());
  auto second = context.client((*first)->uaid());
  if (!second) return Outcome::fail(second.error());
  if ((*second)->uaid() != (*first)->uaid()) return Outcome::fail("the second hello got another uaid");
  auto event = (*first)->ws().next(context.options().reply_timeout);
  (*first)->forget_channels();
  if (auto reply = (*second)->unregister(channel->id); !reply) return Outcome::fail(reply.error());
  if (!event) return Outcome::fail("the older connection is still open: " + event.error().message());
  if (event->kind != WsEvent::Kind::close && event->kind != WsEvent::Kind::eof) {
    return Outcome::fail("the older connection got a message instead of closing: " + event->payload.substr(0, 120));
  }
  return Outcome::pass("the older connection " + describe_close(event->close));
}

Outcome silent_connection_closed(Context& context) {
  auto ws = context.raw_connection();
  if (!ws) return Outcome::fail(ws.error());
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + context.options().handshake_wait;
  std::size_t messages = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto event = (*ws)->next(std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now()));
    if (!event) break;
    if (event->kind == WsEvent::Kind::close || event->kind == WsEvent::Kind::eof) {
      return Outcome::pass(fmt::format("{} after {:.1f} s", describe_close(event->close), seconds_since(start)));
    }
    ++messages;  // a service that talks first is still waiting for the hello
  }
  return Outcome::fail(fmt::format("still open {:.1f} s after the upgrade without a hello{}", seconds_since(start),
                                   messages == 0 ? "" : fmt::format(" ({} messages came meanwhile)", messages)));
}

Outcome use_webpush(Context& context) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  const json& reply = (*client)->hello_reply();
  const auto it = reply.find("use_webpush");
  if (it == reply.end()) {
    return Outcome::fail("the hello reply has no use_webpush: Firefox would treat the service as SimplePush");
  }
  if (*it != true) return Outcome::fail("the hello reply says use_webpush " + it->dump());
  return Outcome::pass("hello reply: use_webpush true");
}

Outcome hello_first(Context& context) {
  auto ws = context.raw_connection();
  if (!ws) return Outcome::fail(ws.error());
  const json reg = {{"messageType", "register"}, {"channelID", new_channel_id()}};
  if (auto sent = (*ws)->send_text(reg.dump()); !sent) return Outcome::fail(sent.error());
  auto event = (*ws)->next(context.options().reply_timeout);
  if (!event) return Outcome::fail("a register before the hello got no answer and the connection stayed open");
  if (event->kind == WsEvent::Kind::close || event->kind == WsEvent::Kind::eof) {
    return Outcome::pass("a register before the hello: " + describe_close(event->close));
  }
  const json reply = json::parse(event->payload, nullptr, false);
  const auto status = int_field(reply, "status");
  if (status >= 400) return Outcome::pass(fmt::format("a register before the hello: refused with status {}", status));
  return Outcome::fail("a register before the hello was answered: " + event->payload.substr(0, 160));
}

Outcome subprotocol(Context& context) {
  auto ws = context.raw_connection();
  if (!ws) return Outcome::fail(ws.error());
  const auto& chosen = (*ws)->subprotocol();
  if (!chosen) return Outcome::pass("upgrade accepted; no Sec-WebSocket-Protocol in the answer (autopush sends none)");
  if (*chosen != "push-notification") {
    return Outcome::fail(fmt::format("the service chose sub-protocol \"{}\", which was not offered", *chosen));
  }
  return Outcome::pass("upgrade accepted with sub-protocol push-notification");
}

constexpr Check kChecks[] = {
    {"handshake.subprotocol", "the upgrade offering push-notification is accepted", "RFC 6455 §4.1; Firefox",
     subprotocol},
    {"handshake.new-uaid", "hello without a uaid gets a new 32-hex uaid", "autopush protocol: hello", new_uaid},
    {"handshake.same-uaid", "hello with a known uaid keeps it", "autopush protocol: hello", same_uaid},
    {"handshake.use-webpush", "the hello reply says use_webpush: true", "autopush protocol: hello", use_webpush},
    {"handshake.one-connection", "a second connection with the same uaid closes the older one",
     "autopush protocol: hello", older_connection_closed},
    {"handshake.hello-first", "a message before the hello is refused", "autopush protocol: hello", hello_first},
    {"handshake.timeout", "a connection that sends no hello is closed", "autopush protocol: hello",
     silent_connection_closed},
};

}  // namespace

std::span<const Check> handshake_checks() { return kChecks; }

}  // namespace webpush::conformance
