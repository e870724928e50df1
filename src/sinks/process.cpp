#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "internal.h"
#include "webpush/core/log.h"
#include "webpush/sinks/sink.h"

extern char** environ;

namespace webpush::sinks::detail {

spdlog::logger& log() { return layer_logger("sinks"); }

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::string_view env_key(std::string_view entry) { return entry.substr(0, entry.find('=')); }

// RAII for the two posix_spawn objects.
struct SpawnAttrs {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  SpawnAttrs() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnAttrs() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnAttrs(const SpawnAttrs&) = delete;
  SpawnAttrs& operator=(const SpawnAttrs&) = delete;
};

std::int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace

Result<pid_t> spawn(const SpawnSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return fail(Errc::bad_config, "empty command");
  std::vector<char*> argv;
  argv.reserve(spec.argv.size() + 1);
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  std::set<std::string_view> replaced;
  for (const auto& e : spec.env) replaced.insert(env_key(e));
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (replaced.count(env_key(*e)) == 0) envp.push_back(*e);
  }
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  SpawnAttrs s;
  if (spec.stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&s.actions, spec.stdin_fd, STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&s.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&s.actions, STDERR_FILENO, STDOUT_FILENO);
  // Not every descriptor of the daemon is O_CLOEXEC (lws sockets, SQLite): close them all.
  posix_spawn_file_actions_addclosefrom_np(&s.actions, 3);

  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&s.attr, &none);
  posix_spawnattr_setsigdefault(&s.attr, &all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (spec.new_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&s.attr, 0);
  }
  posix_spawnattr_setflags(&s.attr, flags);

  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0], &s.actions, &s.attr, argv.data(), envp.data());
  if (rc != 0) return fail(Errc::io, fmt::format("cannot start {}: {}", spec.argv[0], std::strerror(rc)));
  return pid;
}

Result<void> check_pidfd_support() {
  const int fd = pidfd_open(getpid());
  if (fd < 0) {
    return fail(Errc::unavailable,
                fmt::format("pidfd_open is not available ({}): Linux 5.3 or later is needed", std::strerror(errno)));
  }
  ::close(fd);
  return {};
}

// ---- ChildReaper -------------------------------------------------------------

struct ChildReaper::Child {
  pid_t pid = -1;
  bool group = false;
  int pidfd = -1;  // owned by `watch`
  std::unique_ptr<transport::FdWatch> watch;
  ExitCallback on_exit;
};

ChildReaper::ChildReaper(transport::EventLoop& loop) : loop_(&loop), gc_(loop, [this] { graveyard_.clear(); }) {}

ChildReaper::~ChildReaper() = default;

Result<void> ChildReaper::watch(pid_t pid, bool group, ExitCallback on_exit) {
  const int fd = pidfd_open(pid);
  if (fd < 0) {
    const int err = errno;
    ::kill(group ? -pid : pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return fail(Errc::io, fmt::format("pidfd_open({}) failed: {}", pid, std::strerror(err)));
  }
  auto child = std::make_unique<Child>();
  child->pid = pid;
  child->group = group;
  child->pidfd = fd;
  child->on_exit = std::move(on_exit);
  auto w = transport::FdWatch::create(*loop_, fd, [this, pid] { on_readable(pid); });
  if (!w) {
    ::kill(group ? -pid : pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return fail(Errc::io, fmt::format("cannot watch child {}: {}", pid, w.error().message()));
  }
  child->watch = std::move(*w);
  children_[pid] = std::move(child);
  return {};
}

void ChildReaper::signal(pid_t pid, int signo) const {
  const auto it = children_.find(pid);
  if (it == children_.end()) return;
  ::kill(it->second->group ? -pid : pid, signo);
}

void ChildReaper::on_readable(pid_t pid) {
  const auto it = children_.find(pid);
  if (it == children_.end()) return;  // already reaped; the watch waits for gc_
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == 0) return;
  std::optional<int> result;
  if (r == pid) result = status;
  auto child = std::move(it->second);
  children_.erase(it);
  ExitCallback cb = std::move(child->on_exit);
  graveyard_.push_back(std::move(child));
  gc_.arm(Duration{0});
  if (cb) cb(result);  // may watch() new children
}

void ChildReaper::terminate_all(Duration grace) {
  if (children_.empty()) return;
  for (const auto& [pid, c] : children_) ::kill(c->group ? -pid : pid, SIGTERM);
  const std::int64_t deadline = monotonic_ms() + grace.count();
  std::set<pid_t> exited;
  while (exited.size() < children_.size()) {
    std::vector<pollfd> fds;
    std::vector<pid_t> pids;
    for (const auto& [pid, c] : children_) {
      if (exited.count(pid) != 0) continue;
      fds.push_back({c->pidfd, POLLIN, 0});
      pids.push_back(pid);
    }
    const std::int64_t left = deadline - monotonic_ms();
    if (left <= 0) break;
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left));
    if (n < 0 && errno != EINTR) break;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0) exited.insert(pids[i]);
    }
  }
  auto children = std::move(children_);
  children_.clear();
  for (auto& [pid, c] : children) {
    if (exited.count(pid) == 0) ::kill(c->group ? -pid : pid, SIGKILL);
  }
  for (auto& [pid, c] : children) {
    int status = 0;
    pid_t r = 0;
    do {
      r = ::waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (c->on_exit) c->on_exit(r == pid ? std::optional<int>(status) : std::nullopt);
  }
}

}  // namespace webpush::sinks::detail
