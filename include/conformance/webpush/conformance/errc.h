// Error codes of the conformance layer (`webpushd check-service`).
#pragma once

#include <string_view>

#include "webpush/core/error.h"

namespace webpush::conformance {

enum class Errc {
  bad_url,    ///< the service's URL is unusable
  connect,    ///< name resolution or the TCP connection failed
  tls,        ///< the TLS handshake or the certificate check failed
  handshake,  ///< the WebSocket upgrade was refused or answered wrongly
  protocol,   ///< the service broke the WebSocket framing rules
  timeout,    ///< nothing arrived in time
  closed,     ///< the service closed the connection
  io,         ///< reading or writing the socket failed
  http,       ///< an HTTP request could not be made
  bad_reply,  ///< a reply that is not what the protocol says
  setup,      ///< keys, randomness or an option the run needs
};

std::string_view to_string(Errc e) noexcept;

}  // namespace webpush::conformance

WEBPUSH_ERROR_DOMAIN(webpush::conformance::Errc, webpush::Domain::conformance, webpush::conformance::to_string);
