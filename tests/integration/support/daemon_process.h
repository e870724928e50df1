// Runs `webpushd run --jsonl -` (or `--jsonl FILE`) as a child process for a
// test: JSON lines from stdout and log lines from stderr are read with
// deadlines, never by sleeping.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support.h"

namespace webpush::testing {

struct DaemonOptions {
  std::filesystem::path state_dir;
  std::string server;                    ///< ws://127.0.0.1:<port>/
  std::vector<std::string> extra_args;   ///< appended to `run`, e.g. {"--ping-interval", "1"}
  std::string jsonl = "-";               ///< the --jsonl target; a file's lines are not read by wait_event
  std::vector<std::string> env;          ///< "NAME=value" added to the daemon's environment (e.g. LD_PRELOAD)
  std::vector<std::string> global_args;  ///< before `run`, e.g. {"-vv"}
};

class DaemonProcess {
 public:
  explicit DaemonProcess(DaemonOptions options);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  /// The next JSON line on stdout matching `pred` (earlier non-matching lines
  /// are kept in events()). Throws SupportError with the log on timeout.
  nlohmann::json wait_event(const std::function<bool(const nlohmann::json&)>& pred, Millis timeout = kDefaultTimeout);
  /// Waits until the log contains `text` after what was already matched; returns the time it took.
  Millis wait_log(const std::string& text, Millis timeout = kDefaultTimeout);
  /// Sends SIGTERM and waits; returns the exit status (128 + signal if killed by one).
  int stop(Millis timeout = Millis(10000));
  /// Reads the daemon's output for `duration` (log() then holds it).
  void read_for(Millis duration);
  /// SIGKILL, no chance to clean up; waits for the exit.
  void kill_now();
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  [[nodiscard]] const std::vector<std::string>& raw_lines() const noexcept { return lines_; }
  [[nodiscard]] const std::string& log() const noexcept { return log_; }

 private:
  bool pump(Clock::time_point deadline);  // reads what is available until the deadline; false on timeout/EOF

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_buf_;
  std::vector<std::string> lines_;
  std::size_t next_line_ = 0;
  std::string log_;
  std::size_t log_pos_ = 0;
};

}  // namespace webpush::testing
