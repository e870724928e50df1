#include "webpush/service/push_service.h"
#include "webpush/event/trace.h"

#include <algorithm>
#include <type_traits>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "webpush/core/base64url.h"
#include "webpush/core/url.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/vapid.h"
#include "webpush/service/http_rules.h"

namespace webpush::service {

namespace {

constexpr std::size_t kUaidBytes = 16;
constexpr std::size_t kTokenBytes = 32;      // 256 bits of secret per endpoint
constexpr std::size_t kMessageIdBytes = 24;  // 192 bits: unguessable, 32 base64url characters
constexpr std::size_t kMessageIdChars = 32;

// The hyphenated lower-case form of a UUID the codec accepted (hyphenated or 32 hex digits).
std::string canonical_uuid(std::string_view id) {
  std::string out;
  if (id.size() == 32) {
    out.reserve(36);
    for (std::size_t i = 0; i < id.size(); ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) out += '-';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(id[i])));
    }
    return out;
  }
  out.assign(id);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_message_id(std::string_view id) {
  if (id.size() != kMessageIdChars) return false;
  auto bytes = base64url_decode(id);
  return bytes && bytes->size() == kMessageIdBytes;
}

// A v2 endpoint requires VAPID, with the key the subscription was created with.
std::optional<ApiError> check_v2_vapid(const std::optional<crypto::VapidCredentials>& vapid,
                                       const ChannelRecord& channel) {
  if (!vapid) return ApiError{401, 109, "Missing VAPID public key: this endpoint requires VAPID"};
  if (vapid->key != *channel.key) {
    return ApiError{401, 109, "VAPID public key mismatch: not the key the subscription was created with"};
  }
  return std::nullopt;
}

// The subscription must still exist: registered, and its user known.
std::optional<ApiError> check_subscription(ServiceStore& store, const ChannelRecord& channel) {
  if (!channel.registered) return ApiError{410, 106, "No such subscription"};
  auto user = store.has_user(channel.uaid);
  if (!user) return ApiError{500, std::nullopt, "An internal error occurred"};
  if (!*user) return ApiError{410, 106, "No such subscription"};
  return std::nullopt;
}

// Fault::vapid_ignore_signature: the claims of a token whose signature did not
// verify, checked as vapid_verify checks them (exp in the next 24 h, aud).
std::optional<ApiError> check_unsigned_claims(std::string_view jwt, const crypto::VapidExpectations& expect) {
  const auto dot1 = jwt.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  auto decoded = base64url_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!decoded) return ApiError{401, 109, "vapid: JWT claims are not base64url"};
  const auto claims = nlohmann::json::parse(decoded->begin(), decoded->end(), nullptr, false);
  if (!claims.is_object() || !claims.contains("aud") || !claims["aud"].is_string() || !claims.contains("exp") ||
      !claims["exp"].is_number_integer()) {
    return ApiError{401, 109, "vapid: JWT has no aud or exp claim"};
  }
  const auto exp = claims["exp"].get<std::int64_t>();
  if (exp <= expect.now || exp > expect.now + crypto::kVapidMaxLifetime) {
    return ApiError{401, 109, "vapid: JWT exp is not within the next 24 h"};
  }
  if (claims["aud"].get<std::string>() != expect.audience) return ApiError{401, 109, "vapid: JWT aud is wrong"};
  return std::nullopt;
}

std::optional<ApiError> verify_push_vapid(const crypto::VapidCredentials& vapid, const ChannelRecord& channel,
                                          const std::string& audience, std::int64_t now_ms, bool ignore_signature) {
  crypto::VapidExpectations expect;
  expect.audience = audience;
  expect.now = now_ms / 1000;
  if (channel.key) expect.registered_key = ByteView(*channel.key);
  if (auto ok = crypto::vapid_verify(vapid, expect); !ok) {
    // Fault for check-service's tests: a bad signature passes (key, key binding
    // and header were checked before it; the claims are checked here).
    if (ignore_signature && ok.error().is(crypto::Errc::bad_signature)) return check_unsigned_claims(vapid.jwt, expect);
    return ApiError{401, 109, ok.error().message()};
  }
  return std::nullopt;
}

