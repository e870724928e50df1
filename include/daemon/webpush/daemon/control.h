// The control socket: a Unix stream socket in the state directory (mode 0600)
// speaking newline-delimited JSON, one request per line, one reply per request.
//
//   {"cmd":"subscribe","name":"laptop","vapid_key":"BA1H…"}  → {"ok":true,"id":1,"name":"laptop","subscription":{…}}
//     ("service":"fcm": made with Chrome's push service through the FcmLink)
//   {"cmd":"unsubscribe","name":"laptop"} (or "id":1)        → {"ok":true}
//   {"cmd":"list"}                                          → {"ok":true,"subscriptions":[{…}]}
//   {"cmd":"status"}                                        → {"ok":true,"status":{…}}
//   {"cmd":"watch"}                                         → {"ok":true}, then {"event":{…jsonl object…}} lines
//   anything malformed                                      → {"ok":false,"error":"…"}
//
// A request line over 64 KiB gets an error reply and the connection is closed;
// a peer that goes away mid-stream is forgotten. Nothing a client sends can
// disturb the daemon.
//
// Thread: the loop thread only.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "webpush/core/error.h"
#include "webpush/daemon/agent.h"
#include "webpush/daemon/control_request.h"
#include "webpush/daemon/fcm_link.h"
#include "webpush/event/fd_watch.h"
#include "webpush/event/loop.h"
#include "webpush/store/store.h"

namespace webpush::daemon {

inline constexpr std::size_t kControlMaxLine = 64 * 1024;

/// The socket's path in a state directory.
std::filesystem::path control_socket_path(const std::filesystem::path& state_dir);

/// The status object ("status" command and `webpushd status --json`), without
/// the "unifiedpush" and "fcm" members the control server adds after the others.
nlohmann::ordered_json status_json(const AgentStatus& status, store::Store& store);

/// The "fcm" object of the status: state, detail, connected_since,
/// last_heartbeat, counters, device_known, store_error.
nlohmann::ordered_json fcm_status_json(const FcmStatus& status);

class ControlServer {
 public:
  /// Binds the socket (replacing a stale one), mode 0600. Errors: event::Errc::setup.
  static Result<std::unique_ptr<ControlServer>> create(event::EventLoop& loop, Agent& agent, store::Store& store,
                                                       const std::filesystem::path& path);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  /// Sends an event to every watcher.
  void broadcast(const sinks::Event& event);
  /// The "unifiedpush" object of the status, its last member.
  void set_unifiedpush_status(std::function<nlohmann::ordered_json()> status) {
    unifiedpush_status_ = std::move(status);
  }
  /// The FCM link that "service":"fcm" subscribes with and whose status is the
  /// "fcm" member (after "unifiedpush"); null (the default): FCM is not active.
  /// Borrowed; must outlive this server or be reset first.
  void set_fcm(FcmLink* fcm) { fcm_ = fcm; }

 private:
  struct Client;
  ControlServer(event::EventLoop& loop, Agent& agent, store::Store& store, std::filesystem::path path);
  void accept_clients();
  void on_readable(int id);
  void on_writable(int id);
  void handle_line(int id, const std::string& line);
  // One per command handle_line() accepts; each replies to client `id`.
  void cmd_status(int id);
  void cmd_list(int id);
  void cmd_watch(int id);
  void cmd_subscribe(int id, SubscribeRequest req);
  void cmd_unsubscribe(int id, const UnsubscribeRequest& req);
  void reply(int id, const std::string& json_line);
  void drop(int id);

  event::EventLoop* loop_;
  Agent* agent_;
  store::Store* store_;
  std::filesystem::path path_;
  std::function<nlohmann::ordered_json()> unifiedpush_status_;
  FcmLink* fcm_ = nullptr;
  int listen_fd_ = -1;  // owned by listen_watch_
  std::unique_ptr<event::FdWatch> listen_watch_;
  std::map<int, std::unique_ptr<Client>> clients_;
  int next_id_ = 1;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // guards callbacks that outlive us
};

}  // namespace webpush::daemon
