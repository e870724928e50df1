#include "webpush/protocol/messages.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "webpush/core/utf8.h"

namespace webpush::protocol {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::not_json: return "not_json";
    case Errc::missing_field: return "missing_field";
    case Errc::wrong_type: return "wrong_type";
    case Errc::invalid_value: return "invalid_value";
    case Errc::unknown_message_type: return "unknown_message_type";
  }
  return "unknown";
}

namespace {

using nlohmann::json;

// Text from the network is echoed only as a short printable prefix.
std::string printable(std::string_view s, std::size_t max = 40) { return printable_prefix(s, max); }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Result<json> parse_object(std::string_view frame) {
  json j = json::parse(frame.begin(), frame.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(Errc::not_json, fmt::format("frame is not JSON: '{}'", printable(frame)));
  if (!j.is_object()) return fail(Errc::not_json, fmt::format("frame is not a JSON object: '{}'", printable(frame)));
  return j;
}

// Field accessors that never throw and name the field in their errors.
Result<std::string> get_string(const json& j, std::string_view type, const char* field) {
  const auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    return fail(Errc::missing_field, fmt::format("{}: missing field '{}'", type, field));
  }
  if (!it->is_string()) return fail(Errc::wrong_type, fmt::format("{}: field '{}' is not a string", type, field));
  return it->get<std::string>();
}

Result<std::optional<std::string>> get_optional_string(const json& j, std::string_view type, const char* field) {
  const auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) return fail(Errc::wrong_type, fmt::format("{}: field '{}' is not a string", type, field));
  return std::optional<std::string>(it->get<std::string>());
}

Result<int> get_int(const json& j, std::string_view type, const char* field) {
  const auto it = j.find(field);
  if (it == j.end() || it->is_null()) {
    return fail(Errc::missing_field, fmt::format("{}: missing field '{}'", type, field));
  }
  if (!it->is_number_integer()) {
    return fail(Errc::wrong_type, fmt::format("{}: field '{}' is not an integer", type, field));
  }
  const auto v = it->get<std::int64_t>();
  if (v < -1'000'000 || v > 1'000'000) {
    return fail(Errc::invalid_value, fmt::format("{}: field '{}' is out of range", type, field));
  }
  return static_cast<int>(v);
}

// Broadcast maps: string → string. ARS rejects non-string values; the client side
// drops the nested "errors" object ARS may add.
Result<Broadcasts> get_broadcasts(const json& j, std::string_view type, bool strict) {
  Broadcasts out;
  const auto it = j.find("broadcasts");
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) return fail(Errc::wrong_type, fmt::format("{}: field 'broadcasts' is not an object", type));
  for (const auto& [key, value] : it->items()) {
    if (value.is_string()) {
      out.emplace(key, value.get<std::string>());
    } else if (strict) {
      return fail(Errc::wrong_type, fmt::format("{}: broadcast '{}' has a non-string version", type, printable(key)));
    }
  }
  return out;
}

Result<std::string> get_uuid(const json& j, std::string_view type, const char* field, bool canonical) {
  auto s = get_string(j, type, field);
  if (!s) return s;
  if (canonical ? !is_canonical_uuid(*s) : !is_any_uuid(*s)) {
    return fail(Errc::invalid_value,
                fmt::format("{}: '{}' is not a {}UUID", type, field, canonical ? "lower-case hyphenated " : ""));
  }
  return s;
}

// Ping is `{}`; {"messageType":"ping"} is accepted too.
bool is_ping(const json& j) {
  if (j.empty()) return true;
  const auto it = j.find("messageType");
  return it != j.end() && it->is_string() && lower(it->get<std::string>()) == "ping";
}

