// config.toml: every option of `run`, so that a systemd unit needs no flags.
// Precedence: built-in defaults < the config file < command-line flags.
//
//   server = "wss://push.services.mozilla.com/"
//   log_level = "info"                 # trace, debug, info, warn, error
//   [connection]
//   ping_interval = 300                # seconds
//   request_timeout = 10
//   backoff_initial = 1
//   backoff_max = 300
//   insecure = false
//   ca_file = "/etc/ssl/extra.pem"
//   proxy = "proxy.example.com:3128"
//   [sinks]
//   notify = true
//   jsonl = "/home/me/push.jsonl"      # or "-" for stdout
//   exec = "/usr/local/bin/on-push --flag"
//   exec_timeout = 30
//   [retention]
//   max_age_days = 30
//   max_messages = 10000
//   [unifiedpush]
//   enabled = true
//   call_timeout = 25
//   [fcm]                              # Chrome's push service (FCM)
//   project_id = "my-project"          # project_id, app_id, api_key: all or none
//   app_id = "1:1234:web:abcd"
//   api_key = "AIza…"
//   base_url = "https://fcm.example"   # optional: a private or test stack
//   mcs = "mtalk.google.com:5228"
//   heartbeat_interval = 300           # seconds
//
// An unknown key or a value of the wrong type is an error naming the key and line.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "webpush/core/error.h"

namespace webpush::cli {

enum class ConfigErrc {
  unreadable,   ///< the file cannot be read
  syntax,       ///< not TOML
  unknown_key,  ///< a key this version does not know
  wrong_type,   ///< a value of the wrong type or out of range
};

std::string_view to_string(ConfigErrc e) noexcept;

/// The values `run` accepts for a number, the same for its flag and its key.
struct NumberRange {
  double min;
  double max;
};
inline constexpr NumberRange kPingIntervalRange{1, 86400};
inline constexpr NumberRange kRequestTimeoutRange{1, 600};
inline constexpr NumberRange kBackoffInitialRange{0.1, 3600};
inline constexpr NumberRange kBackoffMaxRange{1, 86400};
inline constexpr NumberRange kExecTimeoutRange{0.001, 86400};
inline constexpr NumberRange kRetentionDaysRange{0.001, 36500};
inline constexpr NumberRange kRetentionMessagesRange{1, 1'000'000'000};
inline constexpr NumberRange kCallTimeoutRange{1, 300};
inline constexpr NumberRange kFcmHeartbeatRange{1, 3600};

/// Values present in the file; absent keys stay nullopt.
struct Config {
  std::optional<std::string> server;
  std::optional<std::string> log_level;
  std::optional<double> ping_interval;
  std::optional<double> request_timeout;
  std::optional<double> backoff_initial;
  std::optional<double> backoff_max;
  std::optional<bool> insecure;
  std::optional<std::string> ca_file;
  std::optional<std::string> proxy;
  std::optional<bool> notify;
  std::optional<std::string> jsonl;
  std::optional<std::string> exec;
  std::optional<double> exec_timeout;
  std::optional<double> retention_max_age_days;
  std::optional<std::int64_t> retention_max_messages;
  std::optional<bool> unifiedpush_enabled;
  std::optional<double> unifiedpush_call_timeout;
  /// [fcm]: project_id, app_id and api_key are all set or none; base_url is
  /// https:// (http:// only to a loopback host); mcs is "host:port".
  std::optional<std::string> fcm_project_id;
  std::optional<std::string> fcm_app_id;
  std::optional<std::string> fcm_api_key;
  std::optional<std::string> fcm_base_url;
  std::optional<std::string> fcm_mcs;
  std::optional<double> fcm_heartbeat_interval;
  /// True when the file has an [fcm] table.
  bool fcm = false;
};

/// Parses config text; `origin` names the file in messages.
Result<Config> parse_config(std::string_view text, const std::string& origin);
/// Reads and parses a file. Errors: unreadable, syntax, unknown_key, wrong_type.
Result<Config> load_config(const std::filesystem::path& path);
/// Every key parse_config accepts, dotted ("server", "connection.ping_interval"), from
/// the table its unknown-key check uses: what the documentation must cover.
[[nodiscard]] std::vector<std::string> config_keys();
/// $XDG_CONFIG_HOME/webpushd/config.toml, else ~/.config/webpushd/config.toml.
std::filesystem::path default_config_path();

}  // namespace webpush::cli

WEBPUSH_ERROR_DOMAIN(webpush::cli::ConfigErrc, webpush::Domain::cli, webpush::cli::to_string);
