#include "webpush/conformance/push_client.h"

#include <openssl/rand.h>

#include <fmt/format.h>

#include "webpush/conformance/text.h"
#include "webpush/core/base64url.h"
#include "webpush/core/url.h"
#include "webpush/crypto/webpush.h"

namespace webpush::conformance {

using nlohmann::json;

namespace {

Millis left(SteadyTime deadline) {
  const auto ms = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
  return ms.count() < 0 ? Millis(0) : ms;
}

std::string_view message_type(const json& m) {
  if (!m.is_object()) return {};
  const auto it = m.find("messageType");
  return it != m.end() && it->is_string() ? std::string_view(it->get_ref<const std::string&>()) : std::string_view();
}

}  // namespace

std::string text_field(const json& message, std::string_view key) {
  if (!message.is_object()) return {};
  const auto it = message.find(key);
  return it != message.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t int_field(const json& message, std::string_view key, std::int64_t fallback) {
  if (!message.is_object()) return fallback;
  const auto it = message.find(key);
  return it != message.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

std::string describe_close(const CloseInfo& close) {
  if (close.code == 1006) return close.reason.empty() ? "ended without a Close frame" : shorten(close.reason, 120);
  return close.reason.empty() ? fmt::format("closed with {}", close.code)
                              : fmt::format("closed with {} {}", close.code, shorten(close.reason, 60));
}

load::PushTarget Channel::target() const {
  return load::PushTarget{endpoint, Bytes(key->public_bytes().begin(), key->public_bytes().end()),
                          Bytes(auth.begin(), auth.end())};
}

std::string new_channel_id() {
  std::uint8_t b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    for (std::size_t i = 0; i < sizeof b; ++i) b[i] = static_cast<std::uint8_t>(i * 37 + 11);
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += fmt::format("{:02x}", b[i]);
  }
  return out;
}

PushClient::PushClient(std::unique_ptr<WsProbe> ws, Millis timeout, std::string url, ProbeOptions options)
    : ws_(std::move(ws)), timeout_(timeout), url_(std::move(url)), options_(std::move(options)) {}

PushClient::~PushClient() { cleanup(); }

Result<std::unique_ptr<PushClient>> PushClient::connect(std::unique_ptr<WsProbe> ws,
                                                        const std::optional<std::string>& uaid, Millis timeout,
                                                        std::string reconnect_url, ProbeOptions reconnect_options) {
  std::unique_ptr<PushClient> client(
      new PushClient(std::move(ws), timeout, std::move(reconnect_url), std::move(reconnect_options)));
  json hello = {{"messageType", "hello"}, {"use_webpush", true}};
  if (uaid) hello["uaid"] = *uaid;
  if (auto sent = client->send(hello); !sent) return tl::unexpected(sent.error());
  auto reply = client->await("hello");
  if (!reply) return tl::unexpected(reply.error().with_context("hello"));
  const auto status = int_field(*reply, "status");
  const auto it = reply->find("uaid");
  if (status != 200 || it == reply->end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return fail(Errc::bad_reply, "hello reply " + shorten(reply->dump()));
  }
  client->uaid_ = it->get<std::string>();
  client->hello_ = std::move(*reply);
  return client;
}

Result<void> PushClient::send(const json& message) { return ws_->send_text(message.dump()); }

Result<json> PushClient::read_message(Millis timeout) {
  auto event = ws_->next(timeout);
  if (!event) return tl::unexpected(event.error());
  switch (event->kind) {
    case WsEvent::Kind::text: {
      json m = json::parse(event->payload, nullptr, false);
      if (!m.is_object()) return fail(Errc::bad_reply, "not a JSON object: " + shorten(event->payload));
      return m;
    }
    case WsEvent::Kind::binary: return fail(Errc::bad_reply, "a binary frame");
    case WsEvent::Kind::close:
    case WsEvent::Kind::eof: break;
  }
  return fail(Errc::closed, describe_close(event->close));
}

Result<json> PushClient::await(std::string_view type) {
  const SteadyTime deadline = std::chrono::steady_clock::now() + timeout_;
  for (bool first = true;; first = false) {
    // A service that keeps talking must not keep the wait open past its deadline.
    auto m = !first && left(deadline).count() == 0 ? Result<json>(fail(Errc::timeout, "deadline"))
                                                   : read_message(left(deadline));
    if (!m) {
      if (m.error().is(Errc::timeout))
        return fail(Errc::timeout, fmt::format("no {} reply within {:.1f} s", type, seconds(timeout_)));
      return m;
    }
    const auto t = message_type(*m);
    if (t == type) return m;
    if (t == "notification") {
      if (notifications_.size() >= kMaxQueued) {
        return fail(Errc::bad_reply,
                    fmt::format("more than {} notifications unasked for while waiting for {}", kMaxQueued, type));
      }
      notifications_.push_back(std::move(*m));
    }
    // `{}` pongs, broadcasts and anything unknown are not what is awaited.
  }
}

Result<json> PushClient::next_notification(Millis timeout) {
  if (!notifications_.empty()) {
    json n = std::move(notifications_.front());
    notifications_.pop_front();
    return n;
  }
  const auto saved = timeout_;
  timeout_ = timeout;
  auto n = await("notification");
  timeout_ = saved;
  return n;
}

Result<std::vector<json>> PushClient::drain_notifications(Millis quiet, std::size_t max, Millis overall) {
  std::vector<json> out;
  const SteadyTime deadline = std::chrono::steady_clock::now() + overall;
  while (out.size() < max && std::chrono::steady_clock::now() < deadline) {
    auto n = next_notification(quiet);
    if (!n) {
      if (n.error().is(Errc::timeout)) break;
      return tl::unexpected(n.error());
    }
    out.push_back(std::move(*n));
  }
  return out;
}

Result<json> PushClient::register_raw(const json& request) {
  if (auto sent = send(request); !sent) return tl::unexpected(sent.error());
  auto reply = await("register");
  if (reply && int_field(*reply, "status") == 200 && request.contains("channelID") &&
      request["channelID"].is_string()) {
    registered_.push_back(request["channelID"].get<std::string>());
  }
  return reply;
}

Result<Channel> PushClient::subscribe(const crypto::KeyPair* vapid) {
  Channel ch;
  ch.id = new_channel_id();
  json request = {{"messageType", "register"}, {"channelID", ch.id}};
  if (vapid != nullptr) request["key"] = base64url_encode(vapid->public_bytes());
  auto reply = register_raw(request);
  if (!reply) return tl::unexpected(reply.error().with_context("register"));
  const auto endpoint = reply->find("pushEndpoint");
  if (int_field(*reply, "status") != 200 || endpoint == reply->end() || !endpoint->is_string() ||
      !parse_url(endpoint->get_ref<const std::string&>())) {
    return fail(Errc::bad_reply, "register reply " + shorten(reply->dump()));
  }
  ch.endpoint = endpoint->get<std::string>();
  ch.vapid_bound = vapid != nullptr;
  auto key = crypto::KeyPair::generate();
  auto auth = crypto::generate_auth_secret();
  if (!key || !auth) return fail(Errc::setup, "no randomness for the subscription's keys");
  ch.key = std::make_shared<const crypto::KeyPair>(std::move(*key));
  ch.auth = std::move(*auth);
  return ch;
}

Result<json> PushClient::unregister(const std::string& channel_id) {
  if (auto sent = send({{"messageType", "unregister"}, {"channelID", channel_id}}); !sent) {
    return tl::unexpected(sent.error());
  }
  std::erase(registered_, channel_id);
  return await("unregister");
}

Result<void> PushClient::ack(const json& notification, int code) {
  json update = {{"channelID", text_field(notification, "channelID")},
                 {"version", text_field(notification, "version")},
                 {"code", code}};
  return send({{"messageType", "ack"}, {"updates", json::array({update})}});
}

Result<Bytes> PushClient::decrypt(const json& notification, const Channel& channel) {
  const auto data = notification.find("data");
  if (data == notification.end()) return Bytes{};
  if (!data->is_string()) return fail(Errc::bad_reply, "data is not a string");
  auto body = base64url_decode(data->get_ref<const std::string&>());
  if (!body) return fail(Errc::bad_reply, "data is not base64url: " + body.error().message());
  const auto found = notification.find("headers");
  const json headers = found != notification.end() ? *found : json::object();
  if (!headers.is_object()) return fail(Errc::bad_reply, "headers is not an object");
  const std::string encoding = text_field(headers, "encoding");
  const std::string encryption = text_field(headers, "encryption");
  const std::string crypto_key = text_field(headers, "crypto_key");
  crypto::PushPayload payload{encoding, encryption, crypto_key, *body};
  return crypto::decrypt_push(payload, crypto::ReceiverKeys{*channel.key, channel.auth});
}

Result<void> PushClient::reconnect_for_cleanup() {
  auto ws = WsProbe::open(url_, options_);
  if (!ws) return tl::unexpected(ws.error());
  ws_ = std::move(*ws);
  if (auto sent = send({{"messageType", "hello"}, {"uaid", uaid_}, {"use_webpush", true}}); !sent) return sent;
  auto reply = await("hello");
  if (!reply) return tl::unexpected(reply.error());
  if (text_field(*reply, "uaid") != uaid_) registered_.clear();  // the service dropped the uaid and its channels
  return {};
}

void PushClient::cleanup() {
  if (cleaned_) return;
  cleaned_ = true;
  if (!registered_.empty() && ws_->ended()) {
    if (auto again = reconnect_for_cleanup(); !again) registered_.clear();  // nothing more can be done
  }
  while (!registered_.empty() && !ws_->ended()) {
    const std::string id = registered_.back();
    auto reply = unregister(id);
    if (!reply) break;
  }
  ws_->close();
}

}  // namespace webpush::conformance
