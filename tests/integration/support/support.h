// Test support for integration tests: what every helper here shares.
//
// Failures throw SupportError (GoogleTest reports an exception escaping a test
// body as a failure with its message), so tests read as a script:
//   auto ua = PushClient::connect(service.port());
//   const std::string uaid = ua.hello();
// Every wait has a deadline; nothing sleeps.
#pragma once

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace webpush::testing {

using Millis = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

/// The default deadline of a single wait (a frame, a response, the service's first line).
inline constexpr Millis kDefaultTimeout{5000};

class SupportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents by the
/// destructor unless WEBPUSHD_KEEP_TMP is set.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "webpushd-it");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// Milliseconds left until `deadline` (0 when past).
Millis remaining(Clock::time_point deadline);

}  // namespace webpush::testing
