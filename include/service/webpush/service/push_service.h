// The embedded push service's logic, independent of the socket library: the
// autopush WebSocket protocol seen from the server (docs/protocol.md §1) and the
// RFC 8030 interface for application servers (§5). The libwebsockets adapter
// (server.h) turns socket events into calls on PushService and implements
// WsPeer for each WebSocket.
//
//   user agent  --text frame-->  Server --ws_text()--> PushService --send_text()--> WsPeer
//   app server  --POST------->   Server --http()----> PushService --send_text()--> WsPeer of the uaid
//
// State lives in a ServiceStore; a message with TTL > 0 is stored before the 201
// is sent, sent at once if its user agent is connected, and deleted when acked.
//
// Thread: loop thread only. Nothing here throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/protocol/messages.h"
#include "webpush/service/config.h"
#include "webpush/service/store.h"

namespace spdlog {
class logger;
}

namespace webpush::service {

/// WebSocket close codes the service uses (RFC 6455 §7.4.1; docs/protocol.md §1.13).
inline constexpr int kCloseNormal = 1000;
inline constexpr int kCloseUnsupported = 1003;
inline constexpr int kCloseTooBig = 1009;
inline constexpr int kCloseServerError = 1011;

/// One WebSocket as the service sees it. Implemented by the socket adapter.
class WsPeer {
 public:
  /// Queues a text frame. Ignored once close() was called.
  virtual void send_text(std::string frame) = 0;
  /// Sends the queued frames, then a Close frame with `code` and `reason`, then
  /// drops the connection. The adapter still reports ws_closed() afterwards.
  virtual void close(int code, std::string_view reason) = 0;
  /// The hello was accepted: the handshake deadline no longer applies and the
  /// WebSocket Ping schedule starts.
  virtual void identified() = 0;

 protected:
  ~WsPeer() = default;
};

/// An application-server request, read in full. Header names are lower-case.
struct HttpRequest {
  std::string method;  ///< "GET", "POST", "DELETE", …
  std::string path;    ///< without the query string
  std::map<std::string, std::string, std::less<>> headers;
  std::string body;           ///< at most max_data_bytes + 1 bytes are kept
  std::size_t body_size = 0;  ///< the full length received
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  ///< besides Content-Type/Length
  std::string content_type = "application/json";
  std::string body;
};

/// Counters for /stats (since start, except the gauges).
struct Stats {
  std::int64_t connections = 0;  ///< gauge: open WebSockets
  std::int64_t connections_total = 0;
  std::int64_t hellos = 0;
  std::int64_t registrations = 0;
  std::int64_t unregistrations = 0;
  std::int64_t messages_accepted = 0;   ///< 201 answers
  std::int64_t messages_stored = 0;     ///< accepted while the user agent was offline
  std::int64_t messages_delivered = 0;  ///< notification frames sent (redeliveries count again)
  std::int64_t messages_acked = 0;
  std::int64_t messages_nacked = 0;
  std::int64_t messages_expired = 0;   ///< purged or skipped because their TTL elapsed
  std::int64_t messages_dropped = 0;   ///< TTL 0 with the user agent offline
  std::int64_t messages_replaced = 0;  ///< by a newer message with the same topic
  std::int64_t messages_deleted = 0;   ///< DELETE /m/<id>
  std::int64_t uaid_resets = 0;        ///< msg_limit exceeded
  std::int64_t http_errors = 0;        ///< 4xx/5xx answers
};

class PushService {
 public:
  /// `public_url` is the effective base URL (no trailing slash). The store and
  /// clock are borrowed and must outlive the service; only the clock's wall time
  /// is read (message timestamps, TTL expiry, VAPID exp).
  PushService(ServiceConfig config, std::string public_url, ServiceStore& store, const Clock& clock);
  ~PushService();
  PushService(const PushService&) = delete;
  PushService& operator=(const PushService&) = delete;

  class Session;

  // ---- WebSocket events (from the adapter) ------------------------------------
  /// A WebSocket was accepted. The peer is borrowed until ws_closed().
  Session* ws_open(WsPeer& peer);
  /// A complete text message.
  void ws_text(Session* session, std::string_view frame);
  /// A complete binary message: close 1003.
  void ws_binary(Session* session);
  /// The adapter ends the connection itself (hello deadline, Pong timeout,
  /// oversized message): the session stops receiving messages and the peer is closed.
  void ws_fail(Session* session, int code, std::string_view reason);
  /// The connection is gone (after any close). `session` is invalid afterwards.
  void ws_closed(Session* session);

  // ---- HTTP -----------------------------------------------------------------------
  HttpResponse http(const HttpRequest& request);

  // ---- timers ---------------------------------------------------------------------
  /// Deletes expired messages (the periodic purge).
  void purge_expired();

  [[nodiscard]] const Stats& stats() const noexcept { return stats_; }
  [[nodiscard]] const std::string& public_url() const noexcept { return public_url_; }

 private:
  HttpResponse push(const HttpRequest& request, bool v2, std::string_view token);
  HttpResponse accept_message(const StoredMessage& m);  ///< stores and/or delivers it; 201 or 503
  HttpResponse delete_message(std::string_view id);
  HttpResponse stats_response();
  HttpResponse error_response(int status, std::optional<int> errnum, std::string message);

  void on_hello(Session& s, const protocol::Hello& hello);
  void on_register(Session& s, const protocol::Register& reg);
  void on_unregister(Session& s, const protocol::Unregister& unreg);
  void on_ack(Session& s, const protocol::Ack& ack);
  void on_ping(Session& s);
  void on_broadcast_subscribe(Session& s, const protocol::BroadcastSubscribe& sub);
  void check_storage(Session& s);
  void deliver(Session& s, const StoredMessage& m);
  void send(Session& s, const protocol::ServerMessage& message);
  void close_session(Session& s, int code, std::string_view reason);
  void store_failed(Session& s, const Error& error);

  ServiceConfig config_;
  std::string public_url_;
  std::string audience_;     ///< origin of public_url: the VAPID aud
  std::string path_prefix_;  ///< path of public_url: "" or "/x"
  ServiceStore& store_;
  const Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  Stats stats_;
  std::unordered_map<Session*, std::unique_ptr<Session>> sessions_;
  std::unordered_map<std::string, Session*> by_uaid_;  ///< identified and not closing
};

}  // namespace webpush::service
