#include "webpush/service/errc.h"

namespace webpush::service {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::invalid_config: return "invalid_config";
    case Errc::listen_failed: return "listen_failed";
    case Errc::tls_failed: return "tls_failed";
    case Errc::store_failed: return "store_failed";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

}  // namespace webpush::service
