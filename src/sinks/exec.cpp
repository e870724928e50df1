#include "webpush/sinks/exec.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "internal.h"

namespace webpush::sinks {

namespace {

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// The same lookup posix_spawnp will do, done once at start so that a typo in
// --exec is a start-up error rather than a warning per message.
Result<void> check_program(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (is_executable_file(program)) return {};
    return fail(Errc::bad_config, fmt::format("exec: {} is not an executable file", program));
  }
  const char* path_env = std::getenv("PATH");
  const std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    if (is_executable_file(dir + "/" + program)) return {};
    start = end + 1;
  }
  return fail(Errc::bad_config, fmt::format("exec: {} not found in PATH ({})", program, path));
}

const char* signal_name(int signo) {
  switch (signo) {
    case SIGTERM: return "SIGTERM";
    case SIGKILL: return "SIGKILL";
    case SIGINT: return "SIGINT";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGPIPE: return "SIGPIPE";
    case SIGHUP: return "SIGHUP";
    default: return "signal";
  }
}

// The payload goes to stdin through a memfd rather than a pipe: writing it
// never blocks (whatever its size and however slowly the command reads), and
// the command sees a regular seekable file it may read twice.
Result<int> payload_fd(const std::optional<Bytes>& payload) {
  const int fd = ::memfd_create("webpushd-payload", MFD_CLOEXEC);
  if (fd < 0) return fail(Errc::io, fmt::format("memfd_create failed: {}", std::strerror(errno)));
  if (payload) {
    std::size_t off = 0;
    while (off < payload->size()) {
      const ssize_t n = ::write(fd, payload->data() + off, payload->size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int err = errno;
        ::close(fd);
        return fail(Errc::io, fmt::format("writing the payload to a memfd failed: {}", std::strerror(err)));
      }
      off += static_cast<std::size_t>(n);
    }
  }
  if (::lseek(fd, 0, SEEK_SET) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(Errc::io, fmt::format("lseek on the payload memfd failed: {}", std::strerror(err)));
  }
  return fd;
}

}  // namespace

struct ExecSink::Impl {
  struct Job {
    std::int64_t message_id = 0;
    std::string version;
    std::string subscription;
    std::vector<std::string> env;
    std::optional<Bytes> payload;
    pid_t pid = -1;
    bool timed_out = false;
    int sent_signal = 0;
    std::unique_ptr<event::Timer> limit;  // SIGTERM at the time limit, then SIGKILL after the grace
  };

  Impl(event::EventLoop& l, ExecOptions o, std::vector<std::string> a)
      : loop(&l), options(std::move(o)), argv(std::move(a)), reaper(l) {}

  event::EventLoop* loop;
  ExecOptions options;
  std::vector<std::string> argv;
  std::deque<std::unique_ptr<Job>> queue;
  std::map<pid_t, std::unique_ptr<Job>> running;
  event::ChildReaper reaper;
  bool shutting_down = false;
  std::function<void()> on_idle;  // set by retire(): called once nothing is queued or running

  void check_idle() {
    if (!on_idle || !queue.empty() || !running.empty()) return;
    loop->defer(std::exchange(on_idle, nullptr));
  }

  void start_ready() {
    while (!shutting_down && running.size() < options.max_running && !queue.empty()) {
      auto job = std::move(queue.front());
      queue.pop_front();
      start(std::move(job));
    }
  }

  void start(std::unique_ptr<Job> job) {
    auto fd = payload_fd(job->payload);
    if (!fd) {
      failed_to_start(*job, fd.error());
      return;
    }
    detail::SpawnSpec spec{argv, job->env, *fd, true};
    auto pid = detail::spawn(spec);
    ::close(*fd);
    if (!pid) {
      failed_to_start(*job, pid.error());
      return;
    }
    job->payload.reset();
    job->pid = *pid;
    Job* raw = job.get();
    if (auto ok = reaper.watch(*pid, true, [this, p = *pid](std::optional<int> status) { finished(p, status); }); !ok) {
      failed_to_start(*job, ok.error());
      return;
    }
    job->limit = std::make_unique<event::Timer>(*loop, [this, raw] { on_limit(*raw); });
    job->limit->arm(options.time_limit);
    detail::log().debug("exec: started {} (pid {}) for message {} on {}", argv[0], raw->pid, raw->version,
                        raw->subscription);
    running[*pid] = std::move(job);
  }

  void on_limit(Job& job) {
    if (job.sent_signal == 0) {
      job.timed_out = true;
      job.sent_signal = SIGTERM;
      detail::log().warn("exec: {} for message {} on {} is still running after {} ms: sending SIGTERM", argv[0],
                         job.version, job.subscription, options.time_limit.count());
      reaper.signal(job.pid, SIGTERM);
      job.limit->arm(options.kill_grace);
    } else if (job.sent_signal == SIGTERM) {
      job.sent_signal = SIGKILL;
      detail::log().warn("exec: {} for message {} on {} ignored SIGTERM for {} ms: sending SIGKILL", argv[0],
                         job.version, job.subscription, options.kill_grace.count());
      reaper.signal(job.pid, SIGKILL);
    }
  }

  void failed_to_start(const Job& job, const Error& err) {
    detail::log().error("exec: cannot run the command for message {} on {}: {}", job.version, job.subscription,
                        err.message());
    ExecResult r;
    r.version = job.version;
    r.subscription = job.subscription;
    report(r);
  }

