#include "webpush/event/child_reaper.h"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "internal.h"
#include "webpush/event/fd_watch.h"

namespace webpush::event {

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

void kill_and_reap(pid_t pid, bool group) {
  ::kill(group ? -pid : pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace

Result<void> check_pidfd_support() {
  UniqueFd fd(pidfd_open(getpid()));
  if (!fd.valid()) {
    return fail(Errc::setup,
                fmt::format("pidfd_open is not available ({}): Linux 5.3 or later is needed", std::strerror(errno)));
  }
  return {};
}

struct ChildReaper::Child {
  pid_t pid = -1;
  bool group = false;
  int pidfd = -1;  // owned by `watch`
  std::unique_ptr<FdWatch> watch;
  ExitCallback on_exit;
};

ChildReaper::ChildReaper(EventLoop& loop) : loop_(&loop) {}

ChildReaper::~ChildReaper() = default;

Result<void> ChildReaper::watch(pid_t pid, bool group, ExitCallback on_exit) {
  // kill(0 or -1, …) below would reach far more than one child.
  if (pid <= 0) return fail(Errc::io, fmt::format("cannot watch process {}: not a child's pid", pid));
  UniqueFd fd(pidfd_open(pid));
  if (!fd.valid()) {
    const int err = errno;
    kill_and_reap(pid, group);
    return fail(Errc::io, fmt::format("pidfd_open({}) failed: {}", pid, std::strerror(err)));
  }
  auto child = std::make_unique<Child>();
  child->pid = pid;
  child->group = group;
  child->pidfd = fd.get();
  child->on_exit = std::move(on_exit);
  auto w = FdWatch::create(*loop_, std::move(fd), [this, pid] { on_readable(pid); });
  if (!w) {
    kill_and_reap(pid, group);
    return fail(Errc::io, fmt::format("cannot watch child {}: {}", pid, w.error().message()));
  }
  child->watch = std::move(*w);
  children_[pid] = std::move(child);
  return {};
}

void ChildReaper::signal(pid_t pid, int signo) const {
  const auto it = children_.find(pid);
  if (it == children_.end()) return;
  if (it->second->group && ::kill(-pid, signo) == 0) return;
  // The group may not exist yet: posix_spawn can return before the child's
  // setpgid (under qemu-user, where its vfork is a fork). The child itself does.
  ::kill(pid, signo);
}

void ChildReaper::on_readable(pid_t pid) {
  const auto it = children_.find(pid);
  if (it == children_.end()) return;
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == 0) return;
  std::optional<int> result;
  if (r == pid) result = status;
  auto child = std::move(it->second);
  children_.erase(it);
  ExitCallback cb = std::move(child->on_exit);
  // Its watch is the one whose callback is running.
  loop_->destroy_later(std::move(child));
  if (cb) cb(result);  // may watch() new children
}

void ChildReaper::terminate_all(Duration grace) {
  if (children_.empty()) return;
  assert_may_block("ChildReaper::terminate_all");
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

}  // namespace webpush::event
