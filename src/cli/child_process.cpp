#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "push_subscription.h"

namespace webpush::cli {

ChildProcess::ChildProcess(const std::vector<std::string>& args, const std::filesystem::path& log) : log_(log) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  const int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  pid_ = fork();
  if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    setpgid(0, 0);  // a Ctrl-C at the terminal is for the parent, which stops its children itself
    dup2(out[1], 1);
    if (err >= 0) dup2(err, 2);
    std::vector<char*> argv;
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  if (err >= 0) ::close(err);
  ::close(out[1]);
  fd_ = out[0];
}

ChildProcess::~ChildProcess() {
  stop();
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::string> ChildProcess::line(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (const auto nl = buf_.find('\n'); nl != std::string::npos) {
      std::string l = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return l;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char b[4096];
    const ssize_t n = ::read(fd_, b, sizeof b);
    if (n <= 0) return std::nullopt;
    buf_.append(b, static_cast<std::size_t>(n));
  }
}

void ChildProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 100 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i) ::usleep(20'000);
  if (waitpid(pid_, nullptr, WNOHANG) == 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
}

std::string ChildProcess::log_tail() const {
  FILE* f = std::fopen(log_.c_str(), "r");
  if (f == nullptr) return "";
  std::string all;
  char b[4096];
  std::size_t n;
  while ((n = std::fread(b, 1, sizeof b, f)) > 0) all.append(b, n);
  std::fclose(f);
  if (all.size() > 600) all = "..." + all.substr(all.size() - 600);
  return all;
}

EmbeddedService::~EmbeddedService() {
  child.reset();
  std::error_code ec;
  if (!dir.empty()) std::filesystem::remove_all(dir, ec);
}

Result<void> start_embedded_service(EmbeddedService& e, const std::string& tag,
                                    const std::vector<std::string>& extra_args) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("webpushd-" + tag + "-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) return fail(SendErrc::http, "cannot create a temporary directory");
  e.dir = tmpl;
  std::vector<std::string> args{"webpushd", "-q", "serve", "--listen", "127.0.0.1:0", "--state-dir", e.dir.string()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  e.child = std::make_unique<ChildProcess>(args, e.dir / "serve.log");
  auto line = e.child->line(std::chrono::steady_clock::now() + std::chrono::seconds(20));
  if (!line || line->rfind("ws://", 0) != 0) {
    return fail(SendErrc::http, "the embedded service did not start: " + e.child->log_tail());
  }
  e.url = *line;
  return {};
}

}  // namespace webpush::cli
