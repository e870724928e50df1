#include "common.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "commands.h"
#include "webpush/core/url.h"

namespace webpush::cli {

std::filesystem::path default_state_dir() {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && *xdg == '/') {
    return std::filesystem::path(xdg) / "webpushd";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr && *home != '\0' ? home : "/tmp") / ".local" / "state" / "webpushd";
}

std::filesystem::path state_dir(const GlobalOptions& g) {
  return g.state_dir.empty() ? default_state_dir() : std::filesystem::path(g.state_dir);
}

void setup_logging(const GlobalOptions& g) {
  spdlog::drop("webpushd");
  auto logger = spdlog::stderr_color_mt("webpushd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v");
  spdlog::set_default_logger(logger);
  spdlog::level::level_enum level = spdlog::level::info;
  if (g.quiet) level = spdlog::level::warn;
  if (g.verbose == 1) level = spdlog::level::debug;
  if (g.verbose >= 2) level = spdlog::level::trace;
  spdlog::set_level(level);
}

void add_global_options(CLI::App& app, GlobalOptions& g) {
  app.add_option("--state-dir", g.state_dir, "where the database and control socket live")
      ->envname("WEBPUSHD_STATE_DIR")
      ->type_name("DIR");
  app.add_option("--config", g.config, "TOML configuration file")->type_name("FILE");
  app.add_option("--server", g.server, "push service WebSocket URL")->capture_default_str()->type_name("URL");
  app.add_flag("-v,--verbose", g.verbose, "more log output (repeat for more)");
  app.add_flag("-q,--quiet", g.quiet, "less log output");
}

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every other parse error is a usage error
    // (docs/cli.md), reported on one line.
    if (e.get_exit_code() == 0) return app.exit(e);
    print_error(std::string(e.what()) + " (see --help)");
    return kExitUsage;
  }
  return std::nullopt;
}

void print_error(const std::string& message) { std::fprintf(stderr, "webpushd: %s\n", message.c_str()); }

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// "http://user@proxy:3128/" → "proxy:3128"
std::string host_port(std::string value) {
  if (const auto s = value.find("://"); s != std::string::npos) value = value.substr(s + 3);
  if (const auto at = value.rfind('@'); at != std::string::npos) value = value.substr(at + 1);
  if (const auto slash = value.find('/'); slash != std::string::npos) value = value.substr(0, slash);
  return value;
}

bool excluded(const std::string& host, const std::string& no_proxy) {
  std::size_t start = 0;
  while (start <= no_proxy.size()) {
    const auto comma = no_proxy.find(',', start);
    std::string item = no_proxy.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item == "*") return true;
    if (!item.empty()) {
      if (item.front() == '.') item.erase(0, 1);
      // Host names ignore case; the server's host is lower-case already.
      std::transform(item.begin(), item.end(), item.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      if (host == item ||
          (host.size() > item.size() && host.compare(host.size() - item.size(), item.size(), item) == 0 &&
           host[host.size() - item.size() - 1] == '.')) {
        return true;
      }
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return false;
}

}  // namespace

std::string proxy_for(const std::string& server, const std::string& flag) {
  auto url = parse_url(server);
  if (!url || url->is_loopback()) return "";
  if (!flag.empty()) return host_port(flag);
  std::string value = env("https_proxy");
  if (value.empty()) value = env("HTTPS_PROXY");
  if (value.empty()) value = env("all_proxy");
  if (value.empty()) value = env("ALL_PROXY");
  if (value.empty()) return "";
  std::string no_proxy = env("no_proxy");
  if (no_proxy.empty()) no_proxy = env("NO_PROXY");
  if (excluded(url->host, no_proxy)) return "";
  // Only HTTP CONNECT proxies: a socks:// one would be spoken to in the wrong protocol.
  if (const auto s = value.find("://"); s != std::string::npos) {
    std::string scheme = value.substr(0, s);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (scheme != "http" && scheme != "https") {
      spdlog::warn("ignoring proxy {}: only HTTP CONNECT proxies (http://) are supported", value);
      return "";
    }
  }
  return host_port(value);
}

}  // namespace webpush::cli
