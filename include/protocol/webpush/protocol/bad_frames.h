// protocol::BadFrameGuard — what a user agent does with frames it cannot use.
//
// A frame that is not JSON, JSON of an unknown messageType, a known type with
// missing or ill-typed fields, a reply out of place or a frame over the size
// limit is ignored, as Firefox's push client does: the connection stays up and
// later frames are processed. Each one is logged, at most one line per kind
// per minute (a line counts the ones it stood for). Only a flood — more than
// `max_per_minute` within a minute — ends the connection, as a protocol
// violation that says so.
//
// Pure: the caller passes the monotonic time. Thread: single-threaded.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "webpush/core/clock.h"

namespace webpush::protocol {

enum class BadFrame {
  unparsable,    ///< not JSON, or JSON that is not an object
  malformed,     ///< a known messageType with a missing or ill-typed field
  unknown_type,  ///< a messageType this client does not know
  unexpected,    ///< a known message out of place (e.g. a notification before the hello reply)
  oversized,     ///< larger than the frame limit; dropped by the transport unread
};
inline constexpr std::size_t kBadFrameKinds = 5;

std::string_view to_string(BadFrame kind) noexcept;

struct BadFrameVerdict {
  std::optional<std::string> log_line;  ///< set when this one is to be logged
  bool too_many = false;                ///< the flood limit is passed: close the connection
};

class BadFrameGuard {
 public:
  static constexpr Duration kWindow{60 * 1000};

  explicit BadFrameGuard(int max_per_minute) : max_per_minute_(max_per_minute) {}

  /// Records one bad frame at monotonic time `now`; `detail` says what was wrong.
  BadFrameVerdict record(BadFrame kind, std::string_view detail, Duration now);
  /// A new connection: the flood count starts again (the log limit does not).
  void reset_flood() { recent_.clear(); }

  [[nodiscard]] std::uint64_t total() const noexcept { return total_; }

 private:
  struct PerKind {
    std::optional<Duration> logged_at;
    std::uint64_t unlogged = 0;  // seen since the last logged line
  };

  std::optional<std::string> log_line(BadFrame kind, std::string_view detail, Duration now);

  int max_per_minute_;
  std::deque<Duration> recent_;  // times of the bad frames within the window, at most max + 1
  std::array<PerKind, kBadFrameKinds> kinds_{};
  std::uint64_t total_ = 0;
};

}  // namespace webpush::protocol
