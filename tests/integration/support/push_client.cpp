#include "push_client.h"

#include <array>
#include <random>
#include <variant>

namespace webpush::testing {

namespace {

template <class T>
T expect(protocol::ServerMessage m, const char* what) {
  if (auto* v = std::get_if<T>(&m)) return std::move(*v);
  throw SupportError(std::string("expected a ") + what + " message, got " + protocol::serialize(m));
}

}  // namespace

std::string new_channel_id() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  std::array<std::uint8_t, 16> bytes{};
  for (auto& b : bytes) b = static_cast<std::uint8_t>(gen());
  return protocol::uuid_v4(bytes);
}

PushClient PushClient::connect(std::uint16_t port, WsOptions options) {
  options.port = port;
  return PushClient(WsClient::connect(options));
}

protocol::ServerMessage PushClient::recv(Millis timeout) {
  const std::string text = ws_.recv_text(timeout);
  auto parsed = protocol::parse_server_message(text);
  if (!parsed) throw SupportError("unparsable server message '" + text + "': " + parsed.error().to_string());
  return std::move(*parsed);
}

protocol::HelloReply PushClient::hello_reply(const std::optional<std::string>& uaid,
                                             const protocol::Broadcasts& broadcasts) {
  ws_.send_text(protocol::serialize(protocol::ClientMessage(protocol::Hello{uaid, broadcasts})));
  return expect<protocol::HelloReply>(recv(), "hello");
}

std::string PushClient::hello(const std::optional<std::string>& uaid, const protocol::Broadcasts& broadcasts) {
  auto reply = hello_reply(uaid, broadcasts);
  if (reply.status != 200) throw SupportError("hello status " + std::to_string(reply.status));
  if (!reply.use_webpush) throw SupportError("hello reply without use_webpush");
  if (!protocol::is_simple_uaid(reply.uaid)) throw SupportError("hello uaid not in simple form: " + reply.uaid);
  return reply.uaid;
}

protocol::RegisterReply PushClient::register_channel(const std::string& channel_id,
                                                     const std::optional<std::string>& key) {
  ws_.send_text(protocol::serialize(protocol::ClientMessage(protocol::Register{channel_id, key})));
  return expect<protocol::RegisterReply>(recv(), "register");
}

std::string PushClient::subscribe(const std::string& channel_id, const std::optional<std::string>& key) {
  auto reply = register_channel(channel_id, key);
  if (reply.status != 200) {
    throw SupportError("register status " + std::to_string(reply.status) + ": " + reply.push_endpoint);
  }
  if (reply.channel_id != channel_id) throw SupportError("register reply for another channel: " + reply.channel_id);
  return reply.push_endpoint;
}

protocol::UnregisterReply PushClient::unregister(const std::string& channel_id, std::optional<int> code) {
  ws_.send_text(protocol::serialize(protocol::ClientMessage(protocol::Unregister{channel_id, code})));
  return expect<protocol::UnregisterReply>(recv(), "unregister");
}

void PushClient::ack(const std::string& channel_id, const std::string& version, int code) {
  protocol::Ack a;
  a.updates.push_back({channel_id, version, code});
  ws_.send_text(protocol::serialize(protocol::ClientMessage(a)));
}

void PushClient::nack(const std::string& version, int code) {
  ws_.send_text(protocol::serialize(protocol::ClientMessage(protocol::Nack{version, code})));
}

protocol::Notification PushClient::recv_notification(Millis timeout) {
  return expect<protocol::Notification>(recv(timeout), "notification");
}

std::vector<protocol::Notification> PushClient::barrier() {
  const std::string marker = new_channel_id();
  ws_.send_text(protocol::serialize(protocol::ClientMessage(protocol::Unregister{marker, std::nullopt})));
  std::vector<protocol::Notification> seen;
  while (true) {
    auto m = recv();
    if (auto* n = std::get_if<protocol::Notification>(&m)) {
      seen.push_back(std::move(*n));
      continue;
    }
    if (auto* u = std::get_if<protocol::UnregisterReply>(&m); u && u->channel_id == marker) return seen;
    throw SupportError("unexpected message before the barrier: " + protocol::serialize(m));
  }
}

}  // namespace webpush::testing
