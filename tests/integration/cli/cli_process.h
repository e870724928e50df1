// Runs the webpushd binary ($WEBPUSHD) once for a CLI test: stdout and stderr
// captured separately, stdin from /dev/null, every wait with a deadline.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "support/support.h"

namespace webpush::testing {

struct CliResult {
  int status = -1;  ///< exit status, or 128 + signal
  std::string out;  ///< stdout
  std::string err;  ///< stderr

  /// stdout / stderr split at '\n' (a final line without '\n' counts too).
  [[nodiscard]] std::vector<std::string> out_lines() const;
  [[nodiscard]] std::vector<std::string> err_lines() const;
  /// "exit N\nstdout:\n…\nstderr:\n…" for failure messages.
  [[nodiscard]] std::string describe() const;
};

/// Runs `webpushd args…` to completion. Throws SupportError (after killing it)
/// if it runs past `timeout`.
CliResult run_cli(const std::vector<std::string>& args, Millis timeout = Millis(20000));

/// Splits `text` at '\n'.
std::vector<std::string> split_lines(const std::string& text);

/// Points XDG_STATE_HOME and XDG_CONFIG_HOME into `dir` (so that no test reads or
/// writes the real user's state or configuration), unsets WEBPUSHD_STATE_DIR and
/// sets TZ=UTC (tables show local time). Child processes inherit it.
void isolate_environment(const std::filesystem::path& dir);

/// `webpushd --state-dir DIR --server URL subscribe --name NAME [--vapid-key KEY]`:
/// returns the PushSubscription JSON line it printed. Throws SupportError on failure.
std::string subscribe(const std::filesystem::path& state_dir, const std::string& server, const std::string& name,
                      const std::string& vapid_key = "");

}  // namespace webpush::testing
