#include "webpush/daemon/control.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "webpush/daemon/control_request.h"
#include "webpush/sinks/sink.h"

namespace webpush::daemon {

using nlohmann::json;
using nlohmann::ordered_json;

std::filesystem::path control_socket_path(const std::filesystem::path& state_dir) { return state_dir / "control.sock"; }

namespace {

ordered_json subscription_object(const store::Subscription& s) {
  ordered_json j;
  j["id"] = s.id;
  j["name"] = s.name;
  j["state"] = std::string(store::to_string(s.state));
  j["server"] = s.server;
  j["endpoint"] = s.endpoint;
  j["created_at"] = sinks::rfc3339(s.created_at);
  j["subscription"] = ordered_json::parse(subscription_json(s));
  return j;
}

}  // namespace

ordered_json status_json(const AgentStatus& s, store::Store& store) {
  ordered_json j;
  j["state"] = std::string(protocol::to_string(s.state));
  j["connected"] = s.state == protocol::SessionState::ready;
  j["detail"] = s.detail;
  j["server"] = s.server;
  j["uaid"] = s.uaid ? ordered_json(*s.uaid) : ordered_json(nullptr);
  j["connected_since"] =
      s.connected_since_ms ? ordered_json(sinks::rfc3339(*s.connected_since_ms)) : ordered_json(nullptr);
  j["last_message_at"] = s.last_message_ms ? ordered_json(sinks::rfc3339(*s.last_message_ms)) : ordered_json(nullptr);
  j["counters"] = {{"received", s.counters.received},
                   {"duplicates", s.counters.duplicates},
                   {"decrypt_errors", s.counters.decrypt_errors},
                   {"reconnects", s.counters.reconnects},
                   {"ignored_frames", s.counters.ignored_frames}};
  j["store_error"] = s.store_error ? ordered_json(*s.store_error) : ordered_json(nullptr);
  j["sinks_behind"] = ordered_json::array();
  for (const auto& b : s.sinks_behind) {
    j["sinks_behind"].push_back({{"sink", b.sink}, {"from_message", b.from_id}, {"error", b.error}});
  }
  if (auto n = store.count_subscriptions()) j["subscriptions"] = *n;
  if (auto stats = store.inbox_stats()) {
    j["inbox"] = {{"stored", stats->stored}, {"delivered", stats->delivered}, {"failed", stats->failed}};
  }
  return j;
}

ordered_json fcm_status_json(const FcmStatus& s) {
  const auto time = [](const std::optional<std::int64_t>& ms) {
    return ms ? ordered_json(sinks::rfc3339(*ms)) : ordered_json(nullptr);
  };
  ordered_json j;
  j["state"] = std::string(protocol::to_string(s.state));
  j["connected"] = s.state == protocol::SessionState::ready;
  j["detail"] = s.detail;
  j["connected_since"] = time(s.connected_since_ms);
  j["last_heartbeat"] = time(s.last_heartbeat_ms);
  j["counters"] = {{"received", s.counters.received},
                   {"duplicates", s.counters.duplicates},
                   {"decrypt_errors", s.counters.decrypt_errors},
                   {"reconnects", s.counters.reconnects}};
  j["device_known"] = s.device_known;
  j["store_error"] = s.store_error ? ordered_json(*s.store_error) : ordered_json(nullptr);
  return j;
}

struct ControlServer::Client {
  int fd = -1;
  std::unique_ptr<event::FdWatch> watch;
  std::string in;
  std::string out;
  bool watching = false;
  bool closing = false;  // close once `out` is written
};

ControlServer::ControlServer(event::EventLoop& loop, Agent& agent, store::Store& store, std::filesystem::path path)
    : loop_(&loop), agent_(&agent), store_(&store), path_(std::move(path)) {}

Result<std::unique_ptr<ControlServer>> ControlServer::create(event::EventLoop& loop, Agent& agent, store::Store& store,
                                                             const std::filesystem::path& path) {
  std::unique_ptr<ControlServer> s(new ControlServer(loop, agent, store, path));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string p = path.string();
  if (p.size() >= sizeof addr.sun_path) {
    return fail(event::Errc::setup, fmt::format("control socket path too long: {}", p));
  }
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  event::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(event::Errc::setup, fmt::format("control socket: {}", std::strerror(errno)));
  s->listen_fd_ = fd.get();
  ::unlink(p.c_str());  // a stale socket from a crashed daemon (the state-dir lock says none runs)
  // Created 0600 from the start: no window in which another user could connect.
  const mode_t old = umask(0177);
  const int bound = bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (bound != 0 || listen(s->listen_fd_, 16) != 0) {
    const std::string why = std::strerror(errno);
    s->listen_fd_ = -1;
    return fail(event::Errc::setup, fmt::format("cannot listen on {}: {}", p, why));
  }
  ControlServer* raw = s.get();
  auto watch = event::FdWatch::create(loop, std::move(fd), [raw] { raw->accept_clients(); });
  if (!watch) {
    s->listen_fd_ = -1;
    return tl::unexpected(watch.error());
  }
  s->listen_watch_ = std::move(*watch);
  return s;
}

ControlServer::~ControlServer() {
  *alive_ = false;
  clients_.clear();
  listen_watch_.reset();
  ::unlink(path_.c_str());
}

void ControlServer::accept_clients() {
  for (;;) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    const int id = next_id_++;
    auto client = std::make_unique<Client>();
    client->fd = fd;
    auto watch = event::FdWatch::create(
        *loop_, event::UniqueFd(fd), [this, id] { on_readable(id); }, [this, id] { on_writable(id); });
    if (!watch) continue;  // the fd was closed by the failed adoption
    client->watch = std::move(*watch);
    clients_.emplace(id, std::move(client));
  }
}