// Fault::corrupt_data: the data with one byte in the middle of its ciphertext
// flipped (after aes128gcm's header: salt, rs, idlen, keyid), so that it no
// longer decrypts (the AES-GCM tag fails).
std::string flip_middle_byte(const std::string& data, std::string_view encoding) {
  auto bytes = base64url_decode(data);
  if (!bytes || bytes->empty()) return data;
  std::size_t header = 0;
  if (encoding == "aes128gcm" && bytes->size() > 21) {
    header = std::min(bytes->size() - 1, 21 + std::size_t{(*bytes)[20]});
  }
  (*bytes)[header + (bytes->size() - header) / 2] ^= 0x01;
  return base64url_encode(*bytes);
}

// The message a push carries: the body, then the headers, checked; a fresh message id.
ApiResult<StoredMessage> make_message(const HttpRequest& request, const ChannelRecord& channel,
                                      std::size_t max_data_bytes, std::int64_t now_ms) {
  auto meta = validate_push_request(request.headers, request.body_size, max_data_bytes, kMaxTtlSeconds);
  if (!meta) return tl::unexpected(std::move(meta.error()));
  const bool has_body = request.body_size > 0;

  auto random = crypto::random_bytes(kMessageIdBytes);
  if (!random) return tl::unexpected(ApiError{500, std::nullopt, "An internal error occurred"});
  StoredMessage m;
  m.id = base64url_encode(*random);
  m.uaid = channel.uaid;
  m.channel_id = channel.channel_id;
  m.topic = meta->topic;
  m.received_ms = now_ms;
  m.ttl = meta->ttl;
  if (has_body) {
    m.data = base64url_encode(as_bytes(request.body));
    m.encoding = meta->encoding;
    m.encryption = meta->encryption;
    m.crypto_key = meta->crypto_key;
  }
  return m;
}

// 201 Created, the message's URL in Location.
HttpResponse created_response(const std::string& public_url, const StoredMessage& m) {
  HttpResponse r;
  r.status = 201;
  r.headers.emplace_back("Location", public_url + "/m/" + m.id);
  r.headers.emplace_back("TTL", std::to_string(m.ttl));
  r.content_type.clear();
  return r;
}

}  // namespace

class PushService::Session {
 public:
  explicit Session(WsPeer& p) : peer(&p) {}

  enum class State { unidentified, identified, closing };

  // One notification that has been sent on this connection and not yet acked.
  struct Unacked {
    std::string channel_id;
    std::string version;
    bool stored = false;  // a copy is in the store (TTL > 0): delete it on ack
  };

  WsPeer* peer;
  State state = State::unidentified;
  std::string uaid;
  bool user_stored = false;  // ARS "deferred user creation": a new uaid is stored at its first register
  std::optional<std::int64_t> last_ping_ms;
  std::vector<Unacked> unacked_direct;  // live messages sent on this connection
  std::vector<Unacked> unacked_stored;  // the current batch from storage
  bool check_storage = false;           // a flush is in progress
  std::size_t sent_from_storage = 0;
  std::map<std::string, std::string> broadcast_subs;  // id → version the client last saw
};

PushService::PushService(ServiceConfig config, std::string public_url, ServiceStore& store, const Clock& clock)
    : config_(std::move(config)), public_url_(std::move(public_url)), store_(store), clock_(clock) {
  log_ = spdlog::get("service");
  if (!log_) log_ = spdlog::default_logger();
  if (auto url = parse_url(public_url_)) {
    audience_ = url->origin();
    path_prefix_ = url->path == "/" ? "" : url->path;
    while (!path_prefix_.empty() && path_prefix_.back() == '/') path_prefix_.pop_back();
  } else {
    audience_ = public_url_;
  }
}