  void finished(pid_t pid, std::optional<int> status) {
    const auto it = running.find(pid);
    if (it == running.end()) return;
    std::unique_ptr<Job> job = std::move(it->second);
    running.erase(it);
    ExecResult r;
    r.version = job->version;
    r.subscription = job->subscription;
    r.started = true;
    r.timed_out = job->timed_out;
    if (!status) {
      detail::log().warn("exec: {} for message {} on {} was reaped by someone else; its exit status is unknown",
                         argv[0], job->version, job->subscription);
    } else if (WIFEXITED(*status)) {
      r.exit_code = WEXITSTATUS(*status);
      if (r.timed_out) {
        detail::log().warn("exec: {} for message {} on {} exceeded its {} ms time limit; it exited with status {}",
                           argv[0], job->version, job->subscription, options.time_limit.count(), r.exit_code);
      } else if (r.exit_code != 0) {
        detail::log().warn("exec: {} for message {} on {} exited with status {}", argv[0], job->version,
                           job->subscription, r.exit_code);
      } else {
        detail::log().debug("exec: {} for message {} on {} exited with status 0", argv[0], job->version,
                            job->subscription);
      }
    } else if (WIFSIGNALED(*status)) {
      r.signal = WTERMSIG(*status);
      if (r.timed_out) {
        detail::log().warn("exec: {} for message {} on {} exceeded its {} ms time limit and was killed by {}", argv[0],
                           job->version, job->subscription, options.time_limit.count(), signal_name(r.signal));
      } else {
        detail::log().warn("exec: {} for message {} on {} was killed by {} ({})", argv[0], job->version,
                           job->subscription, signal_name(r.signal), r.signal);
      }
    }
    job.reset();  // cancels its timer
    report(r);
    start_ready();
    check_idle();
  }

  void report(const ExecResult& r) {
    if (!options.on_finished) return;
    try {
      options.on_finished(r);
    } catch (const std::exception& e) {
      detail::log().error("exec: on_finished observer failed: {}", e.what());
    }
  }
};

Result<std::unique_ptr<ExecSink>> ExecSink::create(event::EventLoop& loop, ExecOptions options) {
  auto argv = split_command(options.command);
  if (!argv) return tl::unexpected(argv.error().with_context("exec"));
  if (auto ok = check_program((*argv)[0]); !ok) return tl::unexpected(ok.error());
  if (options.max_running == 0) return fail(Errc::bad_config, "exec: at most 0 commands at a time runs nothing");
  if (options.time_limit.count() <= 0) return fail(Errc::bad_config, "exec: the time limit must be positive");
  if (options.kill_grace.count() < 0) return fail(Errc::bad_config, "exec: the kill grace must not be negative");
  if (auto ok = event::check_pidfd_support(); !ok) return tl::unexpected(ok.error().with_context("exec"));
  return std::unique_ptr<ExecSink>(new ExecSink(std::make_unique<Impl>(loop, std::move(options), std::move(*argv))));
}

ExecSink::ExecSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ExecSink::~ExecSink() {
  Impl& s = *impl_;
  s.shutting_down = true;
  for (const auto& job : s.queue) {
    detail::log().warn("exec: shutting down; the command for message {} on {} will not run now", job->version,
                       job->subscription);
    if (s.options.on_not_run && job->message_id != 0) s.options.on_not_run(job->message_id);
  }
  s.queue.clear();
  for (const auto& [pid, job] : s.running) {
    detail::log().warn("exec: shutting down; stopping {} (pid {}) for message {} on {}", s.argv[0], pid, job->version,
                       job->subscription);
  }
  s.reaper.terminate_all(std::min(s.options.kill_grace, Duration{1000}));
}

void ExecSink::retire(std::function<void()> idle) {
  impl_->on_idle = std::move(idle);
  impl_->check_idle();
}

Result<void> ExecSink::deliver(const Event& event) {
  const auto* m = std::get_if<MessageEvent>(&event);
  if (m == nullptr) return {};
  Impl& s = *impl_;
  if (s.queue.size() >= s.options.max_queued) {
    return fail(Errc::io, fmt::format("exec: {} commands are already waiting", s.queue.size()));
  }
  auto job = std::make_unique<Impl::Job>();
  job->message_id = m->message_id;
  job->version = m->version;
  job->subscription = m->subscription;
  job->payload = m->payload;
  job->env.push_back("WEBPUSH_SUBSCRIPTION=" + m->subscription);
  job->env.push_back("WEBPUSH_CHANNEL_ID=" + m->channel_id);
  job->env.push_back("WEBPUSH_VERSION=" + m->version);
  job->env.push_back("WEBPUSH_MESSAGE_ID=" + std::to_string(m->message_id));
  job->env.push_back("WEBPUSH_RECEIVED_AT=" + rfc3339(m->received_at_ms));
  job->env.push_back("WEBPUSH_ENCODING=" + m->encoding);
  s.queue.push_back(std::move(job));
  s.start_ready();
  return {};
}

std::size_t ExecSink::running() const noexcept { return impl_->running.size(); }
std::size_t ExecSink::queued() const noexcept { return impl_->queue.size(); }
const std::vector<std::string>& ExecSink::argv() const noexcept { return impl_->argv; }

}  // namespace webpush::sinks
