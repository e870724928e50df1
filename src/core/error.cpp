#include "webpush/core/error.h"

#include "webpush/core/errc.h"

namespace webpush {

std::string_view to_string(Domain d) noexcept {
  switch (d) {
    case Domain::core: return "core";
    case Domain::crypto: return "crypto";
    case Domain::protocol: return "protocol";
    case Domain::store: return "store";
    case Domain::transport: return "transport";
    case Domain::service: return "service";
    case Domain::sinks: return "sinks";
    case Domain::daemon: return "daemon";
    case Domain::cli: return "cli";
    case Domain::event: return "event";
    case Domain::load: return "load";
    case Domain::conformance: return "conformance";
    case Domain::unifiedpush: return "unifiedpush";
    case Domain::fcm: return "fcm";
  }
  return "unknown";
}

std::string Error::to_string() const {
  std::string out;
  out.reserve(message_.size() + 32);
  out += webpush::to_string(domain_);
  out += '.';
  out += code_name_;
  out += ": ";
  out += message_;
  return out;
}

Error Error::with_context(std::string_view context) const& {
  Error copy = *this;
  copy.message_.insert(0, ": ");
  copy.message_.insert(0, context);
  return copy;
}

std::ostream& operator<<(std::ostream& os, const Error& err) { return os << err.to_string(); }

namespace core {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::bad_base64: return "bad_base64";
    case Errc::bad_url: return "bad_url";
  }
  return "unknown";
}

}  // namespace core
}  // namespace webpush
