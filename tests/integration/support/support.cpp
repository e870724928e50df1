#include "support.h"

#include <stdlib.h>

#include <cstdlib>
#include <system_error>
#include <vector>

namespace webpush::testing {

TempDir::TempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw SupportError("mkdtemp " + pattern + " failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (std::getenv("WEBPUSHD_KEEP_TMP") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Millis remaining(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
  return left.count() > 0 ? left : Millis(0);
}

}  // namespace webpush::testing
