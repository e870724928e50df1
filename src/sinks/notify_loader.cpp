// Opens the notify sink's module (notify_module.h) the first time a notify sink
// is made. It stays loaded: GLib cannot be unloaded.
#include <dlfcn.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "internal.h"
#include "notify_module.h"

namespace webpush::sinks {

bool notify_sink_built() noexcept { return true; }

namespace {

// Where the module may be, first match wins: this build's tree (tests and
// programs run from it), beside an install unpacked anywhere (../<libdir>/webpushd
// relative to the program), and where this build installs it.
std::vector<std::filesystem::path> module_candidates() {
  std::vector<std::filesystem::path> out{WEBPUSHD_NOTIFY_MODULE_BUILD};
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) out.push_back(self.parent_path().parent_path() / WEBPUSHD_NOTIFY_MODULE_RELATIVE);
  out.emplace_back(WEBPUSHD_NOTIFY_MODULE_INSTALLED);
  return out;
}

Result<detail::NotifyModuleEntry> load_module() {
  static detail::NotifyModuleEntry entry = nullptr;
  if (entry != nullptr) return entry;
  std::string tried;
  for (const auto& path : module_candidates()) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      tried += (tried.empty() ? "" : ", ") + path.string();
      continue;
    }
    void* module = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (module == nullptr) return fail(Errc::unavailable, fmt::format("notify: cannot load {}", ::dlerror()));
    entry = reinterpret_cast<detail::NotifyModuleEntry>(::dlsym(module, detail::kNotifyModuleEntry));
    if (entry == nullptr)
      return fail(Errc::unavailable, fmt::format("notify: {} is not the notify module", path.string()));
    detail::log().debug("notify: loaded {}", path.string());
    return entry;
  }
  return fail(Errc::unavailable, fmt::format("notify: the notify module is not installed (looked for {})", tried));
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