PushService::~PushService() = default;

// ---- WebSocket ----------------------------------------------------------------------

PushService::Session* PushService::ws_open(WsPeer& peer) {
  auto session = std::make_unique<Session>(peer);
  Session* raw = session.get();
  sessions_.emplace(raw, std::move(session));
  ++stats_.connections;
  ++stats_.connections_total;
  return raw;
}

void PushService::ws_closed(Session* session) {
  const auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  if (!session->uaid.empty()) {
    const auto u = by_uaid_.find(session->uaid);
    if (u != by_uaid_.end() && u->second == session) by_uaid_.erase(u);
  }
  // Unacked messages with TTL > 0 are still in the store: the next session gets them.
  sessions_.erase(it);
  --stats_.connections;
}

void PushService::ws_fail(Session* session, int code, std::string_view reason) {
  log_->debug("ws: {} closing {} ({})", session->uaid.empty() ? "unidentified" : session->uaid, code, reason);
  close_session(*session, code, reason);
}

void PushService::ws_binary(Session* session) {
  if (session->state == Session::State::closing) return;
  log_->debug("ws: binary frame, closing 1003");
  close_session(*session, kCloseUnsupported, "UnsupportedMessage");
}

void PushService::ws_text(Session* session, std::string_view frame) {
  Session& s = *session;
  if (s.state == Session::State::closing) return;
  auto parsed = protocol::parse_client_message(frame);
  if (!parsed) {
    log_->debug("ws: {} closing 1011 ({})", s.uaid.empty() ? "unidentified" : s.uaid, parsed.error().to_string());
    close_session(s, kCloseServerError, "Json");
    return;
  }
  if (s.state == Session::State::unidentified) {
    if (const auto* hello = std::get_if<protocol::Hello>(&*parsed)) {
      on_hello(s, *hello);
    } else {
      log_->debug("ws: first message is not a hello, closing 1011");
      close_session(s, kCloseServerError, "SM");
    }
    return;
  }
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, protocol::Hello>) {
          log_->debug("ws: {} sent a second hello, closing 1011", s.uaid);
          close_session(s, kCloseServerError, "SM");
        } else if constexpr (std::is_same_v<T, protocol::Register>) {
          on_register(s, m);
        } else if constexpr (std::is_same_v<T, protocol::Unregister>) {
          on_unregister(s, m);
        } else if constexpr (std::is_same_v<T, protocol::Ack>) {
          on_ack(s, m);
        } else if constexpr (std::is_same_v<T, protocol::Nack>) {
          ++stats_.messages_nacked;
          log_->debug("ws: {} nack {} code {}", s.uaid, m.version, m.code);
        } else if constexpr (std::is_same_v<T, protocol::Ping>) {
          on_ping(s);
        } else if constexpr (std::is_same_v<T, protocol::BroadcastSubscribe>) {
          on_broadcast_subscribe(s, m);
        }
      },
      *parsed);
}

void PushService::on_hello(Session& s, const protocol::Hello& hello) {
  std::string uaid;
  bool existing = false;
  if (hello.uaid && protocol::is_simple_uaid(*hello.uaid)) {
    auto has = store_.has_user(*hello.uaid);
    if (!has) return store_failed(s, has.error());
    existing = *has;
    if (existing) uaid = *hello.uaid;
  }
  if (!existing) {
    auto random = crypto::random_bytes(kUaidBytes);
    if (!random) return store_failed(s, random.error());
    uaid = to_hex(*random);
  }

  // One connection per uaid: the newer one wins, the older is "ghosted".
  if (const auto it = by_uaid_.find(uaid); it != by_uaid_.end()) {
    log_->info("ws: {} connected again, closing the older connection", uaid);
    close_session(*it->second, kCloseServerError, "SM");
  }
  s.uaid = uaid;
  s.user_stored = existing;
  s.state = Session::State::identified;
  by_uaid_[uaid] = &s;
  ++stats_.hellos;
  s.peer->identified();

  protocol::HelloReply reply;
  reply.uaid = uaid;
  // Fault for check-service's tests: a new uaid in the dashed UUID form.
  if (config_.has(Fault::uaid_dashed) && !existing) reply.uaid = canonical_uuid(uaid);
  for (const auto& [id, version] : hello.broadcasts) {
    const auto known = config_.broadcasts.find(id);
    if (known == config_.broadcasts.end()) continue;
    s.broadcast_subs[id] = known->second;
    if (known->second != version) reply.broadcasts[id] = known->second;
  }
  log_->debug("ws: hello {} ({})", uaid, existing ? "existing" : "new");
  send(s, reply);
  if (existing) {
    s.check_storage = true;
    check_storage(s);
  }
}