void ControlServer::drop(int id) { clients_.erase(id); }

void ControlServer::on_readable(int id) {
  const auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& c = *it->second;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      drop(id);  // the peer went away
      return;
    }
    if (n < 0) break;
    if (c.closing) continue;  // discard what follows an oversized line
    c.in.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = c.in.find('\n')) != std::string::npos) {
      std::string line = c.in.substr(0, nl);
      c.in.erase(0, nl + 1);
      handle_line(id, line);
      if (clients_.find(id) == clients_.end()) return;
    }
    if (c.in.size() > kControlMaxLine) {
      c.in.clear();
      c.closing = true;
      reply(id, error_reply(fmt::format("request line longer than {} bytes", kControlMaxLine)));
      return;
    }
  }
}

void ControlServer::on_writable(int id) {
  const auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& c = *it->second;
  while (!c.out.empty()) {
    const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        c.watch->want_writable();
        return;
      }
      drop(id);
      return;
    }
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  if (c.closing) drop(id);
}

void ControlServer::reply(int id, const std::string& json_line) {
  const auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& c = *it->second;
  // A watcher that stops reading must not make the daemon buffer without end.
  if (c.out.size() > 4 * 1024 * 1024) {
    drop(id);
    return;
  }
  c.out += json_line;
  c.out += '\n';
  on_writable(id);
}

void ControlServer::broadcast(const sinks::Event& event) {
  const std::string line = "{\"event\":" + sinks::to_json_line(event) + "}";
  std::vector<int> ids;
  for (const auto& [id, c] : clients_) {
    if (c->watching) ids.push_back(id);
  }
  for (const int id : ids) reply(id, line);
}

namespace {

// The subscription an unsubscribe request means (its "id", else its "name"), or the error to reply.
tl::expected<std::int64_t, std::string> unsubscribe_target(store::Store& store, const UnsubscribeRequest& req) {
  if (req.id) return *req.id;
  auto sub = store.find_subscription_by_name(*req.name);
  if (!sub) return tl::unexpected(sub.error().message());
  if (!*sub) return tl::unexpected(fmt::format("no subscription named '{}'", *req.name));
  return (*sub)->id;
}

}  // namespace

