#include "daemon_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "service_process.h"

namespace webpush::testing {

DaemonProcess::DaemonProcess(DaemonOptions options) {
  std::vector<std::string> args = {ServiceProcess::binary(), "--state-dir", options.state_dir.string(), "--server",
                                   options.server};
  args.insert(args.end(), options.global_args.begin(), options.global_args.end());
  args.insert(args.end(), {"run", "--jsonl", options.jsonl});
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  int out[2];
  int err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) throw SupportError("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw SupportError(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (auto& e : options.env) putenv(e.data());  // the child's own copy of options, alive until execv
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  out_fd_ = out[0];
  err_fd_ = err[0];
  fcntl(out_fd_, F_SETFL, O_NONBLOCK);
  fcntl(err_fd_, F_SETFL, O_NONBLOCK);
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

bool DaemonProcess::pump(Clock::time_point deadline) {
  if (out_fd_ < 0 && err_fd_ < 0) return false;  // the child is gone and both pipes are drained
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  const int n = poll(fds, 2, static_cast<int>(remaining(deadline).count()));
  if (n <= 0) return false;
  char buf[4096];
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    const ssize_t r = read(fds[i].fd, buf, sizeof buf);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
      close(fds[i].fd);
      (i == 0 ? out_fd_ : err_fd_) = -1;
      continue;
    }
    if (r < 0) continue;
    if (i == 0) {
      out_buf_.append(buf, static_cast<std::size_t>(r));
      std::size_t nl;
      while ((nl = out_buf_.find('\n')) != std::string::npos) {
        lines_.push_back(out_buf_.substr(0, nl));
        out_buf_.erase(0, nl + 1);
      }
    } else {
      log_.append(buf, static_cast<std::size_t>(r));
    }
  }
  return true;
}

nlohmann::json DaemonProcess::wait_event(const std::function<bool(const nlohmann::json&)>& pred, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    while (next_line_ < lines_.size()) {
      const std::string& line = lines_[next_line_++];
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded()) throw SupportError("daemon printed a line that is not JSON: " + line);
      if (pred(j)) return j;
    }
    if (remaining(deadline).count() == 0 || !pump(deadline)) {
      throw SupportError("no matching JSON line from the daemon in time; log:\n" + log_);
    }
  }
}

Millis DaemonProcess::wait_log(const std::string& text, Millis timeout) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  for (;;) {
    const auto at = log_.find(text, log_pos_);
    if (at != std::string::npos) {
      log_pos_ = at + text.size();
      return std::chrono::duration_cast<Millis>(Clock::now() - start);
    }
    if (remaining(deadline).count() == 0 || !pump(deadline)) {
      throw SupportError("the daemon did not log '" + text + "' in time; log:\n" + log_);
    }
  }
}

int DaemonProcess::stop(Millis timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (remaining(deadline).count() == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      pid_ = -1;
      throw SupportError("the daemon did not stop in time; log:\n" + log_);
    }
    pump(Clock::now() + Millis(20));  // keep draining the pipes while waiting
  }
  pid_ = -1;
  while (pump(Clock::now())) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void DaemonProcess::read_for(Millis duration) {
  const auto until = Clock::now() + duration;
  while (Clock::now() < until) {
    if (!pump(until)) break;
  }
}

void DaemonProcess::kill_now() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  while (pump(Clock::now())) {
  }
}

}  // namespace webpush::testing
