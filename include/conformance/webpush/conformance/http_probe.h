// HttpProbe: the application server's side of a check — one blocking HTTP
// request at a time (libcurl, keep-alive between requests), any method, any
// header lines, and every response header kept for the check to look at.
//
// Thread: one thread at a time per object.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/conformance/errc.h"
#include "webpush/conformance/ws_probe.h"
#include "webpush/core/bytes.h"
#include "webpush/core/error.h"

namespace webpush::conformance {

struct HttpAnswer {
  long status = 0;
  std::map<std::string, std::string> headers;  ///< names lower-case; the last value of a repeated header
  std::string body;                            ///< at most 64 KiB kept
  std::size_t header_bytes = 0;                ///< response headers read (a request fails past 64 KiB)

  /// The header's value, or "" when absent.
  [[nodiscard]] std::string header(std::string_view lower_name) const;
  /// "413" or "401 errno 109": the status and, when the body is an autopush
  /// error object, its errno.
  [[nodiscard]] std::string describe() const;
};

class HttpProbe {
 public:
  /// `ca_file`: extra CA certificates (PEM) for https:// endpoints.
  explicit HttpProbe(std::string ca_file, Millis timeout = Millis(10'000));
  ~HttpProbe();
  HttpProbe(const HttpProbe&) = delete;
  HttpProbe& operator=(const HttpProbe&) = delete;

  /// Sends one request; any status is an answer. Errors: http (the request
  /// could not be made or no answer came in time).
  Result<HttpAnswer> request(std::string_view method, std::string_view url, const std::vector<std::string>& headers,
                             ByteView body = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webpush::conformance
