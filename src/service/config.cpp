#include "webpush/service/config.h"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

#include "webpush/core/url.h"

namespace webpush::service {

Result<ListenAddress> parse_listen(std::string_view text) {
  ListenAddress out;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(Errc::invalid_config, fmt::format("--listen '{}': expected [IPV6]:PORT", text));
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return fail(Errc::invalid_config, fmt::format("--listen '{}': expected HOST:PORT", text));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail(Errc::invalid_config, fmt::format("--listen '{}': an IPv6 address needs brackets, [::1]:PORT", text));
    }
  }
  if (host.empty()) host = "127.0.0.1";
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return fail(Errc::invalid_config,
                fmt::format("--listen '{}': port '{}' is not a number from 0 to 65535", text, port));
  }
  out.host = std::string(host);
  if (out.host != "localhost") {
    unsigned char buf[16];
    if (inet_pton(AF_INET, out.host.c_str(), buf) != 1 && inet_pton(AF_INET6, out.host.c_str(), buf) != 1) {
      return fail(Errc::invalid_config,
                  fmt::format("--listen '{}': host '{}' is not an IP address (or localhost)", text, out.host));
    }
  }
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

std::string_view fault_name(Fault fault) noexcept {
  switch (fault) {
    case Fault::uaid_dashed: return "uaid-dashed";
    case Fault::keep_unregistered: return "keep-unregistered";
    case Fault::corrupt_data: return "corrupt-data";
    case Fault::vapid_ignore_signature: return "vapid-ignore-signature";
    case Fault::no_ping_reply: return "no-ping-reply";
    case Fault::hang_on_big_frame: return "hang-on-big-frame";
  }
  return "unknown";
}

Result<Fault> parse_fault(std::string_view name) {
  std::string known;
  for (Fault f : kAllFaults) {
    if (fault_name(f) == name) return f;
    known += known.empty() ? "" : ", ";
    known += fault_name(f);
  }
  return fail(Errc::invalid_config, fmt::format("--fault '{}': no such fault (the faults are {})", name, known));
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1") return true;
  unsigned char buf[4];
  const std::string h(host);
  return inet_pton(AF_INET, h.c_str(), buf) == 1 && buf[0] == 127;
}

Result<std::string> effective_public_url(const ServiceConfig& config, std::uint16_t bound_port) {
  const bool tls = !config.tls_cert.empty();
  if (config.public_url.empty()) {
    const bool v6 = config.listen_host.find(':') != std::string::npos;
    std::string host = config.listen_host;
    // A wildcard address is no address a client can reach: name the loopback one.
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    return fmt::format("{}://{}{}{}:{}", tls ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "", bound_port);
  }
  std::string url = config.public_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  auto parsed = parse_url(url);
  if (!parsed) return fail(Errc::invalid_config, "--public-url: " + parsed.error().message());
  if (parsed->scheme != "http" && parsed->scheme != "https") {
    return fail(Errc::invalid_config,
                fmt::format("--public-url '{}': must be an http or https URL", config.public_url));
  }
  if (parsed->path.find_first_of("?#") != std::string::npos) {
    return fail(Errc::invalid_config, fmt::format("--public-url '{}': must not have a query", config.public_url));
  }
  return url;
}

}  // namespace webpush::service
