// Loading a module of this build (a shared object the programs open with
// dlopen when a feature needs it, so that its libraries are mapped only then):
// where it may be, opening it, and finding its one entry point.
//
// Thread: any, but dlopen runs the module's constructors on the calling
// thread; the loaders call it from the loop thread.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "webpush/core/error.h"

namespace webpush::event {

class EventLoop;

/// The shape of a module's entry point that makes one `Made` on the loop from
/// `Options`. `abi` is the loader's build version: a module of another build
/// refuses (its types may differ) and says so in *out. On success *out owns
/// what was made.
template <class Options, class Made>
using ModuleFactory = void (*)(const char* abi, EventLoop& loop, Options options, Result<std::unique_ptr<Made>>* out);

/// A module and what is looked up in it.
struct ModuleSpec {
  std::string owner;                     ///< starts every error message: "notify"
  std::string description;               ///< what the module is, in errors: "the notify module"
  std::filesystem::path build_path;      ///< in this build's tree (tests and programs run from it)
  std::filesystem::path relative_path;   ///< below an install's prefix: "<libdir>/webpushd/x.so"
  std::filesystem::path installed_path;  ///< where this build installs it
  std::string entry;                     ///< the symbol of its entry point
};

/// Where the module may be, first match wins: build_path; relative_path
/// below the directory above the running program's (an install unpacked
/// anywhere: <prefix>/bin/program and <prefix>/<libdir>/webpushd/x.so); and
/// installed_path.
[[nodiscard]] std::vector<std::filesystem::path> module_candidates(const ModuleSpec& spec);

/// An open module: owns the dlopen handle and closes it when destroyed, unless
/// keep_loaded() was called. Move-only.
class LoadedModule {
 public:
  LoadedModule(LoadedModule&& other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)),
        entry_(std::exchange(other.entry_, nullptr)),
        path_(std::move(other.path_)) {}
  LoadedModule& operator=(LoadedModule&& other) noexcept;
  LoadedModule(const LoadedModule&) = delete;
  LoadedModule& operator=(const LoadedModule&) = delete;
  ~LoadedModule();

  /// The entry point (ModuleSpec::entry) as the function type `F` the module
  /// and its loader agree on; valid while the module is loaded.
  template <class F>
  [[nodiscard]] F entry() const noexcept {
    return reinterpret_cast<F>(entry_);
  }
  /// The file that was opened.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// Leaves the module loaded for the rest of the process (a module that maps
  /// GLib must stay: GLib cannot be unloaded); the entry point stays valid.
  void keep_loaded() noexcept { handle_ = nullptr; }

 private:
  friend Result<LoadedModule> load_module(const ModuleSpec& spec);
  LoadedModule(void* handle, void* entry, std::filesystem::path path) noexcept
      : handle_(handle), entry_(entry), path_(std::move(path)) {}

  void* handle_;
  void* entry_;
  std::filesystem::path path_;
};

/// Opens the first of module_candidates(spec) that exists (RTLD_NOW |
/// RTLD_LOCAL) and looks up spec.entry in it. Errors (Errc::setup, each
/// message starting with "<owner>: "): none of the candidates exists ("... is
/// not installed (looked for a, b, c)"); the file cannot be loaded (the
/// loader's reason); it has no such symbol ("... is not <description>"). A
/// candidate that exists but cannot be loaded is an error, not skipped.
Result<LoadedModule> load_module(const ModuleSpec& spec);

}  // namespace webpush::event
