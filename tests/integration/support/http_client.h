// A raw HTTP/1.1 client: one request per connection ("Connection: close"),
// the response's status, headers (names lower-cased) and body.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "support.h"

namespace webpush::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;

  /// A header value, nullopt if absent. `name` is matched case-insensitively.
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
  /// The body parsed as JSON (throws SupportError if it is not).
  [[nodiscard]] nlohmann::json json() const;
};

struct HttpRequestOptions {
  std::string host = "127.0.0.1";
  /// Send "Content-Length" (also 0 for an empty body). Off: no length header at all.
  bool content_length = true;
  Millis timeout = kDefaultTimeout;
};

/// Sends `method path` with `headers` and `body`; returns the response.
/// Throws SupportError on a connection failure, timeout or malformed response.
HttpResult http_request(std::uint16_t port, std::string_view method, std::string_view path, const Headers& headers = {},
                        std::string_view body = {}, const HttpRequestOptions& options = {});

/// The path of an absolute URL ("http://h:1/wpush/v1/x" → "/wpush/v1/x").
std::string url_path(std::string_view url);

}  // namespace webpush::testing
