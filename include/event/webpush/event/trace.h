// Trace: one line per step a push takes through this process, as it happens,
// for `run --trace`, `subscribe --trace`, `serve --trace` and `loadtest
// --trace` (and the e2e benchmark, which joins the lines of three processes by
// message id):
//
//   <HH:MM:SS.uuuuuu> <event> <key=value …>
//
// The time is UTC wall-clock time with microseconds (comparable across the
// processes of one machine). Each layer emits its own events (transport: the
// connection and its frames; daemon: decrypt, inbox, ack, sinks, reconnects);
// docs/cli.md "Trace lines" lists them with their fields. Off by default;
// turning it on costs one branch per step: callers test enabled() (or use
// trace()) before formatting anything.
//
// Values are written by one rule (quote_trace_value): bare when made only of
// printable ASCII other than space and the three characters ' " \, otherwise
// in single quotes with \\ \' \n \r \t and \xHH escapes. Frames from the
// network go through shorten_frame first, which cuts the payload ciphertext,
// keys, identifiers and anything secret-like to a prefix and a length.
//
// Thread: emit() and trace() may be called from any thread (one write per
// line); TraceFields is a plain value.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace webpush::event {

namespace detail {
inline std::atomic<std::FILE*> trace_out{nullptr};
}  // namespace detail

class Trace {
 public:
  /// Where the lines go (borrowed; nullptr turns tracing off).
  static void enable(std::FILE* out) noexcept;
  [[nodiscard]] static bool enabled() noexcept { return detail::trace_out.load(std::memory_order_relaxed) != nullptr; }
  /// Writes one line, `fields` as given; nothing when tracing is off.
  static void emit(std::string_view event, std::string_view fields) noexcept;
};

/// The fields of one line: "key=value key=value", each value written by
/// quote_trace_value. Keys are the caller's literals (never quoted).
class TraceFields {
 public:
  TraceFields& add(std::string_view key, std::string_view value);
  TraceFields& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  TraceFields& add(std::string_view key, const std::string& value) { return add(key, std::string_view(value)); }
  TraceFields& add(std::string_view key, bool value) { return add(key, std::string_view(value ? "true" : "false")); }
  template <std::integral T>
  requires(!std::same_as<T, bool>) TraceFields& add(std::string_view key, T value) {
    return add(key, std::string_view(std::to_string(value)));
  }
  /// A duration in milliseconds with three decimals ("0.412").
  TraceFields& add_ms(std::string_view key, std::chrono::nanoseconds d);

  [[nodiscard]] const std::string& str() const noexcept { return text_; }

 private:
  std::string text_;
};

/// Emits `event` with the fields `fill(TraceFields&)` adds, only when tracing is
/// on: off, the cost is one branch. A line that cannot be formatted (out of
/// memory) is lost; nothing is thrown.
template <class Fill>
void trace(std::string_view event, Fill&& fill) noexcept {
  if (!Trace::enabled()) return;
  try {
    TraceFields fields;
    fill(fields);
    Trace::emit(event, fields.str());
  } catch (...) {  // the line is lost, nothing else
  }
}

/// A trace value as written on a line: bare when non-empty and made only of
/// printable ASCII (0x21–0x7e) other than ' " and \; otherwise in single quotes,
/// where \ is \\, ' is \', newline, CR and tab are \n \r \t, and any other
/// control byte, DEL or byte that is not part of valid UTF-8 is \xHH (valid
/// UTF-8 is kept). The result never holds a line break.
std::string quote_trace_value(std::string_view value);

/// Once a shortened frame is this long, the rest of the frame is left out ("…").
inline constexpr std::size_t kTraceFrameMax = 1024;
/// Longest string a shortened frame keeps whole when nothing marks it secret.
inline constexpr std::size_t kTraceStringMax = 64;
/// How much of a shortened identifier, key or ciphertext is kept.
inline constexpr std::size_t kTracePrefix = 8;

/// A WebSocket frame (untrusted bytes: any length, invalid JSON, non-UTF-8)
/// shortened for a trace line. A JSON string is replaced by what is kept of it,
/// "…" and its length in bytes as sent, "(N)":
///  - under a key naming a secret (containing auth, secret, private, password
///    or token, any case): nothing kept — `"auth":"…(22)"`;
///  - under `data`, `uaid`, `p256dh` or a key containing `key`: kTracePrefix
///    bytes (nothing when it is no longer than twice that) —
///    `"data":"8NTdbm5W…(144)"`;
///  - under a key containing `endpoint`: up to the last '/' of its first 128
///    bytes, then kTracePrefix bytes;
///  - any other string over kTraceStringMax bytes: its first 48 bytes.
/// Arrays and objects pass their key's class on to what they hold (the stricter
/// one wins); past 64 levels of nesting no string is kept. Everything outside
/// strings is copied as it is (the quoting rule makes it safe). Once the result
/// reaches kTraceFrameMax bytes the rest is left out and it ends in "…". A kept
/// prefix never splits a UTF-8 sequence or an escape. Linear in the frame, no
/// recursion.
std::string shorten_frame(std::string_view frame);

/// The "version" of an autopush notification frame, or empty: for trace lines
/// that name the message a frame carries without parsing the frame.
std::string_view notification_version(std::string_view frame) noexcept;

}  // namespace webpush::event
