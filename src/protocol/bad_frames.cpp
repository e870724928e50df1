#include "webpush/protocol/bad_frames.h"

#include <fmt/format.h>

#include "webpush/core/utf8.h"

namespace webpush::protocol {

std::string_view to_string(BadFrame kind) noexcept {
  switch (kind) {
    case BadFrame::unparsable: return "not a JSON object";
    case BadFrame::malformed: return "malformed";
    case BadFrame::unknown_type: return "unknown messageType";
    case BadFrame::unexpected: return "out of place";
    case BadFrame::oversized: return "too large";
  }
  return "unknown";
}

namespace {

// The detail may quote the service's bytes: printable ASCII only, bounded.
constexpr std::size_t kDetailMax = 160;

}  // namespace

BadFrameVerdict BadFrameGuard::record(BadFrame kind, std::string_view detail, Duration now) {
  ++total_;
  while (!recent_.empty() && now - recent_.front() >= kWindow) recent_.pop_front();
  recent_.push_back(now);
  BadFrameVerdict verdict;
  verdict.too_many = recent_.size() > static_cast<std::size_t>(max_per_minute_);
  if (verdict.too_many) recent_.pop_front();  // bounded: max_per_minute + 1 at most
  verdict.log_line = log_line(kind, detail, now);
  return verdict;
}

std::optional<std::string> BadFrameGuard::log_line(BadFrame kind, std::string_view detail, Duration now) {
  PerKind& k = kinds_.at(static_cast<std::size_t>(kind));
  if (k.logged_at && now - *k.logged_at < kWindow) {
    ++k.unlogged;
    return std::nullopt;
  }
  std::string line = fmt::format("ignored a frame from the push service ({}): {}", to_string(kind),
                                 printable_prefix(detail, kDetailMax));
  if (k.unlogged > 0) line += fmt::format(" (and {} more like it since the last such line)", k.unlogged);
  k.logged_at = now;
  k.unlogged = 0;
  return line;
}

}  // namespace webpush::protocol
