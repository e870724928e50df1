// The subcommands (one file each). Each returns the process exit code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "common.h"

namespace webpush::cli {

/// --state-dir, --config, --server, -v, -q: every command takes them.
void add_global_options(CLI::App& app, GlobalOptions& g);
/// Parses the command line; the exit code when parsing ends the process
/// (--help and --version: 0; a usage error, reported on one line: 2), else none.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv);

struct RunOptions {
  bool no_notify = false;
  bool no_unifiedpush = false;
  double unifiedpush_call_timeout = 25;  // seconds; config only
  std::string jsonl;
  std::string exec;
  double exec_timeout = 30;
  double ping_interval = 300;  // seconds
  double request_timeout = 10;
  double backoff_initial = 1;
  double backoff_max = 300;
  bool insecure = false;
  std::string ca_file;
  std::string proxy;
  double retention_days = 30;
  std::int64_t retention_messages = 10'000;
  bool trace = false;
};

/// Adds the options of `run` to `sub`.
void add_run_options(CLI::App& sub, RunOptions& o);
/// `sub` tells which flags were given (they override the config file).
int run_daemon(const GlobalOptions& g, const RunOptions& o, const CLI::App& sub);
/// Replaces this process (exec: same pid, same arguments) with the daemon
/// program webpushd-run, which maps only what the daemon needs; returns only
/// when none is installed or it cannot start (the daemon then runs in this
/// process, with every command's libraries mapped).
void exec_daemon_program(char** argv);

struct SubscribeOptions {
  std::string name;
  std::string vapid_key;
  bool insecure = false;
  std::string ca_file;
  std::string proxy;
  double timeout = 30;
  std::string service = "autopush";  ///< "autopush" or "fcm"
};

void add_subscribe_options(CLI::App& sub, SubscribeOptions& o);
int run_subscribe(const GlobalOptions& g, const SubscribeOptions& o);

}  // namespace webpush::cli

namespace webpush::cli {

struct SendCommandOptions {
  std::string subscription_file;  ///< PushSubscription JSON, or - for stdin
  std::string payload;
  std::string payload_file;
  std::string encoding = "aes128gcm";
  int ttl = 60;
  std::string urgency;
  std::string topic;
  std::string vapid_key_file;
  std::string vapid_subject = "mailto:webpushd@localhost";
  bool legacy_vapid = false;
  int count = 1;
  double rate = 0;      ///< messages per second, 0: as fast as possible
  std::string ca_file;  ///< extra CA certificates (PEM) for an https:// endpoint
};

void add_send_options(CLI::App& sub, SendCommandOptions& o);
int run_send(const GlobalOptions& g, const SendCommandOptions& o);

void add_vapid_keygen_options(CLI::App& sub, std::string& path);
int run_vapid_keygen(const std::string& path);

}  // namespace webpush::cli

namespace webpush::cli {

struct UnsubscribeOptions {
  std::string target;  ///< NAME or ID
  bool insecure = false;
  double timeout = 30;
};

void add_unsubscribe_options(CLI::App& sub, UnsubscribeOptions& o);
int run_unsubscribe(const GlobalOptions& g, const UnsubscribeOptions& o);

void add_status_options(CLI::App& sub, bool& json);
int run_status(const GlobalOptions& g, bool json);

}  // namespace webpush::cli

namespace webpush::cli {

struct DemoOptions {
  std::string message = "Hello from webpushd: a real, encrypted Web Push message";
  bool keep = false;
  double timeout = 15;
};

void add_demo_options(CLI::App& sub, DemoOptions& o);
int run_demo(const GlobalOptions& g, const DemoOptions& o);

}  // namespace webpush::cli

namespace webpush::cli {

struct LoadtestOptions {
  bool embedded = false;
  int user_agents = 100;
  int subscriptions = 1;
  double ramp_rate = 1000;
  bool connect_only = false;
  double rate = 100;
  double duration = 10;
  std::int64_t messages = 0;
  std::size_t payload_size = 128;
  std::string encoding = "aes128gcm";
  int ttl = 60;
  std::string urgency;
  std::string topic;
  std::string vapid_key_file;
  std::string vapid_subject = "mailto:webpushd@localhost";
  bool no_vapid = false;
  int connections = 8;
  double drain_timeout = 10;
  double connect_timeout = 60;
  double ping_interval = 300;
  bool insecure = false;
  std::string ca_file;
  bool json = false;
  bool no_progress = false;
  bool trace = false;
  std::string hdr_log;
  std::string report;
  std::vector<std::string> subscription_files;
  std::vector<std::string> merge_files;
  bool merge_json = false;
};

/// Adds `loadtest` and its `merge` subcommand; returns `merge`.
CLI::App* add_loadtest_options(CLI::App& sub, LoadtestOptions& o);
int run_loadtest(const GlobalOptions& g, const LoadtestOptions& o, const std::string& command_line);
int run_loadtest_merge(const LoadtestOptions& o);

}  // namespace webpush::cli

namespace webpush::cli {

struct CheckServiceOptions {
  std::string url;                ///< positional; --server does the same
  std::vector<std::string> only;  ///< check ids and group names
  bool embedded = false;
  bool json = false;
  bool list = false;
  std::string report;
  bool probe_limits = false;
  bool insecure = false;
  std::string ca_file;
  double timeout = 5;          ///< seconds a reply may take
  double handshake_wait = 30;  ///< seconds to wait for a silent connection to be closed
  double ping_wait = 10;       ///< seconds to wait for the service's WebSocket Ping
};

void add_check_service_options(CLI::App& sub, CheckServiceOptions& o);
int run_check_service(const GlobalOptions& g, const CheckServiceOptions& o);

}  // namespace webpush::cli
