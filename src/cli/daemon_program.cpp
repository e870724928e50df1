// `webpushd run` hands over to the lean daemon program (run_main.cpp).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include <spdlog/spdlog.h>

#include "commands.h"

namespace webpush::cli {

namespace {

// Where the daemon program may be, first match wins: beside this program (the
// build tree), in ../libexec/webpushd relative to it (an install unpacked
// anywhere), and where this build installs it.
std::vector<std::filesystem::path> daemon_program_candidates() {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    out.push_back(self.parent_path() / "webpushd-run");
    out.push_back(self.parent_path().parent_path() / "libexec" / "webpushd" / "webpushd-run");
  }
  out.emplace_back(WEBPUSHD_DAEMON_PROGRAM);
  return out;
}

}  // namespace

void exec_daemon_program(char** argv) {
  for (const auto& path : daemon_program_candidates()) {
    if (::access(path.c_str(), X_OK) != 0) continue;
    ::execv(path.c_str(), argv);
    // Found but not runnable (a broken install): the daemon runs in this process.
    spdlog::debug("cannot start {}: {}; the daemon runs in this process", path.string(), std::strerror(errno));
    return;
  }
  spdlog::debug("no webpushd-run installed; the daemon runs in this process");
}

}  // namespace webpush::cli
