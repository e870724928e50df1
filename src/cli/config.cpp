#include "config.h"

#include <arpa/inet.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace webpush::cli {

std::string_view to_string(ConfigErrc e) noexcept {
  switch (e) {
    case ConfigErrc::unreadable: return "unreadable";
    case ConfigErrc::syntax: return "syntax";
    case ConfigErrc::unknown_key: return "unknown_key";
    case ConfigErrc::wrong_type: return "wrong_type";
  }
  return "unknown";
}

namespace {

std::string where(const std::string& origin, const toml::node& node) {
  return fmt::format("{}:{}", origin, node.source().begin.line);
}

// Reads one value, checking its type; numbers may be written as integers or floats.
// NaN and the infinities are outside every range.
bool in_range(double v, NumberRange r) { return std::isfinite(v) && v >= r.min && v <= r.max; }

template <class T>
Result<void> read(const toml::table& table, const std::string& prefix, const char* key, std::optional<T>& out,
                  const std::string& origin, NumberRange range = {0, 0}) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return {};
  const std::string name = prefix.empty() ? key : prefix + "." + key;
  if constexpr (std::is_same_v<T, std::string>) {
    if (auto v = node->value<std::string>(); v && node->is_string()) {
      out = *v;
      return {};
    }
    return fail(ConfigErrc::wrong_type, fmt::format("{}: '{}' must be a string", where(origin, *node), name));
  } else if constexpr (std::is_same_v<T, bool>) {
    if (node->is_boolean()) {
      out = *node->value<bool>();
      return {};
    }
    return fail(ConfigErrc::wrong_type, fmt::format("{}: '{}' must be true or false", where(origin, *node), name));
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    if (node->is_integer() && in_range(static_cast<double>(*node->value<std::int64_t>()), range)) {
      out = *node->value<std::int64_t>();
      return {};
    }
    return fail(ConfigErrc::wrong_type, fmt::format("{}: '{}' must be an integer from {} to {}", where(origin, *node),
                                                    name, range.min, range.max));
  } else {
    // value<double>() is empty for an integer beyond ±2^53 (not exact as a double), far outside every range.
    const auto v = node->is_integer() || node->is_floating_point() ? node->value<double>() : std::nullopt;
    if (v && in_range(*v, range)) {
      out = *v;
      return {};
    }
    return fail(ConfigErrc::wrong_type, fmt::format("{}: '{}' must be a number from {} to {}", where(origin, *node),
                                                    name, range.min, range.max));
  }
}

// Every key the file accepts, in the order of the example file; `table` is empty for
// the keys outside any table. The parser's checks and config_keys() both read it.
struct KnownKey {
  std::string_view table;
  std::string_view key;
};
constexpr KnownKey kKnownKeys[] = {
    {"", "server"},
    {"", "log_level"},
    {"connection", "ping_interval"},
    {"connection", "request_timeout"},
    {"connection", "backoff_initial"},
    {"connection", "backoff_max"},
    {"connection", "insecure"},
    {"connection", "ca_file"},
    {"connection", "proxy"},
    {"sinks", "notify"},
    {"sinks", "jsonl"},
    {"sinks", "exec"},
    {"sinks", "exec_timeout"},
    {"retention", "max_age_days"},
    {"retention", "max_messages"},
    {"unifiedpush", "enabled"},
    {"unifiedpush", "call_timeout"},
    {"fcm", "project_id"},
    {"fcm", "app_id"},
    {"fcm", "api_key"},
    {"fcm", "base_url"},
    {"fcm", "mcs"},
    {"fcm", "heartbeat_interval"},
};

// The names `prefix` may hold: its keys, and at the top level the tables too.
std::set<std::string, std::less<>> known_keys(std::string_view prefix) {
  std::set<std::string, std::less<>> known;
  for (const auto& k : kKnownKeys) {
    if (k.table == prefix) known.emplace(k.key);
    if (prefix.empty() && !k.table.empty()) known.emplace(k.table);
  }
  return known;
}

Result<void> check_keys(const toml::table& table, const std::string& prefix, const std::string& origin) {
  const auto known = known_keys(prefix);
  for (const auto& [key, node] : table) {
    const std::string k(key.str());
    if (known.count(k) == 0) {
      return fail(ConfigErrc::unknown_key,
                  fmt::format("{}: unknown key '{}'", where(origin, node), prefix.empty() ? k : prefix + "." + k));
    }
  }
  return {};
}

