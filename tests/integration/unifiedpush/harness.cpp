#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace webpush::testing {

namespace {

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Descriptors for a child: -1 keeps the test's own. `extra` becomes descriptor 3.
struct Redirect {
  int in = -1;
  int out = -1;
  int err = -1;
  int extra = -1;
};

// fork + exec; the child dies with the test.
pid_t spawn(const std::vector<std::string>& argv, Redirect r) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw SupportError(std::string("fork: ") + std::strerror(errno));
  if (pid > 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  if (r.in >= 0) ::dup2(r.in, 0);
  if (r.out >= 0) ::dup2(r.out, 1);
  if (r.err >= 0) ::dup2(r.err, 2);
  if (r.extra == 3) {
    ::fcntl(3, F_SETFD, 0);
  } else if (r.extra >= 0) {
    ::dup2(r.extra, 3);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execv(args[0], args.data());
  ::_exit(127);
}

// Waits for `pid` to exit; -2 on timeout, else its status (128 + signal when killed by one).
int wait_for_exit(pid_t pid, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0 && errno != EINTR) return -1;
    if (remaining(deadline).count() == 0) return -2;
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) throw SupportError(std::string("pidfd_open: ") + std::strerror(errno));
    pollfd p{pidfd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(remaining(deadline).count()));
    ::close(pidfd);
  }
}

void stop_child(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  if (wait_for_exit(pid, Millis(2000)) == -2) {
    ::kill(pid, SIGKILL);
    wait_for_exit(pid, Millis(5000));
  }
}

int open_log(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw SupportError("cannot open " + path.string());
  return fd;
}

const char* kBusConfig = R"(<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path=@DIR@/bus</listen>
  <servicedir>@DIR@/services</servicedir>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
)";

}  // namespace

std::optional<std::string> missing_prerequisite() {
  const std::string dbus_daemon = env_or_empty("WEBPUSHD_TEST_DBUS_DAEMON");
  if (dbus_daemon.empty() || ::access(dbus_daemon.c_str(), X_OK) != 0) {
    return "dbus-daemon not found (Debian: dbus-daemon)";
  }
  if (env_or_empty("WEBPUSHD_TEST_PYTHON").empty()) {
    return "no python3 with the modules gi and cryptography (Debian: python3-gi python3-cryptography)";
  }
  if (env_or_empty("WEBPUSHD_TEST_CONNECTOR").empty()) return "WEBPUSHD_TEST_CONNECTOR is not set";
  return std::nullopt;
}

// --- PrivateBus ---------------------------------------------------------------------------------------

PrivateBus::PrivateBus(const std::filesystem::path& dir) : dir_(dir) {
  std::filesystem::create_directories(dir_ / "services");
  std::string config = kBusConfig;
  for (std::size_t at; (at = config.find("@DIR@")) != std::string::npos;) config.replace(at, 5, dir_.string());
  std::ofstream(dir_ / "bus.conf") << config;

  int address_pipe[2];
  if (::pipe2(address_pipe, O_CLOEXEC) != 0) throw SupportError("pipe failed");
  const int log_fd = open_log(dir_ / "dbus-daemon.log");
  const std::vector<std::string> argv = {env_or_empty("WEBPUSHD_TEST_DBUS_DAEMON"),
                                         "--config-file=" + (dir_ / "bus.conf").string(), "--nofork",
                                         "--print-address=3"};
  pid_ = spawn(argv, {.out = log_fd, .err = log_fd, .extra = address_pipe[1]});
  ::close(address_pipe[1]);
  ::close(log_fd);

  std::string line;
  const auto deadline = Clock::now() + Millis(10000);
  char c = 0;
  while (line.empty() || line.back() != '\n') {
    pollfd p{address_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(remaining(deadline).count())) <= 0 || ::read(address_pipe[0], &c, 1) != 1) {
      ::close(address_pipe[0]);
      stop_child(pid_);
      throw SupportError("dbus-daemon printed no address; its log:\n" + log());
    }
    line += c;
  }
  ::close(address_pipe[0]);
  address_ = line.substr(0, line.size() - 1);
}

PrivateBus::~PrivateBus() { stop_child(pid_); }

void PrivateBus::add_activatable(const std::string& name, const std::vector<std::string>& exec) const {
  std::string line;
  for (const auto& word : exec) {
    if (word.find_first_of(" \t\"'\\") != std::string::npos) throw SupportError("cannot quote '" + word + "'");
    line += (line.empty() ? "" : " ") + word;
  }
  std::ofstream(dir_ / "services" / (name + ".service"))
      << "[D-BUS Service]\nName=" << name << "\nExec=" << line << "\n";
}

std::string PrivateBus::log() const { return read_file(dir_ / "dbus-daemon.log"); }

// --- EventStream --------------------------------------------------------------------------------------

EventStream::EventStream(int fd, std::string what) : fd_(fd), what_(std::move(what)) {
  if (fd_ >= 0) ::fcntl(fd_, F_SETFL, O_NONBLOCK);
}

EventStream::~EventStream() {
  if (fd_ >= 0) ::close(fd_);
}

