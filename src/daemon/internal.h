// Internal to the daemon layer: its logger.
#pragma once

#include <spdlog/logger.h>

namespace webpush::daemon::detail {

/// The "daemon" logger (created on first use).
spdlog::logger& log();

}  // namespace webpush::daemon::detail
