// Error codes of the service layer (the embedded push service, `webpushd serve`).
#pragma once

#include <string_view>

#include "webpush/core/error.h"

namespace webpush::service {

enum class Errc {
  invalid_config,  ///< a configuration value is malformed or out of range (listen address, public URL, …)
  listen_failed,   ///< the listening socket could not be opened (address in use, permission, no such address)
  tls_failed,      ///< the TLS certificate or private key could not be loaded
  store_failed,    ///< the service database could not be opened or written
  internal,        ///< libwebsockets, OpenSSL or the OS failed where it should not
};

std::string_view to_string(Errc e) noexcept;

}  // namespace webpush::service

WEBPUSH_ERROR_DOMAIN(webpush::service::Errc, webpush::Domain::service, webpush::service::to_string);
