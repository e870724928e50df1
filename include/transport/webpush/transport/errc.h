// Error codes of the transport layer.
#pragma once

#include <string_view>

#include "webpush/core/error.h"

namespace webpush::transport {

enum class Errc {
  setup,        ///< the event loop, a descriptor or a TLS context could not be set up
  bad_url,      ///< URL or address unusable (scheme, plain ws:// or http:// to a non-loopback host, port)
  connect,      ///< a connection could not be started, or the server refused it
  dns,          ///< the server's host name does not resolve
  tls,          ///< the TLS handshake failed or the server's certificate is not trusted
  timeout,      ///< no complete answer within the time allowed
  too_large,    ///< an answer over the size limit
  io,           ///< the connection failed midway (reset, closed early, an unparsable answer)
  bad_request,  ///< a request the client will not send (method or header unusable)
};

std::string_view to_string(Errc e) noexcept;

}  // namespace webpush::transport

WEBPUSH_ERROR_DOMAIN(webpush::transport::Errc, webpush::Domain::transport, webpush::transport::to_string);