Result<ServerMessage> parse_notification(const json& j) {
  constexpr std::string_view t = "notification";
  Notification n;
  auto chid = get_string(j, t, "channelID");
  if (!chid) return tl::unexpected(chid.error());
  auto version = get_string(j, t, "version");
  if (!version) return tl::unexpected(version.error());
  auto data = get_optional_string(j, t, "data");
  if (!data) return tl::unexpected(data.error());
  n.channel_id = lower(*chid);
  n.version = std::move(*version);
  n.data = std::move(*data);
  const auto h = j.find("headers");
  if (h != j.end() && !h->is_null()) {
    if (!h->is_object()) return fail(Errc::wrong_type, "notification: field 'headers' is not an object");
    NotificationHeaders headers;
    for (const auto& [name, field] :
         {std::pair{"encoding", &headers.encoding}, std::pair{"encryption", &headers.encryption},
          std::pair{"crypto_key", &headers.crypto_key}}) {
      auto v = get_optional_string(*h, "notification headers", name);
      if (!v) return tl::unexpected(v.error());
      if (*v) *field = std::move(**v);
    }
    n.headers = std::move(headers);
  }
  return n;
}

}  // namespace

Result<ServerMessage> parse_server_message(std::string_view frame) {
  auto parsed = parse_object(frame);
  if (!parsed) return tl::unexpected(parsed.error());
  const json& j = *parsed;
  if (j.empty()) return Pong{};
  const auto mt = j.find("messageType");
  // Firefox treats a frame without a string messageType as a pong.
  if (mt == j.end() || !mt->is_string()) return Pong{};
  const std::string type = lower(mt->get<std::string>());

  if (type == "hello") {
    HelloReply r;
    auto uaid = get_string(j, type, "uaid");
    if (!uaid) return tl::unexpected(uaid.error());
    if (uaid->empty() || uaid->size() > 128) {
      return fail(Errc::invalid_value, fmt::format("hello: uaid of {} characters (expected 1 to 128)", uaid->size()));
    }
    r.uaid = std::move(*uaid);
    const auto st = j.find("status");
    if (st != j.end() && st->is_number_integer()) r.status = static_cast<int>(st->get<std::int64_t>());
    const auto wp = j.find("use_webpush");
    r.use_webpush = wp != j.end() && wp->is_boolean() && wp->get<bool>();
    auto b = get_broadcasts(j, type, false);
    if (!b) return tl::unexpected(b.error());
    r.broadcasts = std::move(*b);
    return r;
  }
  if (type == "register") {
    RegisterReply r;
    auto chid = get_string(j, type, "channelID");
    if (!chid) return tl::unexpected(chid.error());
    auto status = get_int(j, type, "status");
    if (!status) return tl::unexpected(status.error());
    auto endpoint = get_optional_string(j, type, "pushEndpoint");
    if (!endpoint) return tl::unexpected(endpoint.error());
    r.channel_id = lower(*chid);
    r.status = *status;
    r.push_endpoint = endpoint->value_or("");
    return r;
  }
  if (type == "unregister") {
    UnregisterReply r;
    auto chid = get_string(j, type, "channelID");
    if (!chid) return tl::unexpected(chid.error());
    auto status = get_int(j, type, "status");
    if (!status) return tl::unexpected(status.error());
    r.channel_id = lower(*chid);
    r.status = *status;
    return r;
  }
  if (type == "notification") return parse_notification(j);
  if (type == "broadcast") {
    auto b = get_broadcasts(j, type, false);
    if (!b) return tl::unexpected(b.error());
    return BroadcastMessage{std::move(*b)};
  }
  if (type == "ping") return Pong{};
  return UnknownMessage{printable(type, 64)};
}

