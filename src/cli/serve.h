// `webpushd serve`: the embedded autopush-compatible push service.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace webpush::cli {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string public_url;
  std::string state_dir;  ///< empty: <global --state-dir>/service, else $XDG_STATE_HOME/webpushd/service
  std::string tls_cert;
  std::string tls_key;
  bool trace = false;
  double ws_ping_interval = 300;  // seconds
  double ws_pong_timeout = 4;
  double handshake_timeout = 5;
  double min_ping_interval = 45;
  double purge_interval = 60;
  std::size_t msg_limit = 150;
  std::size_t max_data_bytes = 5630;
  std::vector<std::string> broadcasts;  ///< "ID=VERSION"
  std::vector<std::string> faults;      ///< hidden --fault NAME: rules broken on purpose, for check-service's tests
  int verbose = 0;                      ///< -v/-q given after the subcommand (added to the global ones)
  bool quiet = false;
};

/// Adds the options of `serve` to `sub`.
void add_serve_options(CLI::App& sub, ServeOptions& o);

/// Runs the service until SIGINT/SIGTERM. `global_state_dir` is the global
/// --state-dir (may be empty). Returns the exit code: 0 after a signal, 1 on a
/// runtime failure (port in use, database unusable), 2 on a bad option value.
int run_serve(const ServeOptions& o, const std::string& global_state_dir, int verbose, bool quiet);

}  // namespace webpush::cli
