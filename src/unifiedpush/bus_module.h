// The D-Bus side of the distributor is a loadable module
// (webpushd-unifiedpush.so, gdbus_bus.cpp) so that GLib and GDBus are mapped
// into the daemon only when the distributor starts. bus_loader.cpp opens it;
// this is the one function between them.
#pragma once

#include <memory>

#include "webpush/event/module_loader.h"
#include "webpush/unifiedpush/bus.h"
#include "webpushd_version.h"

namespace webpush::unifiedpush::detail {

/// The module's entry point, found with dlsym(kBusModuleEntry); its `abi` is
/// the loader's kBusModuleAbi (the version). `options.address` is the session
/// bus's address, already resolved (never empty). On success *out holds a Bus
/// that is connecting; it owns everything GLib gives it.
using BusModuleEntry = event::ModuleFactory<BusOptions, Bus>;
inline constexpr const char* kBusModuleEntry = "webpushd_unifiedpush_bus_create";
inline constexpr const char* kBusModuleAbi = WEBPUSHD_VERSION;

}  // namespace webpush::unifiedpush::detail