bool EventStream::read_once(Millis wait) {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
  char buf[16384];
  const ssize_t n = ::read(fd_, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (n <= 0) {
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  buffer_.append(buf, static_cast<std::size_t>(n));
  for (std::size_t nl; (nl = buffer_.find('\n')) != std::string::npos;) {
    const std::string line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    auto event = Json::parse(line, nullptr, false);
    if (event.is_discarded() || !event.is_object())
      throw SupportError(what_ + " printed a line that is not an event: " + line);
    events_.push_back(std::move(event));
    taken_.push_back(false);
  }
  return true;
}

void EventStream::read_available(Millis wait) {
  while (read_once(wait)) wait = Millis(0);
}

Json EventStream::take(const EventPredicate& pred, Millis timeout, const std::function<void()>& while_waiting) {
  std::size_t found = events_.size();
  const auto untaken_match = [&] {
    for (std::size_t i = 0; i < events_.size(); ++i) {
      if (!taken_[i] && pred(events_[i])) {
        found = i;
        return true;
      }
    }
    return false;
  };
  wait_until(untaken_match, "the awaited event", timeout, while_waiting);
  taken_[found] = true;
  return events_[found];
}

void EventStream::wait_until(const std::function<bool()>& done, const std::string& what, Millis timeout,
                             const std::function<void()>& while_waiting) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (fd_ < 0) throw SupportError(what_ + " ended before " + what + "; it printed:\n" + dump());
    if (remaining(deadline).count() == 0) {
      throw SupportError("no " + what + " from " + what_ + " in time; it printed:\n" + dump());
    }
    read_available(std::min(remaining(deadline), Millis(50)));
    if (while_waiting) while_waiting();
  }
}

std::vector<Json> EventStream::all(const EventPredicate& pred) const {
  std::vector<Json> out;
  std::copy_if(events_.begin(), events_.end(), std::back_inserter(out), pred);
  return out;
}

std::string EventStream::dump() const {
  std::string out;
  for (const auto& e : events_) out += "  " + e.dump() + "\n";
  return out.empty() ? "  (nothing)\n" : out;
}

// --- FakeApp ------------------------------------------------------------------------------------------

FakeApp::FakeApp(const std::filesystem::path& dir, AppOptions options)
    : options_(std::move(options)), err_file_(dir / (options_.name + ".err")) {
  if (options_.keys.empty()) options_.keys = dir / (options_.name + ".keys");
  // Commands go through a socket, so that a write to an app that died fails with EPIPE instead of SIGPIPE.
  int in[2];
  int out[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) throw SupportError("socketpair failed");
  if (::pipe2(out, O_CLOEXEC) != 0) throw SupportError("pipe failed");
  const int err_fd = open_log(err_file_);
  std::vector<std::string> argv = {env_or_empty("WEBPUSHD_TEST_PYTHON"),
                                   env_or_empty("WEBPUSHD_TEST_CONNECTOR"),
                                   "--name",
                                   options_.name,
                                   "--api",
                                   std::to_string(options_.api),
                                   "--keys",
                                   options_.keys.string()};
  pid_ = spawn(argv, {.in = in[1], .out = out[1], .err = err_fd});
  ::close(in[1]);
  ::close(out[1]);
  ::close(err_fd);
  stdin_fd_ = in[0];
  events_ = std::make_unique<EventStream>(out[0], "the app " + options_.name);
  try {
    events_->take(event_is("ready"), Millis(15000));
  } catch (const SupportError& e) {
    throw SupportError(std::string(e.what()) + describe());
  }
}

FakeApp::~FakeApp() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait_for_exit(pid_, Millis(5000));
  }
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
}

std::vector<std::string> FakeApp::activation_command(const std::filesystem::path& events) const {
  return {env_or_empty("WEBPUSHD_TEST_PYTHON"),
          env_or_empty("WEBPUSHD_TEST_CONNECTOR"),
          "--name",
          options_.name,
          "--api",
          std::to_string(options_.api),
          "--keys",
          options_.keys.string(),
          "--events",
          events.string(),
          "--no-stdin"};
}

void FakeApp::command(const std::string& line) {
  const std::string text = line + "\n";
  if (::send(stdin_fd_, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) {
    throw SupportError("the app " + name() + " does not take commands (" + std::strerror(errno) + ")" + describe());
  }
}

int FakeApp::wait_exit(Millis timeout) {
  if (pid_ <= 0) return -1;
  const int status = wait_for_exit(pid_, timeout);
  if (status == -2) throw SupportError("the app " + name() + " did not exit in time" + describe());
  pid_ = -1;
  return status;
}

std::string FakeApp::describe() const {
  return "\nthe app " + name() + " printed:\n" + events_->dump() + "its stderr:\n" + read_file(err_file_);
}

// --- BackgroundProcess --------------------------------------------------------------------------------

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, std::filesystem::path log)
    : log_(std::move(log)) {
  const int fd = open_log(log_);
  pid_ = spawn(argv, {.out = fd, .err = fd});
  ::close(fd);
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait_for_exit(pid_, Millis(5000));
  }
}

int BackgroundProcess::wait_exit(Millis timeout) {
  const int status = wait_for_exit(pid_, timeout);
  if (status == -2) throw SupportError("a background command did not finish in time; its output:\n" + output());
  pid_ = -1;
  return status;
}

std::string BackgroundProcess::output() const { return read_file(log_); }

// --- predicates ---------------------------------------------------------------------------------------

EventPredicate event_is(const std::string& type) {
  return [type](const Json& e) { return e.value("event", "") == type; };
}

EventPredicate event_is(const std::string& type, const std::string& token) {
  return [type, token](const Json& e) { return e.value("event", "") == type && e.value("token", "") == token; };
}

EventPredicate message_with_text(const std::string& text) {
  return [text](const Json& e) {
    return e.value("event", "") == "message" && e.contains("text") && e["text"].is_string() && e["text"] == text;
  };
}

}  // namespace webpush::testing