namespace {

// Legacy field: ignored, but every element must be a UUID (autopush closes otherwise).
Result<void> check_legacy_channel_ids(const json& j) {
  const auto ids = j.find("channelIDs");
  if (ids == j.end() || ids->is_null()) return {};
  if (!ids->is_array()) return fail(Errc::wrong_type, "hello: field 'channelIDs' is not an array");
  for (const auto& id : *ids) {
    if (!id.is_string() || !is_any_uuid(id.get<std::string>())) {
      return fail(Errc::invalid_value, "hello: 'channelIDs' holds a value that is not a UUID");
    }
  }
  return {};
}

Result<ClientMessage> parse_hello(const json& j, const std::string& type) {
  Hello h;
  auto uaid = get_optional_string(j, type, "uaid");
  if (!uaid) return tl::unexpected(uaid.error());
  h.uaid = std::move(*uaid);
  if (auto ids = check_legacy_channel_ids(j); !ids) return tl::unexpected(ids.error());
  auto b = get_broadcasts(j, type, true);
  if (!b) return tl::unexpected(b.error());
  h.broadcasts = std::move(*b);
  return h;
}

Result<ClientMessage> parse_register(const json& j, const std::string& type) {
  Register r;
  auto chid = get_uuid(j, type, "channelID", /*canonical=*/true);
  if (!chid) return tl::unexpected(chid.error());
  auto key = get_optional_string(j, type, "key");
  if (!key) return tl::unexpected(key.error());
  r.channel_id = std::move(*chid);
  r.key = std::move(*key);
  return r;
}

Result<ClientMessage> parse_unregister(const json& j, const std::string& type) {
  Unregister u;
  auto chid = get_uuid(j, type, "channelID", /*canonical=*/false);
  if (!chid) return tl::unexpected(chid.error());
  u.channel_id = lower(*chid);
  const auto code = j.find("code");
  if (code != j.end() && !code->is_null()) {
    if (!code->is_number_integer()) return fail(Errc::wrong_type, "unregister: field 'code' is not an integer");
    u.code = static_cast<int>(code->get<std::int64_t>());
  }
  return u;
}

// One element of an ack's 'updates'.
Result<AckUpdate> parse_ack_update(const json& u) {
  if (!u.is_object()) return fail(Errc::wrong_type, "ack: an update is not an object");
  auto chid = get_uuid(u, "ack", "channelID", /*canonical=*/false);
  if (!chid) return tl::unexpected(chid.error());
  auto version = get_string(u, "ack", "version");
  if (!version) return tl::unexpected(version.error());
  int code = static_cast<int>(AckCode::delivered);
  const auto c = u.find("code");
  if (c != u.end() && c->is_number_integer()) code = static_cast<int>(c->get<std::int64_t>());
  return AckUpdate{lower(*chid), std::move(*version), code};
}

Result<ClientMessage> parse_ack(const json& j) {
  Ack a;
  const auto updates = j.find("updates");
  if (updates == j.end() || updates->is_null()) return fail(Errc::missing_field, "ack: missing field 'updates'");
  if (!updates->is_array()) return fail(Errc::wrong_type, "ack: field 'updates' is not an array");
  for (const auto& u : *updates) {
    auto update = parse_ack_update(u);
    if (!update) return tl::unexpected(update.error());
    a.updates.push_back(std::move(*update));
  }
  return a;
}

Result<ClientMessage> parse_nack(const json& j, const std::string& type) {
  Nack n;
  auto version = get_string(j, type, "version");
  if (!version) return tl::unexpected(version.error());
  n.version = std::move(*version);
  const auto c = j.find("code");
  if (c != j.end() && c->is_number_integer()) n.code = static_cast<int>(c->get<std::int64_t>());
  return n;
}

Result<ClientMessage> parse_broadcast_subscribe(const json& j, const std::string& type) {
  auto b = get_broadcasts(j, type, true);
  if (!b) return tl::unexpected(b.error());
  return BroadcastSubscribe{std::move(*b)};
}

}  // namespace

Result<ClientMessage> parse_client_message(std::string_view frame) {
  auto parsed = parse_object(frame);
  if (!parsed) return tl::unexpected(parsed.error());
  const json& j = *parsed;
  if (is_ping(j)) return Ping{};
  const auto mt = j.find("messageType");
  if (mt == j.end()) return fail(Errc::missing_field, "message has no 'messageType'");
  if (!mt->is_string()) return fail(Errc::wrong_type, "'messageType' is not a string");
  // autopush matches the type exactly (serde tag): no case folding here.
  const std::string type = mt->get<std::string>();

  if (type == "hello") return parse_hello(j, type);
  if (type == "register") return parse_register(j, type);
  if (type == "unregister") return parse_unregister(j, type);
  if (type == "ack") return parse_ack(j);
  if (type == "nack") return parse_nack(j, type);
  if (type == "broadcast_subscribe") return parse_broadcast_subscribe(j, type);
  return fail(Errc::unknown_message_type, fmt::format("unknown messageType '{}'", printable(type)));
}

