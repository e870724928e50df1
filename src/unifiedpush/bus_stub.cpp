// A build without gio-2.0: no D-Bus, so no distributor.
#include "webpush/unifiedpush/bus.h"

namespace webpush::unifiedpush {

bool bus_support_built() noexcept { return false; }

bool session_bus_present() noexcept { return false; }

Result<std::unique_ptr<Bus>> connect_session_bus(event::EventLoop& /*loop*/, BusOptions /*options*/) {
  return fail(Errc::unavailable, "unifiedpush: this build has no D-Bus support (built without gio-2.0)");
}

}  // namespace webpush::unifiedpush