#define WEBPUSH_TRY(expr)                                         \
  do {                                                            \
    if (auto _r = (expr); !_r) return tl::unexpected(_r.error()); \
  } while (0)

Result<toml::table> parse_toml(std::string_view text, const std::string& origin) {
  try {
    // Debian's toml++ is built with exceptions: parse errors arrive as one.
    return toml::parse(text, origin);
  } catch (const toml::parse_error& err) {
    return fail(ConfigErrc::syntax,
                fmt::format("{}:{}: {}", origin, err.source().begin.line, std::string(err.description())));
  }
}

// The keys outside any table.
Result<void> read_top_level(const toml::table& root, Config& c, const std::string& origin) {
  WEBPUSH_TRY(check_keys(root, "", origin));
  WEBPUSH_TRY(read(root, "", "server", c.server, origin));
  WEBPUSH_TRY(read(root, "", "log_level", c.log_level, origin));
  if (c.log_level && *c.log_level != "trace" && *c.log_level != "debug" && *c.log_level != "info" &&
      *c.log_level != "warn" && *c.log_level != "error") {
    return fail(ConfigErrc::wrong_type, fmt::format("{}: 'log_level' must be trace, debug, info, warn or error",
                                                    where(origin, *root.get("log_level"))));
  }
  return {};
}

// The table `name`; null when absent.
Result<const toml::table*> section(const toml::table& root, const char* name, const std::string& origin) {
  const toml::node* node = root.get(name);
  if (node == nullptr) return nullptr;
  if (!node->is_table()) {
    return fail(ConfigErrc::wrong_type,
                fmt::format("{}: '{}' must be a table ([{}])", where(origin, *node), name, name));
  }
  return node->as_table();
}

Result<void> read_connection(const toml::table& t, Config& c, const std::string& origin) {
  WEBPUSH_TRY(check_keys(t, "connection", origin));
  WEBPUSH_TRY(read(t, "connection", "ping_interval", c.ping_interval, origin, kPingIntervalRange));
  WEBPUSH_TRY(read(t, "connection", "request_timeout", c.request_timeout, origin, kRequestTimeoutRange));
  WEBPUSH_TRY(read(t, "connection", "backoff_initial", c.backoff_initial, origin, kBackoffInitialRange));
  WEBPUSH_TRY(read(t, "connection", "backoff_max", c.backoff_max, origin, kBackoffMaxRange));
  WEBPUSH_TRY(read(t, "connection", "insecure", c.insecure, origin));
  WEBPUSH_TRY(read(t, "connection", "ca_file", c.ca_file, origin));
  WEBPUSH_TRY(read(t, "connection", "proxy", c.proxy, origin));
  return {};
}

Result<void> read_sinks(const toml::table& t, Config& c, const std::string& origin) {
  WEBPUSH_TRY(check_keys(t, "sinks", origin));
  WEBPUSH_TRY(read(t, "sinks", "notify", c.notify, origin));
  WEBPUSH_TRY(read(t, "sinks", "jsonl", c.jsonl, origin));
  WEBPUSH_TRY(read(t, "sinks", "exec", c.exec, origin));
  WEBPUSH_TRY(read(t, "sinks", "exec_timeout", c.exec_timeout, origin, kExecTimeoutRange));
  return {};
}

Result<void> read_retention(const toml::table& t, Config& c, const std::string& origin) {
  WEBPUSH_TRY(check_keys(t, "retention", origin));
  WEBPUSH_TRY(read(t, "retention", "max_age_days", c.retention_max_age_days, origin, kRetentionDaysRange));
  WEBPUSH_TRY(read(t, "retention", "max_messages", c.retention_max_messages, origin, kRetentionMessagesRange));
  return {};
}

Result<void> read_unifiedpush(const toml::table& t, Config& c, const std::string& origin) {
  WEBPUSH_TRY(check_keys(t, "unifiedpush", origin));
  WEBPUSH_TRY(read(t, "unifiedpush", "enabled", c.unifiedpush_enabled, origin));
  WEBPUSH_TRY(read(t, "unifiedpush", "call_timeout", c.unifiedpush_call_timeout, origin, kCallTimeoutRange));
  return {};
}

