// Error codes of the transport layer.
#pragma once

#include <string_view>

#include "webpush/core/error.h"

namespace webpush::transport {

enum class Errc {
  setup,    ///< the event loop or a descriptor could not be set up
  bad_url,  ///< server URL unusable (scheme, plain ws:// to a non-loopback host)
  connect,  ///< a connection could not be started
  dns,      ///< the server's host name does not resolve
};

std::string_view to_string(Errc e) noexcept;

}  // namespace webpush::transport

WEBPUSH_ERROR_DOMAIN(webpush::transport::Errc, webpush::Domain::transport, webpush::transport::to_string);
