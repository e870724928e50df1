// The notify sink is a loadable module (webpushd-notify.so, notify.cpp) so that
// libnotify and GLib are mapped into the daemon only when a notify sink is
// configured. notify_loader.cpp opens it; this is the one function between them.
#pragma once

#include <memory>

#include "webpush/event/module_loader.h"
#include "webpush/sinks/notify.h"
#include "webpushd_version.h"

namespace webpush::sinks::detail {

/// The module's entry point, found with dlsym(kNotifyModuleEntry); its `abi`
/// is the loader's kNotifyModuleAbi (the version).
using NotifyModuleEntry = event::ModuleFactory<NotifyOptions, Sink>;
inline constexpr const char* kNotifyModuleEntry = "webpushd_notify_sink_create";
inline constexpr const char* kNotifyModuleAbi = WEBPUSHD_VERSION;

}  // namespace webpush::sinks::detail