void PushService::on_register(Session& s, const protocol::Register& reg) {
  protocol::RegisterReply reply;
  reply.channel_id = reg.channel_id;
  if (!s.user_stored) {
    if (auto added = store_.add_user(s.uaid, clock_.now().wall_ms); !added) {
      log_->error("register: storing uaid {}: {}", s.uaid, added.error().to_string());
      reply.status = 500;
      return send(s, reply);
    }
    s.user_stored = true;
  }
  std::optional<Bytes> key;
  if (reg.key) {
    // ARS strips trailing '=' and decodes URL-safe base64 without padding.
    std::string_view text = *reg.key;
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    auto decoded = base64url_decode(text);
    if (!decoded) {
      log_->debug("register: {} sent an undecodable key: {}", s.uaid, decoded.error().message());
      reply.status = 400;
      reply.push_endpoint = "Failed to generate endpoint";
      return send(s, reply);
    }
    key = std::move(*decoded);
  }

  std::string token;
  auto existing = store_.registered_channel(s.uaid, reg.channel_id);
  if (!existing) {
    log_->error("register: {}", existing.error().to_string());
    reply.status = 500;
    return send(s, reply);
  }
  if (*existing && (*existing)->key == key) {
    token = (*existing)->token;  // registering again is idempotent
  } else {
    auto random = crypto::random_bytes(kTokenBytes);
    if (!random) {
      reply.status = 500;
      return send(s, reply);
    }
    token = base64url_encode(*random);
    ChannelRecord record{token, s.uaid, reg.channel_id, key, true, clock_.now().wall_ms};
    if (auto added = store_.add_channel(record); !added) {
      log_->error("register: {}", added.error().to_string());
      reply.status = 500;
      return send(s, reply);
    }
  }
  reply.status = 200;
  reply.push_endpoint = public_url_ + (key ? "/wpush/v2/" : "/wpush/v1/") + token;
  ++stats_.registrations;
  log_->debug("ws: {} registered {}", s.uaid, reg.channel_id);
  send(s, reply);
}

void PushService::on_unregister(Session& s, const protocol::Unregister& unreg) {
  protocol::UnregisterReply reply;
  reply.channel_id = canonical_uuid(unreg.channel_id);
  reply.status = 200;
  // Fault for check-service's tests: answer 200 and keep the channel.
  if (config_.has(Fault::keep_unregistered)) return send(s, reply);
  if (s.user_stored) {
    if (auto done = store_.unregister_channel(s.uaid, reply.channel_id); !done) {
      log_->error("unregister: {}", done.error().to_string());
      reply.status = 500;
    }
  }
  if (reply.status == 200) ++stats_.unregistrations;
  send(s, reply);
}