// "localhost", "[::1]" or an IPv4 literal in 127.0.0.0/8.
bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "[::1]") return true;
  in_addr v4{};
  return ::inet_pton(AF_INET, std::string(host).c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

// "http(s)://host[:port][/path]": https, or http to a loopback host.
bool valid_base_url(std::string_view url) {
  const bool https = url.starts_with("https://");
  if (!https && !url.starts_with("http://")) return false;
  std::string_view rest = url.substr(https ? 8 : 7);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.find_first_of(" @") != std::string_view::npos) return false;
  if (https) return true;
  const auto colon = authority.starts_with("[") ? authority.find("]:") : authority.rfind(':');
  const std::string_view host =
      colon == std::string_view::npos ? authority : authority.substr(0, colon + (authority.starts_with("[") ? 1 : 0));
  return is_loopback_host(host);
}

// "host:port" with a port of 1 to 65535.
bool valid_host_port(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view port = text.substr(colon + 1);
  int n = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  return ec == std::errc() && end == port.data() + port.size() && n >= 1 && n <= 65535;
}

Result<void> check_fcm(const toml::table& t, const Config& c, const std::string& origin) {
  const int given = int(c.fcm_project_id.has_value()) + int(c.fcm_app_id.has_value()) + int(c.fcm_api_key.has_value());
  if (given != 0 && given != 3) {
    return fail(ConfigErrc::wrong_type,
                fmt::format("{}: [fcm] needs all of 'project_id', 'app_id' and 'api_key', or none", where(origin, t)));
  }
  if (c.fcm_base_url && !valid_base_url(*c.fcm_base_url)) {
    return fail(ConfigErrc::wrong_type, fmt::format("{}: 'fcm.base_url' must be an https:// URL (http:// only to a "
                                                    "loopback host)",
                                                    where(origin, *t.get("base_url"))));
  }
  if (c.fcm_mcs && !valid_host_port(*c.fcm_mcs)) {
    return fail(ConfigErrc::wrong_type,
                fmt::format("{}: 'fcm.mcs' must be HOST:PORT (port 1 to 65535)", where(origin, *t.get("mcs"))));
  }
  return {};
}

Result<void> read_fcm(const toml::table& t, Config& c, const std::string& origin) {
  WEBPUSH_TRY(check_keys(t, "fcm", origin));
  c.fcm = true;
  WEBPUSH_TRY(read(t, "fcm", "project_id", c.fcm_project_id, origin));
  WEBPUSH_TRY(read(t, "fcm", "app_id", c.fcm_app_id, origin));
  WEBPUSH_TRY(read(t, "fcm", "api_key", c.fcm_api_key, origin));
  WEBPUSH_TRY(read(t, "fcm", "base_url", c.fcm_base_url, origin));
  WEBPUSH_TRY(read(t, "fcm", "mcs", c.fcm_mcs, origin));
  WEBPUSH_TRY(read(t, "fcm", "heartbeat_interval", c.fcm_heartbeat_interval, origin, kFcmHeartbeatRange));
  return check_fcm(t, c, origin);
}

}  // namespace

Result<Config> parse_config(std::string_view text, const std::string& origin) {
  auto root = parse_toml(text, origin);
  if (!root) return tl::unexpected(root.error());
  Config c;
  WEBPUSH_TRY(read_top_level(*root, c, origin));
  const struct {
    const char* name;
    Result<void> (*read)(const toml::table&, Config&, const std::string&);
  } sections[] = {{"connection", read_connection},
                  {"sinks", read_sinks},
                  {"retention", read_retention},
                  {"unifiedpush", read_unifiedpush},
                  {"fcm", read_fcm}};
  for (const auto& s : sections) {
    auto table = section(*root, s.name, origin);
    if (!table) return tl::unexpected(table.error());
    if (*table) WEBPUSH_TRY(s.read(**table, c, origin));
  }
  return c;
}

Result<Config> load_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ConfigErrc::unreadable, fmt::format("cannot read config file {}", path.string()));
  std::ostringstream s;
  s << in.rdbuf();
  return parse_config(s.str(), path.string());
}

std::vector<std::string> config_keys() {
  std::vector<std::string> out;
  for (const auto& k : kKnownKeys) {
    out.push_back(k.table.empty() ? std::string(k.key) : fmt::format("{}.{}", k.table, k.key));
  }
  return out;
}

std::filesystem::path default_config_path() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg == '/') {
    return std::filesystem::path(xdg) / "webpushd" / "config.toml";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr && *home != '\0' ? home : "/tmp") / ".config" / "webpushd" /
         "config.toml";
}

}  // namespace webpush::cli
