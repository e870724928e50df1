// Finds the session bus and opens the bus module (bus_module.h) the first time
// the distributor starts. The module stays loaded: GLib cannot be unloaded.
#include <sys/stat.h>

#include <cstdlib>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "bus_module.h"
#include "internal.h"
#include "webpush/event/module_loader.h"

namespace webpush::unifiedpush {

namespace {

// $XDG_RUNTIME_DIR/bus when it is a socket: where a systemd user session (and
// dbus-broker's) puts the session bus without setting the variable.
std::optional<std::string> runtime_bus_socket() {
  const char* dir = std::getenv("XDG_RUNTIME_DIR");
  if (dir == nullptr || *dir == '\0') return std::nullopt;
  std::string path = std::string(dir) + "/bus";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return std::nullopt;
  return path;
}

// A value in a D-Bus address: bytes outside [-0-9A-Za-z_/.\*] as %xx.
std::string address_escape(const std::string& value) {
  std::string out;
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain = (u >= '0' && u <= '9') || (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || c == '-' ||
                       c == '_' || c == '/' || c == '.' || c == '\\' || c == '*';
    out += plain ? std::string(1, c) : fmt::format("%{:02x}", u);
  }
  return out;
}

// The session bus's address: the configured one, $DBUS_SESSION_BUS_ADDRESS, or
// $XDG_RUNTIME_DIR/bus. Never the system bus, never X11 autolaunch.
Result<std::string> session_address(const BusOptions& options) {
  if (!options.address.empty()) return options.address;
  const char* env = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  if (env != nullptr && *env != '\0') return std::string(env);
  if (auto socket = runtime_bus_socket()) return "unix:path=" + address_escape(*socket);
  return fail(Errc::unavailable,
              "unifiedpush: no session bus ($DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus is not a "
              "socket)");
}

// Loaded once, when the distributor first starts, and kept.
Result<detail::BusModuleEntry> load_module() {
  static detail::BusModuleEntry entry = nullptr;
  if (entry != nullptr) return entry;
  auto module = event::load_module({.owner = "unifiedpush",
                                    .description = "the D-Bus module",
                                    .build_path = WEBPUSHD_UNIFIEDPUSH_MODULE_BUILD,
                                    .relative_path = WEBPUSHD_UNIFIEDPUSH_MODULE_RELATIVE,
                                    .installed_path = WEBPUSHD_UNIFIEDPUSH_MODULE_INSTALLED,
                                    .entry = detail::kBusModuleEntry});
  if (!module) return fail(Errc::unavailable, module.error().message());
  detail::log().debug("loaded {}", module->path().string());
  entry = module->entry<detail::BusModuleEntry>();
  module->keep_loaded();
  return entry;
}

}  // namespace

bool bus_support_built() noexcept { return true; }

bool session_bus_present() noexcept {
  const char* env = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  if (env != nullptr && *env != '\0') return true;
  try {
    return runtime_bus_socket().has_value();
  } catch (const std::exception&) {
    return false;
  }
}

Result<std::unique_ptr<Bus>> connect_session_bus(event::EventLoop& loop, BusOptions options) {
  auto address = session_address(options);
  if (!address) return tl::unexpected(address.error());
  options.address = std::move(*address);
  auto entry = load_module();
  if (!entry) return tl::unexpected(entry.error());
  Result<std::unique_ptr<Bus>> made = fail(Errc::unavailable, "unifiedpush: the module made no bus");
  (*entry)(detail::kBusModuleAbi, loop, std::move(options), &made);
  return made;
}

}  // namespace webpush::unifiedpush
