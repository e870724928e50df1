// Internal: the state directory's files outside SQLite — private modes, the
// daemon lock — and the "store" logger.
#pragma once

#include <filesystem>
#include <string_view>

#include <spdlog/logger.h>

#include "webpush/core/error.h"
#include "webpush/event/unique_fd.h"
#include "webpush/store/errc.h"

namespace webpush::store::detail {

/// The logger named "store": the one registered under that name, or else a clone
/// of spdlog's default logger registered as "store" (so it shares the daemon's sinks).
spdlog::logger& logger();

using event::UniqueFd;

/// Makes sure `dir` is a directory of mode 0700. With `create`, a missing `dir` is
/// created with its missing parents (0700 each); without it, a missing `dir` is
/// not_found. An existing directory of another mode is chmod-ed with a warning.
/// Errors: not_found, permission, io (exists but is not a directory).
Result<void> ensure_private_dir(const std::filesystem::path& dir, bool create);

/// Creates `file` empty with mode 0600 if it does not exist. Errors: permission, io.
Result<void> create_private_file(const std::filesystem::path& file);

/// If `file` exists and its mode is not 0600, chmod-s it with a warning. A missing
/// file is fine. Errors: permission, io (not a regular file).
Result<void> fix_file_mode(const std::filesystem::path& file);

/// An exclusive flock() on `daemon.lock` in the state directory, held for this
/// object's life; the holder's pid and role are written into the file so that a
/// refused contender can name it. Never inherited across exec (O_CLOEXEC).
class DirLock {
 public:
  /// `role` is "daemon" or "client". Errors: locked ("another webpushd daemon is
  /// using DIR (pid N)"), permission, io.
  static Result<DirLock> acquire(const std::filesystem::path& dir, std::string_view role);

  DirLock(DirLock&&) noexcept = default;
  DirLock& operator=(DirLock&&) noexcept = default;
  ~DirLock();

 private:
  explicit DirLock(UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace webpush::store::detail