namespace {

struct ClientSerializer {
  std::string operator()(const Hello& h) const {
    json j = {{"messageType", "hello"}, {"use_webpush", true}};
    if (h.uaid) j["uaid"] = *h.uaid;
    j["broadcasts"] = h.broadcasts;
    return j.dump();
  }
  std::string operator()(const Register& r) const {
    json j = {{"messageType", "register"}, {"channelID", r.channel_id}};
    if (r.key) j["key"] = *r.key;
    return j.dump();
  }
  std::string operator()(const Unregister& u) const {
    json j = {{"messageType", "unregister"}, {"channelID", u.channel_id}};
    if (u.code) j["code"] = *u.code;
    return j.dump();
  }
  std::string operator()(const Ack& a) const {
    json updates = json::array();
    for (const auto& u : a.updates) {
      updates.push_back({{"channelID", u.channel_id}, {"version", u.version}, {"code", u.code}});
    }
    return json{{"messageType", "ack"}, {"updates", std::move(updates)}}.dump();
  }
  std::string operator()(const Nack& n) const {
    return json{{"messageType", "nack"}, {"version", n.version}, {"code", n.code}}.dump();
  }
  std::string operator()(const Ping&) const { return "{}"; }
  std::string operator()(const BroadcastSubscribe& b) const {
    return json{{"messageType", "broadcast_subscribe"}, {"broadcasts", b.broadcasts}}.dump();
  }
};

struct ServerSerializer {
  std::string operator()(const HelloReply& h) const {
    return json{{"messageType", "hello"},
                {"uaid", h.uaid},
                {"status", h.status},
                {"use_webpush", h.use_webpush},
                {"broadcasts", h.broadcasts}}
        .dump();
  }
  std::string operator()(const RegisterReply& r) const {
    return json{{"messageType", "register"},
                {"channelID", r.channel_id},
                {"status", r.status},
                {"pushEndpoint", r.push_endpoint}}
        .dump();
  }
  std::string operator()(const UnregisterReply& u) const {
    return json{{"messageType", "unregister"}, {"channelID", u.channel_id}, {"status", u.status}}.dump();
  }
  std::string operator()(const Notification& n) const {
    json j = {{"messageType", "notification"}, {"channelID", n.channel_id}, {"version", n.version}};
    if (n.data) j["data"] = *n.data;
    if (n.headers) {
      json h = json::object();
      if (!n.headers->encoding.empty()) h["encoding"] = n.headers->encoding;
      if (!n.headers->encryption.empty()) h["encryption"] = n.headers->encryption;
      if (!n.headers->crypto_key.empty()) h["crypto_key"] = n.headers->crypto_key;
      j["headers"] = std::move(h);
    }
    return j.dump();
  }
  std::string operator()(const BroadcastMessage& b) const {
    return json{{"messageType", "broadcast"}, {"broadcasts", b.broadcasts}}.dump();
  }
  std::string operator()(const Pong&) const { return "{}"; }
  std::string operator()(const UnknownMessage& u) const { return json{{"messageType", u.message_type}}.dump(); }
};

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool hyphenated(std::string_view s, bool (*digit)(char)) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !digit(s[i])) return false;
  }
  return true;
}

}  // namespace

std::string serialize(const ClientMessage& message) { return std::visit(ClientSerializer{}, message); }
std::string serialize(const ServerMessage& message) { return std::visit(ServerSerializer{}, message); }

bool is_canonical_uuid(std::string_view s) noexcept { return hyphenated(s, is_lower_hex); }

bool is_any_uuid(std::string_view s) noexcept {
  if (s.size() == 32) return std::all_of(s.begin(), s.end(), is_hex);
  return hyphenated(s, is_hex);
}

std::string uuid_v4(const std::array<std::uint8_t, 16>& random) noexcept {
  std::array<std::uint8_t, 16> b = random;
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 15];
  }
  return out;
}

bool is_simple_uaid(std::string_view s) noexcept {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), is_lower_hex);
}

}  // namespace webpush::protocol
