// One named spdlog logger per layer ("transport", "store", …). Header-only: only
// layers that log (and link spdlog) include it; core itself does no I/O.
#pragma once

#include <memory>

#include <spdlog/spdlog.h>

namespace webpush {

/// The logger named `name`, created as a copy of the default logger on first use.
/// Looked up on every call, so a logger that the daemon or a test registers
/// later is the one used.
inline spdlog::logger& layer_logger(const char* name) {
  std::shared_ptr<spdlog::logger> l = spdlog::get(name);
  if (!l) {
    l = spdlog::default_logger()->clone(name);
    spdlog::register_logger(l);
  }
  return *l;
}

}  // namespace webpush
