// A child process of this same binary (`demo` and `loadtest --embedded` start
// `webpushd serve` and `webpushd run` this way), with its stdout read line by
// line and its stderr kept in a log file for the error report. It gets SIGTERM
// when this process dies, and the destructor stops it: TERM, then KILL after 2 s.
//
// Blocking: line() and stop() wait; call them outside the event loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "webpush/core/error.h"

namespace webpush::cli {

class ChildProcess {
 public:
  /// `args[0]` is the name the child sees. Throws std::system_error when no
  /// pipe or process can be made.
  ChildProcess(const std::vector<std::string>& args, const std::filesystem::path& log);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// The next stdout line, or nullopt at the deadline or EOF.
  std::optional<std::string> line(std::chrono::steady_clock::time_point deadline);
  void stop();
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// The last lines of the child's stderr, for an error report.
  [[nodiscard]] std::string log_tail() const;

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
  std::filesystem::path log_;
};

/// `webpushd serve` on a free loopback port with its state in a temporary
/// directory (`--embedded` of loadtest and check-service); the destructor
/// stops it and removes the directory.
struct EmbeddedService {
  std::filesystem::path dir;
  std::unique_ptr<ChildProcess> child;
  std::string url;  ///< "ws://127.0.0.1:<port>/"
  ~EmbeddedService();
};

/// Starts `serve` with `extra_args` after the listen and state options; the
/// directory is named after `tag`. Errors: SendErrc::http with the service's log.
Result<void> start_embedded_service(EmbeddedService& service, const std::string& tag,
                                    const std::vector<std::string>& extra_args = {});

}  // namespace webpush::cli
