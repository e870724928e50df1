// Finds the session bus and opens the bus module (bus_module.h) the first time
// the distributor starts. The module stays loaded: GLib cannot be unloaded.
#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "bus_module.h"
#include "internal.h"

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

// Where the module may be, first match wins: this build's tree (tests and
// programs run from it), beside an install unpacked anywhere (../<libdir>/webpushd
// relative to the program), and where this build installs it.
std::vector<std::filesystem::path> module_candidates() {
  std::vector<std::filesystem::path> out{WEBPUSHD_UNIFIEDPUSH_MODULE_BUILD};
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) out.push_back(self.parent_path().parent_path() / WEBPUSHD_UNIFIEDPUSH_MODULE_RELATIVE);
  out.emplace_back(WEBPUSHD_UNIFIEDPUSH_MODULE_INSTALLED);
  return out;
}

Result<detail::BusModuleEntry> load_module() {
  static detail::BusModuleEntry entry = nullptr;
  if (entry != nullptr) return entry;
  std::string tried;
  for (const auto& path : module_candidates()) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      tried += (tried.empty() ? "" : ", ") + path.string();
      continue;
    }
    void* module = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (module == nullptr) {
      const char* why = ::dlerror();
      return fail(Errc::unavailable, fmt::format("unifiedpush: cannot load {}", why != nullptr ? why : path.string()));
    }
    entry = reinterpret_cast<detail::BusModuleEntry>(::dlsym(module, detail::kBusModuleEntry));
    if (entry == nullptr) {
      return fail(Errc::unavailable, fmt::format("unifiedpush: {} is not the UnifiedPush bus module", path.string()));
    }
    detail::log().debug("unifiedpush: loaded {}", path.string());
    return entry;
  }
  return fail(Errc::unavailable, fmt::format("unifiedpush: the D-Bus module is not installed (looked for {})", tried));
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
