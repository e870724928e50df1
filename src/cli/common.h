// Shared by the subcommands: global options, paths, logging, exit codes.
#pragma once

#include <filesystem>
#include <string>

#include "webpush/core/error.h"

namespace webpush::cli {

/// Exit codes of docs/cli.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

inline constexpr const char* kDefaultServer = "wss://push.services.mozilla.com/";

struct GlobalOptions {
  std::string state_dir;  ///< empty: $XDG_STATE_HOME/webpushd
  std::string config;
  std::string server = kDefaultServer;
  int verbose = 0;
  bool quiet = false;
  bool server_given = false;  ///< --server was on the command line
};

/// $XDG_STATE_HOME/webpushd, else ~/.local/state/webpushd.
std::filesystem::path default_state_dir();
std::filesystem::path state_dir(const GlobalOptions& g);

/// Logging to stderr at the level the flags ask for (info by default).
void setup_logging(const GlobalOptions& g);

/// Prints "webpushd: <message>" on stderr.
void print_error(const std::string& message);

/// The HTTP CONNECT proxy to use for `server` ("host:port"), from --proxy or
/// https_proxy / all_proxy, honouring no_proxy; empty for none or for loopback.
std::string proxy_for(const std::string& server, const std::string& flag);

}  // namespace webpush::cli
