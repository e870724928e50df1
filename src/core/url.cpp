#include "webpush/core/url.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace webpush {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::uint16_t default_port(std::string_view scheme) { return (scheme == "https" || scheme == "wss") ? 443 : 80; }

bool valid_host_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'; }

tl::unexpected<Error> bad(std::string_view text, std::string_view why) {
  return fail(core::Errc::bad_url, fmt::format("url '{}': {}", text.substr(0, 200), why));
}

}  // namespace

std::string Url::origin() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string out = scheme + "://" + (v6 ? "[" + host + "]" : host);
  if (port != default_port(scheme)) out += ":" + std::to_string(port);
  return out;
}

bool Url::is_loopback() const {
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8, written as a dotted IPv4 address (not a name such as 127.example.com).
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (const char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

Result<Url> parse_url(std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return bad(text, "contains a space, control or non-ASCII character");
  }
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) return bad(text, "no scheme (expected https://, wss://, http:// or ws://)");
  Url url;
  url.scheme = lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https" && url.scheme != "ws" && url.scheme != "wss") {
    return bad(text, fmt::format("unsupported scheme '{}'", url.scheme));
  }
  std::string_view rest = text.substr(sep + 3);
  const auto path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path = path_at == std::string_view::npos ? std::string_view{} : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos) return bad(text, "user information is not supported");
  if (authority.empty()) return bad(text, "no host");

  std::string_view host;
  std::string_view port_text;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad(text, "unterminated IPv6 literal");
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad(text, "junk after IPv6 literal");
      port_text = after.substr(1);
    }
    if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
      return bad(text, "invalid IPv6 literal");
    }
  } else {
    const auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    if (host.empty()) return bad(text, "no host");
    if (!std::all_of(host.begin(), host.end(), valid_host_char)) return bad(text, "invalid character in host");
  }
  url.host = lower(host);
  url.explicit_port = !port_text.empty() || (authority.back() == ':');
  if (url.explicit_port) {
    unsigned value = 0;
    const auto* end = port_text.data() + port_text.size();
    const auto [ptr, ec] = std::from_chars(port_text.data(), end, value);
    if (port_text.empty() || ec != std::errc{} || ptr != end || value == 0 || value > 65535) {
      return bad(text, "invalid port");
    }
    url.port = static_cast<std::uint16_t>(value);
  } else {
    url.port = default_port(url.scheme);
  }
  // Drop a fragment; keep path and query.
  if (const auto hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  url.path = path.empty() ? "/" : (path.front() == '?' ? "/" + std::string(path) : std::string(path));
  return url;
}

}  // namespace webpush