void PushService::on_ack(Session& s, const protocol::Ack& ack) {
  for (const auto& u : ack.updates) {
    const std::string chid = canonical_uuid(u.channel_id);
    const auto match = [&](const Session::Unacked& n) { return n.channel_id == chid && n.version == u.version; };
    std::optional<Session::Unacked> found;
    if (auto it = std::find_if(s.unacked_direct.begin(), s.unacked_direct.end(), match); it != s.unacked_direct.end()) {
      found = std::move(*it);
      s.unacked_direct.erase(it);
    } else if (auto st = std::find_if(s.unacked_stored.begin(), s.unacked_stored.end(), match);
               st != s.unacked_stored.end()) {
      found = std::move(*st);
      s.unacked_stored.erase(st);
    }
    if (!found) continue;  // acks are connection-scoped: unknown versions are ignored
    ++stats_.messages_acked;
    if (found->stored) {
      if (auto del = store_.delete_message(found->version); !del) return store_failed(s, del.error());
    }
  }
  if (s.unacked_direct.empty() && s.unacked_stored.empty() && s.check_storage) check_storage(s);
}

void PushService::on_ping(Session& s) {
  // Fault for check-service's tests: the ping is ignored, the connection stays open.
  if (config_.has(Fault::no_ping_reply)) return;
  const std::int64_t now = clock_.now().wall_ms;
  if (s.last_ping_ms && now - *s.last_ping_ms < config_.min_client_ping.count()) {
    log_->debug("ws: {} pings too often, closing 1011", s.uaid);
    return close_session(s, kCloseServerError, "SM");
  }
  s.last_ping_ms = now;
  send(s, protocol::Pong{});
}

void PushService::on_broadcast_subscribe(Session& s, const protocol::BroadcastSubscribe& sub) {
  protocol::BroadcastMessage reply;
  for (const auto& [id, version] : sub.broadcasts) {
    const auto known = config_.broadcasts.find(id);
    if (known == config_.broadcasts.end()) continue;
    s.broadcast_subs[id] = known->second;
    if (known->second != version) reply.broadcasts[id] = known->second;
  }
  if (!reply.broadcasts.empty()) send(s, reply);
}

void PushService::check_storage(Session& s) {
  if (s.state != Session::State::identified) return;
  const std::int64_t now = clock_.now().wall_ms;
  auto purged = store_.purge_expired(now, s.uaid);
  if (!purged) return store_failed(s, purged.error());
  stats_.messages_expired += static_cast<std::int64_t>(*purged);

  std::vector<std::string> exclude;
  for (const auto& n : s.unacked_direct) exclude.push_back(n.version);
  auto batch = store_.pending_messages(s.uaid, now, kFlushBatch, exclude);
  if (!batch) return store_failed(s, batch.error());
  if (batch->empty()) {
    s.check_storage = false;
    s.sent_from_storage = 0;
    return;
  }
  // As ARS check_msg_limit: counted before the batch is sent; past the limit the
  // user is dropped and the batch never goes out.
  s.sent_from_storage += batch->size();
  if (s.sent_from_storage > config_.msg_limit) {
    log_->info("ws: {} exceeded the stored-message limit ({}), dropping the uaid", s.uaid, config_.msg_limit);
    if (auto dropped = store_.drop_user(s.uaid); !dropped) return store_failed(s, dropped.error());
    ++stats_.uaid_resets;
    return close_session(s, kCloseNormal, "SM");
  }
  for (const auto& m : *batch) {
    s.unacked_stored.push_back(Session::Unacked{m.channel_id, m.id, true});
    deliver(s, m);
  }
}

void PushService::deliver(Session& s, const StoredMessage& m) {
  protocol::Notification n;
  n.channel_id = m.channel_id;
  n.version = m.id;
  if (m.data) {
    n.data = m.data;
    // Fault for check-service's tests: the ciphertext no longer decrypts.
    if (config_.has(Fault::corrupt_data)) n.data = flip_middle_byte(*m.data, m.encoding);
    n.headers = protocol::NotificationHeaders{m.encoding, m.encryption, m.crypto_key};
  }
  ++stats_.messages_delivered;
  send(s, n);
}

