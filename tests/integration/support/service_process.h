// Runs `webpushd serve` as a child process for a test: on 127.0.0.1 port 0 with
// its own state directory, reads the WebSocket URL from the first stdout line
// (with a deadline), and stops, kills or restarts it. stderr goes to a log file
// whose text a failing test can print.
//
// The binary is $WEBPUSHD (set by meson for the integration tests).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "support.h"

namespace webpush::testing {

struct ServiceOptions {
  std::filesystem::path state_dir;      ///< required: the service's --state-dir
  std::vector<std::string> extra_args;  ///< appended after the defaults, e.g. {"--msg-limit", "5"}
  std::string listen = "127.0.0.1:0";
  std::filesystem::path log_file;  ///< default: <state_dir>.log
  Millis start_timeout{10000};
};

class ServiceProcess {
 public:
  /// The webpushd binary: $WEBPUSHD. Throws SupportError if unset.
  static std::string binary();

  /// Starts the service and waits for its URL line. Throws SupportError (with the
  /// log) if it exits or stays silent past the deadline.
  explicit ServiceProcess(ServiceOptions options);
  /// Kills the process if it still runs.
  ~ServiceProcess();
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  /// Sends `sig` and waits for the exit. Returns the exit status, or 128 + signal
  /// if the process died of a signal. Throws on timeout (after killing it).
  int stop(int sig = 15, Millis timeout = Millis(10000));
  /// SIGKILL, no chance to clean up.
  void kill();
  /// Stops (SIGTERM) and starts again with the same arguments and state directory,
  /// on the same port (so endpoints issued before stay valid).
  void restart();

  [[nodiscard]] bool running() const noexcept { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// The first stdout line, e.g. "ws://127.0.0.1:41234/".
  [[nodiscard]] const std::string& ws_url() const noexcept { return ws_url_; }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// "http://127.0.0.1:<port>"
  [[nodiscard]] std::string http_base() const;
  /// Everything written to stderr so far.
  [[nodiscard]] std::string log() const;

  /// Runs the binary with `args` to completion (no URL expected) and returns its
  /// exit status; stdout and stderr are captured into `output`.
  static int run_once(const std::vector<std::string>& args, std::string& output, Millis timeout = Millis(10000));

 private:
  void start(const std::string& listen);
  int wait_exit(Millis timeout);

  ServiceOptions options_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string ws_url_;
  std::uint16_t port_ = 0;
};

}  // namespace webpush::testing
