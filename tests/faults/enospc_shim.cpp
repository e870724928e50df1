// An LD_PRELOAD shim for the disk-full fault case: while the file named by
// $WEBPUSHD_ENOSPC_FLAG exists, every write or sync to a file under
// $WEBPUSHD_ENOSPC_DIR fails with ENOSPC, as on a full filesystem. Other files,
// pipes and sockets are untouched, and so is everything once the flag is gone:
// the test fills and frees "the disk" by creating and removing one file.
//
// A filesystem that is really full needs root (a loop mount) or a tmpfs size
// the test cannot set; this reaches the same system calls SQLite and the
// JSON-lines sink make, and nothing else.
// pwrite and pwrite64 are both defined here, so pwrite must not be renamed to
// pwrite64 by the 64-bit off_t the rest of the build uses.
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

bool disk_is_full(int fd) {
  const char* dir = std::getenv("WEBPUSHD_ENOSPC_DIR");
  const char* flag = std::getenv("WEBPUSHD_ENOSPC_FLAG");
  if (dir == nullptr || flag == nullptr || access(flag, F_OK) != 0) return false;
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[4096];
  const ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return false;
  target[n] = '\0';
  return std::strncmp(target, dir, std::strlen(dir)) == 0;
}

template <class Fn>
Fn real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

#define WEBPUSHD_FAIL_IF_FULL(fd) \
  do {                            \
    if (disk_is_full(fd)) {       \
      errno = ENOSPC;             \
      return -1;                  \
    }                             \
  } while (false)

extern "C" {

ssize_t write(int fd, const void* buf, size_t n) {
  WEBPUSHD_FAIL_IF_FULL(fd);
  static auto next = real<ssize_t (*)(int, const void*, size_t)>("write");
  return next(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  WEBPUSHD_FAIL_IF_FULL(fd);
  static auto next = real<ssize_t (*)(int, const struct iovec*, int)>("writev");
  return next(fd, iov, count);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  WEBPUSHD_FAIL_IF_FULL(fd);
  static auto next = real<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  return next(fd, buf, n, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t offset) {
  WEBPUSHD_FAIL_IF_FULL(fd);
  static auto next = real<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  return next(fd, buf, n, offset);
}

int fsync(int fd) {
  WEBPUSHD_FAIL_IF_FULL(fd);
  static auto next = real<int (*)(int)>("fsync");
  return next(fd);
}

int fdatasync(int fd) {
  WEBPUSHD_FAIL_IF_FULL(fd);
  static auto next = real<int (*)(int)>("fdatasync");
  return next(fd);
}

}  // extern "C"
