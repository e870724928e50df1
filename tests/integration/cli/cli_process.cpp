#include "cli_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "support/service_process.h"

namespace webpush::testing {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::vector<std::string> CliResult::out_lines() const { return split_lines(out); }
std::vector<std::string> CliResult::err_lines() const { return split_lines(err); }

std::string CliResult::describe() const {
  return "exit " + std::to_string(status) + "\nstdout:\n" + out + "\nstderr:\n" + err;
}

CliResult run_cli(const std::vector<std::string>& args, Millis timeout) {
  std::vector<std::string> argv = {ServiceProcess::binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw SupportError("pipe failed");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw SupportError("pipe failed");
  }
  const pid_t pid = ::fork();
  if (pid < 0) throw SupportError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    _exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);

  CliResult result;
  int fds[2] = {out[0], err[0]};
  std::string* sinks[2] = {&result.out, &result.err};
  const auto deadline = Clock::now() + timeout;
  char buf[8192];
  while (fds[0] >= 0 || fds[1] >= 0) {
    pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    const int n = ::poll(p, 2, static_cast<int>(remaining(deadline).count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      for (const int fd : fds) {
        if (fd >= 0) ::close(fd);
      }
      throw SupportError("webpushd did not finish in time; " + result.describe());
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || (p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t r = ::read(fds[i], buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        ::close(fds[i]);
        fds[i] = -1;
        continue;
      }
      sinks[i]->append(buf, static_cast<std::size_t>(r));
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

void isolate_environment(const std::filesystem::path& dir) {
  ::setenv("XDG_STATE_HOME", (dir / "xdg-state").c_str(), 1);
  ::setenv("XDG_CONFIG_HOME", (dir / "xdg-config").c_str(), 1);
  ::unsetenv("WEBPUSHD_STATE_DIR");
  ::setenv("TZ", "UTC", 1);
}

std::string subscribe(const std::filesystem::path& state_dir, const std::string& server, const std::string& name,
                      const std::string& vapid_key) {
  std::vector<std::string> args = {"--state-dir", state_dir.string(), "--server", server, "subscribe", "--name", name};
  if (!vapid_key.empty()) {
    args.push_back("--vapid-key");
    args.push_back(vapid_key);
  }
  const CliResult r = run_cli(args);
  const auto lines = r.out_lines();
  if (r.status != 0 || lines.size() != 1 || lines[0].empty() || lines[0].front() != '{') {
    throw SupportError("subscribe did not print one PushSubscription line: " + r.describe());
  }
  return lines[0];
}

}  // namespace webpush::testing
