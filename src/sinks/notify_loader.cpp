// Opens the notify sink's module (notify_module.h) the first time a notify sink
// is made. It stays loaded: GLib cannot be unloaded.
#include "internal.h"
#include "notify_module.h"
#include "webpush/event/module_loader.h"

namespace webpush::sinks {

bool notify_sink_built() noexcept { return true; }

namespace {

// Loaded once, on the first notify sink, and kept.
Result<detail::NotifyModuleEntry> load_module() {
  static detail::NotifyModuleEntry entry = nullptr;
  if (entry != nullptr) return entry;
  auto module = event::load_module({.owner = "notify",
                                    .description = "the notify module",
                                    .build_path = WEBPUSHD_NOTIFY_MODULE_BUILD,
                                    .relative_path = WEBPUSHD_NOTIFY_MODULE_RELATIVE,
                                    .installed_path = WEBPUSHD_NOTIFY_MODULE_INSTALLED,
                                    .entry = detail::kNotifyModuleEntry});
  if (!module) return fail(Errc::unavailable, module.error().message());
  detail::log().debug("notify: loaded {}", module->path().string());
  entry = module->entry<detail::NotifyModuleEntry>();
  module->keep_loaded();
  return entry;
}

}  // namespace

Result<std::unique_ptr<Sink>> make_notify_sink(event::EventLoop& loop, NotifyOptions options) {
  auto entry = load_module();
  if (!entry) return tl::unexpected(entry.error());
  Result<std::unique_ptr<Sink>> made = fail(Errc::unavailable, "notify: the module made no sink");
  (*entry)(detail::kNotifyModuleAbi, loop, std::move(options), &made);
  return made;
}

}  // namespace webpush::sinks
