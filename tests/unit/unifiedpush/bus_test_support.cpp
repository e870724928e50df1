#include "bus_test_support.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

extern char** environ;

namespace webpush::unifiedpush::test {

namespace {

constexpr const char* kDbusDaemon = WEBPUSH_TEST_DBUS_DAEMON;  // "" when meson did not find it
constexpr const char* kBusConfig = WEBPUSH_TEST_BUS_CONFIG;

// Reads the daemon's first line (its address) within the deadline.
std::string read_line(int fd) {
  std::string out;
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  while (out.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<Duration>(until - std::chrono::steady_clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return {};
    char buf[256];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return {};
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out.substr(0, out.find('\n'));
}

}  // namespace

bool have_dbus_daemon() { return *kDbusDaemon != '\0'; }

std::unique_ptr<PrivateBus> PrivateBus::start() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed";
    return nullptr;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  std::string config = std::string("--config-file=") + kBusConfig;
  std::vector<std::string> args = {kDbusDaemon, config, "--nofork", "--print-address=1"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::unique_ptr<PrivateBus> bus(new PrivateBus());
  const int rc = posix_spawn(&bus->pid_, kDbusDaemon, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    bus->pid_ = -1;
    ADD_FAILURE() << "cannot start " << kDbusDaemon;
    return nullptr;
  }
  bus->address_ = read_line(fds[0]);
  ::close(fds[0]);
  if (bus->address_.empty()) {
    ADD_FAILURE() << "dbus-daemon printed no address";
    return nullptr;
  }
  return bus;
}

PrivateBus::~PrivateBus() { stop(); }

void PrivateBus::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::unique_ptr<Peer> Peer::connect(const std::string& address) {
  GError* err = nullptr;
  GDBusConnection* conn = g_dbus_connection_new_for_address_sync(
      address.c_str(),
      static_cast<GDBusConnectionFlags>(G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION),
      nullptr, nullptr, &err);
  if (conn == nullptr) {
    ADD_FAILURE() << "cannot connect to " << address << ": " << err->message;
    g_clear_error(&err);
    return nullptr;
  }
  return std::unique_ptr<Peer>(new Peer(conn));
}

Peer::~Peer() {
  g_dbus_connection_close_sync(conn_, nullptr, nullptr);
  g_object_unref(conn_);
}

std::string Peer::unique_name() const { return g_dbus_connection_get_unique_name(conn_); }

bool Peer::own_name(const std::string& name) {
  GError* err = nullptr;
  GVariant* r = g_dbus_connection_call_sync(
      conn_, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
      g_variant_new("(su)", name.c_str(), 4u /* DO_NOT_QUEUE */), G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE,
      static_cast<int>(kDeadline.count()), nullptr, &err);
  if (r == nullptr) {
    ADD_FAILURE() << "RequestName " << name << ": " << err->message;
    g_clear_error(&err);
    return false;
  }
  guint32 answer = 0;
  g_variant_get(r, "(u)", &answer);
  g_variant_unref(r);
  return answer == 1;  // DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
}

std::shared_ptr<CallResult> Peer::call(const std::string& destination, const char* path, const char* interface,
                                       const char* method, GVariant* args) {
  auto result = std::make_shared<CallResult>();
  g_dbus_connection_call(
      conn_, destination.c_str(), path, interface, method, args, nullptr, G_DBUS_CALL_FLAGS_NONE,
      static_cast<int>(kDeadline.count()), nullptr,
      [](GObject* source, GAsyncResult* res, gpointer p) {
        std::unique_ptr<std::shared_ptr<CallResult>> out(static_cast<std::shared_ptr<CallResult>*>(p));
        GError* err = nullptr;
        GVariant* reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &err);
        auto& r = **out;
        if (reply != nullptr) {
          r.value.reset(reply);
        } else {
          gchar* name = g_dbus_error_get_remote_error(err);
          r.error_name = name != nullptr ? name : "(local)";
          g_free(name);
          g_dbus_error_strip_remote_error(err);
          r.error_message = err->message;
          g_clear_error(&err);
        }
        r.done = true;
      },
      new std::shared_ptr<CallResult>(result));
  return result;
}

void Peer::send_no_reply(const std::string& destination, const char* path, const char* interface, const char* method,
                         GVariant* args) {
  GDBusMessage* m = g_dbus_message_new_method_call(destination.c_str(), path, interface, method);
  g_dbus_message_set_body(m, args);
  g_dbus_message_set_flags(m, G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED);
  GError* err = nullptr;
  if (g_dbus_connection_send_message(conn_, m, G_DBUS_SEND_MESSAGE_FLAGS_NONE, nullptr, &err) == FALSE) {
    ADD_FAILURE() << "send " << method << ": " << err->message;
    g_clear_error(&err);
  }
  g_object_unref(m);
}

bool drain_glib(event::EventLoop& loop) {
  auto ran = std::make_shared<std::atomic<bool>>(false);
  std::thread([ran] {
    GSource* idle = g_idle_source_new();
    g_source_set_priority(idle, G_PRIORITY_LOW);
    g_source_set_callback(
        idle,
        [](gpointer p) -> gboolean {
          (*static_cast<std::shared_ptr<std::atomic<bool>>*>(p))->store(true);
          return G_SOURCE_REMOVE;
        },
        new std::shared_ptr<std::atomic<bool>>(ran),
        [](gpointer p) { delete static_cast<std::shared_ptr<std::atomic<bool>>*>(p); });
    g_source_attach(idle, g_main_context_default());
    g_source_unref(idle);
  }).join();
  return loop.run_until([&ran] { return ran->load(); }, kDeadline);
}

LogCapture::LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)) {
  spdlog::drop("unifiedpush");
  auto log = std::make_shared<spdlog::logger>("unifiedpush", sink_);
  log->set_pattern("%l %v");
  log->set_level(spdlog::level::debug);
  spdlog::register_logger(log);
}

LogCapture::~LogCapture() { spdlog::drop("unifiedpush"); }

std::string LogCapture::text() const {
  std::string out;
  for (auto& line : sink_->last_formatted()) out += line;
  return out;
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  if (const char* old = std::getenv(name)) old_ = old;
  if (value != nullptr) {
    ::setenv(name, value, 1);
  } else {
    ::unsetenv(name);
  }
}

ScopedEnv::~ScopedEnv() {
  if (old_) {
    ::setenv(name_.c_str(), old_->c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

std::optional<std::string> dict_string(GVariant* dict, const char* key) {
  GVariant* v = g_variant_lookup_value(dict, key, G_VARIANT_TYPE_STRING);
  if (v == nullptr) return std::nullopt;
  std::string s = g_variant_get_string(v, nullptr);
  g_variant_unref(v);
  return s;
}

}  // namespace webpush::unifiedpush::test