void ControlServer::handle_line(int id, const std::string& line) {
  auto req = parse_control_request(line);
  if (!req) {
    reply(id, error_reply(req.error()));
    return;
  }
  if (std::holds_alternative<StatusRequest>(*req)) {
    cmd_status(id);
  } else if (std::holds_alternative<ListRequest>(*req)) {
    cmd_list(id);
  } else if (std::holds_alternative<WatchRequest>(*req)) {
    cmd_watch(id);
  } else if (auto* sub = std::get_if<SubscribeRequest>(&*req)) {
    cmd_subscribe(id, std::move(*sub));
  } else {
    cmd_unsubscribe(id, std::get<UnsubscribeRequest>(*req));
  }
}

void ControlServer::cmd_status(int id) {
  ordered_json status = status_json(agent_->status(), *store_);
  if (unifiedpush_status_) status["unifiedpush"] = unifiedpush_status_();
  if (fcm_ != nullptr) status["fcm"] = fcm_status_json(fcm_->status());
  reply(id, ordered_json{{"ok", true}, {"status", std::move(status)}}.dump());
}

void ControlServer::cmd_list(int id) {
  auto subs = store_->list_subscriptions();
  if (!subs) {
    reply(id, error_reply(subs.error().message()));
    return;
  }
  ordered_json arr = ordered_json::array();
  for (const auto& s : *subs) arr.push_back(subscription_object(s));
  reply(id, ordered_json{{"ok", true}, {"subscriptions", std::move(arr)}}.dump());
}

void ControlServer::cmd_watch(int id) {
  clients_[id]->watching = true;
  reply(id, R"({"ok":true})");
}

void ControlServer::cmd_subscribe(int id, SubscribeRequest req) {
  std::weak_ptr<bool> alive = alive_;
  auto done = [this, alive, id](Result<store::Subscription> sub) {
    if (alive.expired() || !*alive.lock()) return;
    if (!sub) {
      reply(id, error_reply(sub.error().message()));
      return;
    }
    ordered_json j = {{"ok", true}, {"id", sub->id}, {"name", sub->name}};
    j["subscription"] = ordered_json::parse(subscription_json(*sub));
    reply(id, j.dump());
  };
  if (req.service == PushServiceKind::autopush) {
    agent_->subscribe(std::move(req.name), std::move(req.vapid_key), std::move(done));
  } else if (fcm_ != nullptr) {
    fcm_->subscribe(std::move(req.name), std::move(req.vapid_key), std::move(done));
  } else {
    reply(id, error_reply("FCM is not configured: add an [fcm] section to the daemon's config file"));
  }
}

void ControlServer::cmd_unsubscribe(int id, const UnsubscribeRequest& req) {
  const auto target = unsubscribe_target(*store_, req);
  if (!target) {
    reply(id, error_reply(target.error()));
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  auto done = [this, alive, id](Result<void> r) {
    if (alive.expired() || !*alive.lock()) return;
    reply(id, r ? std::string(R"({"ok":true})") : error_reply(r.error().message()));
  };
  // A subscription received through Chrome's push service is FcmLink's: the
  // autopush connection has no channel to unregister for it.
  auto sub = store_->find_subscription_by_id(*target);
  if (!sub) {
    reply(id, error_reply(sub.error().message()));
    return;
  }
  if (*sub && (*sub)->fcm) {
    if (fcm_ == nullptr) {
      reply(id, error_reply("this daemon does not run Chrome's push service (FCM); add an [fcm] section and restart"));
      return;
    }
    fcm_->unsubscribe(*target, std::move(done));
    return;
  }
  agent_->unsubscribe(*target, std::move(done));
}

}  // namespace webpush::daemon