void PushService::send(Session& s, const protocol::ServerMessage& message) {
  if (s.state == Session::State::closing) return;
  try {
    s.peer->send_text(protocol::serialize(message));
  } catch (const std::exception& e) {
    // serialize() throws only for text that is not UTF-8, which validation keeps out.
    log_->error("ws: cannot serialize a message for {}: {}", s.uaid, e.what());
    close_session(s, kCloseServerError, "SM");
  }
}

void PushService::close_session(Session& s, int code, std::string_view reason) {
  if (s.state == Session::State::closing) return;
  s.state = Session::State::closing;
  if (!s.uaid.empty()) {
    const auto it = by_uaid_.find(s.uaid);
    if (it != by_uaid_.end() && it->second == &s) by_uaid_.erase(it);
  }
  s.peer->close(code, reason);
}

void PushService::store_failed(Session& s, const Error& error) {
  log_->error("ws: {}: {}", s.uaid.empty() ? "unidentified" : s.uaid, error.to_string());
  close_session(s, kCloseServerError, "SM");
}

// ---- HTTP -------------------------------------------------------------------------------

HttpResponse PushService::error_response(int status, std::optional<int> errnum, std::string message) {
  ++stats_.http_errors;
  HttpResponse r;
  r.status = status;
  if (status == 410) r.headers.emplace_back("Cache-Control", "max-age=86400");
  r.body = error_body(ApiError{status, errnum, std::move(message)});
  return r;
}

HttpResponse PushService::http(const HttpRequest& request) {
  std::string_view path = request.path;
  if (!path_prefix_.empty() && path.substr(0, path_prefix_.size()) == path_prefix_) {
    path.remove_prefix(path_prefix_.size());
  }
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (path == "/health") {
    if (!get) return error_response(405, std::nullopt, "Method Not Allowed");
    HttpResponse r;
    r.body = nlohmann::json{{"status", "OK"}, {"version", "webpushd"}}.dump();
    return r;
  }
  if (path == "/stats") {
    if (!get) return error_response(405, std::nullopt, "Method Not Allowed");
    return stats_response();
  }
  if (path.substr(0, 3) == "/m/") {
    if (request.method != "DELETE") return error_response(405, std::nullopt, "Method Not Allowed");
    return delete_message(path.substr(3));
  }
  if (path.substr(0, 7) == "/wpush/") {
    std::string_view rest = path.substr(7);
    bool v2 = false;
    if (rest.substr(0, 3) == "v1/") {
      rest.remove_prefix(3);
    } else if (rest.substr(0, 3) == "v2/") {
      rest.remove_prefix(3);
      v2 = true;
    }
    if (rest.empty() || rest.find('/') != std::string_view::npos) {
      return error_response(404, 102, "Invalid token");
    }
    if (request.method != "POST") return error_response(405, std::nullopt, "Method Not Allowed");
    return push(request, v2, rest);
  }
  return error_response(404, std::nullopt, "Not Found");
}

HttpResponse PushService::push(const HttpRequest& request, bool v2, std::string_view token) {
  const std::int64_t now = clock_.now().wall_ms;
  auto refuse = [this](ApiError e) { return error_response(e.status, e.errnum, std::move(e.message)); };
  // 1. The token (ARS: Fernet decryption, then the v1/v2 length check).
  auto found = store_.channel_by_token(token);
  if (!found) {
    log_->error("push: {}", found.error().to_string());
    return error_response(500, std::nullopt, "An internal error occurred");
  }
  if (!*found || (*found)->key.has_value() != v2) return error_response(404, 102, "Invalid token");
  const ChannelRecord& channel = **found;

  // 2. VAPID headers: parsed now, the JWT verified after the subscription check (as ARS).
  auto vapid =
      parse_push_vapid(header_value(request.headers, "authorization"), header_value(request.headers, "crypto-key"));
  if (!vapid) return refuse(std::move(vapid.error()));
  if (v2) {
    if (auto bad = check_v2_vapid(*vapid, channel)) return refuse(std::move(*bad));
  }

  // 3. The subscription must still exist.
  if (auto gone = check_subscription(store_, channel)) return refuse(std::move(*gone));
  if (*vapid) {
    const bool ignore_signature = config_.has(Fault::vapid_ignore_signature);
    if (auto bad = verify_push_vapid(**vapid, channel, audience_, now, ignore_signature)) {
      return refuse(std::move(*bad));
    }
  }

  // 4. The body, then the headers.
  auto message = make_message(request, channel, config_.max_data_bytes, now);
  if (!message) return refuse(std::move(message.error()));
  return accept_message(*message);
}

