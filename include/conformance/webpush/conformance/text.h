// Text from the service under test made fit to show: observed texts quote
// close reasons, frames and response bodies, which may hold anything — invalid
// UTF-8, terminal escapes, megabytes.
//
// Pure. Thread: any.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace webpush::conformance {

/// `text` as valid UTF-8 on one line: invalid bytes and control characters
/// become U+FFFD (newline, carriage return and tab a space), and at most
/// `max` bytes are kept, cut between characters and marked with "…".
[[nodiscard]] std::string clean_text(std::string_view text, std::size_t max = 2000);

/// clean_text with a short limit, for quoting a frame or a body in a sentence.
[[nodiscard]] inline std::string shorten(std::string_view text, std::size_t n = 160) { return clean_text(text, n); }

/// A duration in seconds, for observed texts ("within 5.0 s").
[[nodiscard]] inline double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000; }

}  // namespace webpush::conformance
