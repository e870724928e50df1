// A strict parser for the absolute URLs webpushd meets: push endpoints, server
// URLs and VAPID audiences. Not a general URL library: no userinfo, no IPv6 zone ids.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "webpush/core/errc.h"
#include "webpush/core/error.h"

namespace webpush {

struct Url {
  std::string scheme;  ///< lower-case: http, https, ws or wss
  std::string host;    ///< lower-case; an IPv6 literal without brackets
  std::uint16_t port;  ///< explicit, or the scheme's default
  bool explicit_port;  ///< whether the text named the port
  std::string path;    ///< starts with '/', includes the query; "/" when absent

  /// scheme://host[:port], the port only when it is not the scheme's default.
  [[nodiscard]] std::string origin() const;
  /// Whether host is 127.0.0.0/8, ::1 or "localhost".
  [[nodiscard]] bool is_loopback() const;
  [[nodiscard]] bool is_secure() const { return scheme == "https" || scheme == "wss"; }
};

/// Parses an absolute http, https, ws or wss URL. Error: core::Errc::bad_url naming the problem.
Result<Url> parse_url(std::string_view text);

}  // namespace webpush
