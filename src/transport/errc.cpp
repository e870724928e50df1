#include "webpush/transport/errc.h"

namespace webpush::transport {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::setup: return "setup";
    case Errc::bad_url: return "bad_url";
    case Errc::connect: return "connect";
    case Errc::dns: return "dns";
    case Errc::tls: return "tls";
    case Errc::timeout: return "timeout";
    case Errc::too_large: return "too_large";
    case Errc::io: return "io";
    case Errc::bad_request: return "bad_request";
  }
  return "unknown";
}

}  // namespace webpush::transport
