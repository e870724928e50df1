// One named spdlog logger per layer ("transport", "store", …). Header-only: only
// layers that log (and link spdlog) include it; core itself does no I/O.
#pragma once

#include <memory>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace webpush {

/// The logger named `name`, created on first use as a copy of the default
/// logger the program configured — or, if it configured none, on stderr:
/// spdlog's own default writes to stdout, which is data for webpushd's
/// commands and benchmarks. Looked up on every call, so a logger that the
/// daemon or a test registers later is the one used.
inline spdlog::logger& layer_logger(const char* name) {
  std::shared_ptr<spdlog::logger> l = spdlog::get(name);
  if (!l) {
    const auto base = spdlog::default_logger();
    if (base->name().empty()) {  // spdlog's built-in stdout logger
      l = std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
      l->set_level(base->level());
    } else {
      l = base->clone(name);
    }
    spdlog::register_logger(l);
  }
  return *l;
}

}  // namespace webpush