HttpResponse PushService::accept_message(const StoredMessage& m) {
  const auto session = by_uaid_.find(m.uaid);
  Session* connected = session == by_uaid_.end() ? nullptr : session->second;
  // A TTL of 0 is never stored: delivered only to a user agent connected now (RFC 8030 §5.2).
  const bool stored = m.ttl != 0;
  if (stored) {
    // Stored before the 201, so neither a disconnect nor a crash loses it.
    auto replaced = store_.put_message(m);
    if (!replaced) {
      log_->error("push: {}", replaced.error().to_string());
      return error_response(503, 201, "Service Unavailable: could not store the message");
    }
    if (*replaced) ++stats_.messages_replaced;
  }
  if (connected) {
    connected->unacked_direct.push_back(Session::Unacked{m.channel_id, m.id, stored});
    deliver(*connected, m);
  } else if (stored) {
    ++stats_.messages_stored;
  } else {
    ++stats_.messages_dropped;
  }
  ++stats_.messages_accepted;
  if (event::Trace::enabled()) {
    event::Trace::emit("push.accepted", fmt::format("id={} live={} stored={}", m.id, connected != nullptr, stored));
  }
  log_->debug("push: {} for {}/{} ttl {}{}", m.id, m.uaid, m.channel_id, m.ttl, connected ? " (live)" : "");
  return created_response(public_url_, m);
}

HttpResponse PushService::delete_message(std::string_view id) {
  if (!is_message_id(id)) return error_response(400, std::nullopt, "Invalid message ID");
  auto deleted = store_.delete_message(id);
  if (!deleted) {
    log_->error("delete: {}", deleted.error().to_string());
    return error_response(500, std::nullopt, "An internal error occurred");
  }
  // As ARS, deleting a message that is gone (delivered, expired) still answers 204.
  if (*deleted) ++stats_.messages_deleted;
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

HttpResponse PushService::stats_response() {
  nlohmann::json j = {
      {"connections", stats_.connections},
      {"connections_total", stats_.connections_total},
      {"hellos", stats_.hellos},
      {"registrations", stats_.registrations},
      {"unregistrations", stats_.unregistrations},
      {"messages_accepted", stats_.messages_accepted},
      {"messages_stored", stats_.messages_stored},
      {"messages_delivered", stats_.messages_delivered},
      {"messages_acked", stats_.messages_acked},
      {"messages_nacked", stats_.messages_nacked},
      {"messages_expired", stats_.messages_expired},
      {"messages_dropped", stats_.messages_dropped},
      {"messages_replaced", stats_.messages_replaced},
      {"messages_deleted", stats_.messages_deleted},
      {"uaid_resets", stats_.uaid_resets},
      {"http_errors", stats_.http_errors},
  };
  if (auto counts = store_.counts()) {
    j["store"] = {{"users", counts->users}, {"channels", counts->channels}, {"messages", counts->messages}};
  }
  HttpResponse r;
  r.body = j.dump();
  return r;
}

void PushService::purge_expired() {
  auto purged = store_.purge_expired(clock_.now().wall_ms);
  if (!purged) {
    log_->error("purge: {}", purged.error().to_string());
    return;
  }
  stats_.messages_expired += static_cast<std::int64_t>(*purged);
  if (*purged) log_->debug("purge: {} expired messages deleted", *purged);
}

}  // namespace webpush::service
