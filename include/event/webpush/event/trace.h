// Trace: one line per step a push takes through this process, as it happens,
// for `run --trace`, `serve --trace` and `loadtest --trace` (and the e2e
// benchmark, which joins the lines of three processes by message id):
//
//   <HH:MM:SS.uuuuuu> <event> <key=value …>
//
// The time is UTC wall-clock time with microseconds (comparable across the
// processes of one machine). Events so far: post.sent, post.answered (the
// loadtest sender), push.accepted (serve stored a message and answers 201),
// ws.out / ws.in (a notification frame written / read), inbox.put (decrypted,
// the inbox transaction begins), inbox.committed, sink.written (a sink has the
// message), ack.sent. Off by default; turning it on costs one branch per step.
//
// Thread: emit() may be called from any thread (one write per line).
#pragma once

#include <cstdio>
#include <string_view>

namespace webpush::event {

class Trace {
 public:
  /// Where the lines go (borrowed; nullptr turns tracing off).
  static void enable(std::FILE* out) noexcept;
  [[nodiscard]] static bool enabled() noexcept;
  /// Writes one line; nothing when tracing is off.
  static void emit(std::string_view event, std::string_view fields) noexcept;
};

/// The "version" of an autopush notification frame, or empty: for trace lines
/// that name the message a frame carries without parsing the frame.
std::string_view notification_version(std::string_view frame) noexcept;

}  // namespace webpush::event
