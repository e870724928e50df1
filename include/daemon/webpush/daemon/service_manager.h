// The service manager's readiness protocol (sd_notify(3)): a datagram such as
// "READY=1" or "STATUS=connected" to the AF_UNIX socket named by $NOTIFY_SOCKET
// (a path, or "@name" for the abstract namespace). systemd documents the
// protocol as stable; speaking it directly keeps libsystemd (and the
// compression and crypto libraries behind it) out of the daemon.
#pragma once

#include <string_view>

#include "webpush/core/error.h"

namespace webpush::daemon {

/// Sends `state` to $NOTIFY_SOCKET; nothing (and success) when it is unset,
/// which is the case whenever no service manager waits for the daemon.
[[nodiscard]] Result<void> notify_service_manager(std::string_view state);

/// The same, to the socket named `socket_name` (the value $NOTIFY_SOCKET would have).
[[nodiscard]] Result<void> notify_service_manager(std::string_view socket_name, std::string_view state);

}  // namespace webpush::daemon
