// Internal to the unifiedpush layer: its logger.
#pragma once

#include "webpush/core/log.h"

namespace webpush::unifiedpush::detail {

/// The "unifiedpush" logger.
inline spdlog::logger& log() { return layer_logger("unifiedpush"); }

}  // namespace webpush::unifiedpush::detail
