#include "webpush/event/module_loader.h"

#include <dlfcn.h>

#include <system_error>

#include <fmt/format.h>

#include "webpush/event/errc.h"

namespace webpush::event {

std::vector<std::filesystem::path> module_candidates(const ModuleSpec& spec) {
  std::vector<std::filesystem::path> out{spec.build_path};
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) out.push_back(self.parent_path().parent_path() / spec.relative_path);
  out.push_back(spec.installed_path);
  return out;
}

LoadedModule& LoadedModule::operator=(LoadedModule&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) ::dlclose(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
    entry_ = std::exchange(other.entry_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

LoadedModule::~LoadedModule() {
  if (handle_ != nullptr) ::dlclose(handle_);
}

Result<LoadedModule> load_module(const ModuleSpec& spec) {
  std::string tried;
  for (const auto& path : module_candidates(spec)) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      tried += (tried.empty() ? "" : ", ") + path.string();
      continue;
    }
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      return fail(Errc::setup, fmt::format("{}: cannot load {}", spec.owner, why != nullptr ? why : path.string()));
    }
    // Owned from here: closed again if it is not the module.
    LoadedModule module(handle, ::dlsym(handle, spec.entry.c_str()), path);
    if (module.entry_ == nullptr) {
      return fail(Errc::setup, fmt::format("{}: {} is not {}", spec.owner, path.string(), spec.description));
    }
    return module;
  }
  return fail(Errc::setup, fmt::format("{}: {} is not installed (looked for {})", spec.owner, spec.description, tried));
}

}  // namespace webpush::event
