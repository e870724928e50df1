// Internal to the event layer: the logger and the raw-descriptor protocol name.
#pragma once

#include <spdlog/logger.h>

namespace webpush::event::detail {

inline constexpr const char* kRawProtocol = "webpushd-raw";

/// The "event" logger (created on first use).
spdlog::logger& log();

/// Runs f, logging an exception instead of letting it reach a C callback.
template <class F>
void guarded(const char* what, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    try {
      log().error("{} failed: {}", what, e.what());
    } catch (...) {
    }
  } catch (...) {
  }
}

}  // namespace webpush::event::detail
