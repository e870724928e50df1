#include "service_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace webpush::testing {

namespace {

// fork + exec with stdout to `out_fd` and stderr to `err_fd`; the child dies with the test.
pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw SupportError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    // Signals blocked in the test runner must not stay blocked in the service.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

std::string ServiceProcess::binary() {
  const char* path = std::getenv("WEBPUSHD");
  if (path == nullptr || *path == '\0') throw SupportError("WEBPUSHD is not set (run the tests through meson test)");
  return path;
}

ServiceProcess::ServiceProcess(ServiceOptions options) : options_(std::move(options)) {
  if (options_.log_file.empty()) options_.log_file = options_.state_dir.string() + ".log";
  start(options_.listen);
}

ServiceProcess::~ServiceProcess() {
  if (pid_ > 0) kill();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

void ServiceProcess::start(const std::string& listen) {
  std::vector<std::string> argv = {binary(), "serve", "--listen", listen, "--state-dir", options_.state_dir.string()};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw SupportError(std::string("pipe: ") + std::strerror(errno));
  const int log_fd = ::open(options_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) throw SupportError("cannot open " + options_.log_file.string());
  try {
    pid_ = spawn(argv, pipefd[1], log_fd);
  } catch (...) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    ::close(log_fd);
    throw;
  }
  ::close(pipefd[1]);
  ::close(log_fd);
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  stdout_fd_ = pipefd[0];

  // The first line: the URL. Read byte-wise so nothing after it is consumed.
  const auto deadline = Clock::now() + options_.start_timeout;
  std::string line;
  while (true) {
    pollfd p{stdout_fd_, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(remaining(deadline).count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      kill();
      throw SupportError("webpushd serve printed no URL within " + std::to_string(options_.start_timeout.count()) +
                         " ms; log:\n" + log());
    }
    char c = 0;
    const ssize_t r = ::read(stdout_fd_, &c, 1);
    if (r <= 0) {
      const int status = wait_exit(Millis(5000));
      throw SupportError("webpushd serve exited (status " + std::to_string(status) +
                         ") before printing its URL; log:\n" + log());
    }
    if (c == '\n') break;
    line += c;
  }
  ws_url_ = line;
  // ws://HOST:PORT/
  const auto colon = line.rfind(':');
  const auto slash = line.find('/', colon == std::string::npos ? 0 : colon);
  if (line.rfind("ws", 0) != 0 || colon == std::string::npos)
    throw SupportError("unexpected first line '" + line + "'");
  port_ = static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1, slash - colon - 1)));
}

int ServiceProcess::wait_exit(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      return -1;
    }
    if (remaining(deadline).count() == 0) return -2;
    // Wait for the exit on a pidfd (Linux 5.3); without one, re-check every 5 ms.
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(remaining(deadline).count()));
      ::close(pidfd);
    } else {
      ::usleep(5000);
    }
  }
}

int ServiceProcess::stop(int sig, Millis timeout) {
  if (pid_ <= 0) throw SupportError("the service is not running");
  ::kill(pid_, sig);
  const int status = wait_exit(timeout);
  if (status == -2) {
    kill();
    throw SupportError("webpushd serve did not exit within " + std::to_string(timeout.count()) + " ms of signal " +
                       std::to_string(sig) + "; log:\n" + log());
  }
  return status;
}

void ServiceProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void ServiceProcess::restart() {
  if (pid_ > 0) {
    const int status = stop();
    if (status != 0) throw SupportError("webpushd serve exited with " + std::to_string(status) + " on SIGTERM");
  }
  start("127.0.0.1:" + std::to_string(port_));
}

std::string ServiceProcess::http_base() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string ServiceProcess::log() const {
  std::ifstream in(options_.log_file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int ServiceProcess::run_once(const std::vector<std::string>& args, std::string& output, Millis timeout) {
  std::vector<std::string> argv = {binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw SupportError("pipe failed");
  const pid_t pid = spawn(argv, pipefd[1], pipefd[1]);
  ::close(pipefd[1]);
  const auto deadline = Clock::now() + timeout;
  output.clear();
  char buf[4096];
  while (true) {
    pollfd p{pipefd[0], POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(remaining(deadline).count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      ::close(pipefd[0]);
      throw SupportError("webpushd did not finish in time; output:\n" + output);
    }
    const ssize_t r = ::read(pipefd[0], buf, sizeof buf);
    if (r <= 0) break;
    output.append(buf, static_cast<std::size_t>(r));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace webpush::testing
