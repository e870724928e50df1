#include "files.h"

#include "webpush/core/log.h"
#include "webpush/store/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace webpush::store::detail {

namespace {

constexpr mode_t kDirMode = 0700;
constexpr mode_t kFileMode = 0600;

Errc errno_code(int err) noexcept {
  switch (err) {
    case EACCES:
    case EPERM:
    case EROFS: return Errc::permission;
    case ENOENT: return Errc::not_found;
    default: return Errc::io;
  }
}

tl::unexpected<Error> errno_error(int err, std::string message) {
  message += ": ";
  message += std::strerror(err);
  return tl::unexpected(Error(errno_code(err), std::move(message)));
}

Result<void> correct_mode(const std::filesystem::path& path, mode_t have, mode_t want, std::string_view what) {
  if ((have & 07777) == want) return {};
  if (::chmod(path.c_str(), want) != 0) {
    return errno_error(errno, fmt::format("cannot change the mode of {} {} from {:04o} to {:04o}", what, path.string(),
                                          have & 07777, want));
  }
  logger().warn("{} {} had mode {:04o}; changed to {:04o}", what, path.string(), have & 07777, want);
  return {};
}

}  // namespace

spdlog::logger& logger() { return layer_logger("store"); }

Result<void> ensure_private_dir(const std::filesystem::path& dir, bool create) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return fail(Errc::io, fmt::format("state directory {} exists but is not a directory", dir.string()));
    }
    return correct_mode(dir, st.st_mode, kDirMode, "state directory");
  }
  const int err = errno;
  if (err != ENOENT || !create) {
    return errno_error(err, fmt::format("cannot use state directory {}", dir.string()));
  }
  // mkdir -p, each missing component 0700 (the XDG base directory rule).
  std::filesystem::path partial;
  for (const auto& part : dir) {
    partial /= part;
    if (::mkdir(partial.c_str(), kDirMode) != 0 && errno != EEXIST) {
      return errno_error(errno, fmt::format("cannot create state directory {}", partial.string()));
    }
  }
  // mkdir() applies the umask; the state directory itself must be exactly 0700.
  if (::chmod(dir.c_str(), kDirMode) != 0) {
    return errno_error(errno, fmt::format("cannot set the mode of state directory {}", dir.string()));
  }
  return {};
}

Result<void> create_private_file(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, kFileMode);
  if (fd < 0) {
    if (errno == EEXIST) return {};
    return errno_error(errno, fmt::format("cannot create {}", file.string()));
  }
  UniqueFd owner(fd);
  // O_CREAT applies the umask, which can only remove bits; fchmod makes it exact.
  if (::fchmod(fd, kFileMode) != 0) return errno_error(errno, fmt::format("cannot set the mode of {}", file.string()));
  return {};
}

Result<void> fix_file_mode(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return errno_error(errno, fmt::format("cannot stat {}", file.string()));
  }
  if (!S_ISREG(st.st_mode)) return fail(Errc::io, fmt::format("{} is not a regular file", file.string()));
  return correct_mode(file, st.st_mode, kFileMode, "file");
}

Result<DirLock> DirLock::acquire(const std::filesystem::path& dir, std::string_view role) {
  const std::filesystem::path file = dir / kLockFileName;
  UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, kFileMode));
  if (!fd.valid()) return errno_error(errno, fmt::format("cannot open lock file {}", file.string()));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error(errno, fmt::format("cannot stat {}", file.string()));
  if (auto ok = correct_mode(file, st.st_mode, kFileMode, "lock file"); !ok) return tl::unexpected(ok.error());

  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) return errno_error(err, fmt::format("cannot lock {}", file.string()));
    // Held: name the holder from what it wrote ("<pid> <role>\n"). It may not have
    // written yet, so an empty or partial file is expected now and then.
    char buf[64] = {};
    const ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
    const std::string_view text(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    long pid = 0;
    const auto [rest, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
    const std::string_view holder_role = ec == std::errc() && rest < text.data() + text.size()
                                             ? text.substr(static_cast<std::size_t>(rest - text.data()) + 1)
                                             : std::string_view();
    std::string who = "another webpushd process";
    if (holder_role.starts_with("daemon")) who = "another webpushd daemon";
    if (holder_role.starts_with("client")) who = "a webpushd client";
    std::string pid_text = ec == std::errc() && pid > 0 ? fmt::format("pid {}", pid) : "pid unknown";
    return fail(Errc::locked, fmt::format("{} is using {} ({})", who, dir.string(), pid_text));
  }
  const std::string content = fmt::format("{} {}\n", ::getpid(), role);
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), content.data(), content.size(), 0) != static_cast<ssize_t>(content.size())) {
    return errno_error(errno, fmt::format("cannot write lock file {}", file.string()));
  }
  return DirLock(std::move(fd));
}

DirLock::~DirLock() {
  // Clear the pid before the lock goes with the descriptor, so the file never names
  // a process that no longer holds it (unless this one is killed).
  if (!fd_.valid()) return;
  // A failure leaves a stale pid that the next holder overwrites: nothing to report from a destructor.
  // (Not a (void) cast: with _FORTIFY_SOURCE, as Debian builds, GCC warns through one.)
  [[maybe_unused]] const int cleared = ::ftruncate(fd_.get(), 0);
}

}  // namespace webpush::store::detail
