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

}  // namespace webpush::sinks::detail
