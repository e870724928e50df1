#include "webpush/event/trace.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <vector>

#include <fmt/format.h>

#include "webpush/core/utf8.h"

namespace webpush::event {

void Trace::enable(std::FILE* out) noexcept { detail::trace_out.store(out, std::memory_order_release); }

void Trace::emit(std::string_view event, std::string_view fields) noexcept {
  std::FILE* out = detail::trace_out.load(std::memory_order_acquire);
  if (out == nullptr) return;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  const auto secs_of_day = (us / 1'000'000) % 86'400;
  try {
    const std::string line = fmt::format("{:02}:{:02}:{:02}.{:06} {}{}{}\n", secs_of_day / 3600, secs_of_day / 60 % 60,
                                         secs_of_day % 60, us % 1'000'000, event, fields.empty() ? "" : " ", fields);
    std::fwrite(line.data(), 1, line.size(), out);  // one call: lines of two threads never interleave
    std::fflush(out);
  } catch (...) {  // out of memory formatting a trace line: the line is lost, nothing else
  }
}

// ---- fields and the quoting rule ---------------------------------------------------

namespace {

bool is_bare(unsigned char c) { return c >= 0x21 && c <= 0x7e && c != '\'' && c != '"' && c != '\\'; }

void append_hex_escape(std::string& out, unsigned char c) {
  constexpr std::string_view kHex = "0123456789abcdef";
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 0x0f];
}

void append_quoted(std::string& out, std::string_view v) {
  out += '\'';
  for (std::size_t i = 0; i < v.size();) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c >= 0x80) {
      char32_t cp = 0;
      const std::size_t n = utf8_decode(v, i, cp);
      if (n == 0) {
        append_hex_escape(out, c);
        ++i;
      } else {
        out.append(v.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\'': out += "\\'"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          append_hex_escape(out, c);
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '\'';
}

}  // namespace

std::string quote_trace_value(std::string_view value) {
  const bool bare = !value.empty() && std::all_of(value.begin(), value.end(),
                                                  [](char c) { return is_bare(static_cast<unsigned char>(c)); });
  if (bare) return std::string(value);
  std::string out;
  out.reserve(value.size() + 2);
  append_quoted(out, value);
  return out;
}

TraceFields& TraceFields::add(std::string_view key, std::string_view value) {
  if (!text_.empty()) text_ += ' ';
  text_.append(key);
  text_ += '=';
  text_ += quote_trace_value(value);
  return *this;
}

TraceFields& TraceFields::add_ms(std::string_view key, std::chrono::nanoseconds d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  const auto abs_us = us < 0 ? -us : us;
  return add(key, std::string_view(fmt::format("{}{}.{:03}", us < 0 ? "-" : "", abs_us / 1000, abs_us % 1000)));
}

// ---- shortening frames ------------------------------------------------------------

namespace {

// How much of a string under a key is kept; a stricter class wins over a looser one.
enum class Keep : std::uint8_t { whole, endpoint, prefix, nothing };

bool contains_ci(std::string_view haystack, std::string_view needle) {
  const auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                              [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
  return it != haystack.end();
}

bool equals_ci(std::string_view a, std::string_view b) { return a.size() == b.size() && contains_ci(a, b); }

Keep classify(std::string_view key) {
  for (const std::string_view secret : {"auth", "secret", "private", "password", "token"}) {
    if (contains_ci(key, secret)) return Keep::nothing;
  }
  if (equals_ci(key, "data") || equals_ci(key, "uaid") || equals_ci(key, "p256dh") || contains_ci(key, "key")) {
    return Keep::prefix;
  }
  if (contains_ci(key, "endpoint")) return Keep::endpoint;
  return Keep::whole;
}

// The longest start of a JSON string's raw text, at most `max` bytes, that
// splits neither an escape sequence nor a UTF-8 sequence.
std::string_view cut(std::string_view raw, std::size_t max) {
  std::size_t end = 0;
  while (end < raw.size()) {
    std::size_t step = 1;
    const auto c = static_cast<unsigned char>(raw[end]);
    if (c == '\\') {
      step = end + 1 < raw.size() && raw[end + 1] == 'u' ? 6 : 2;
    } else if (c >= 0x80) {
      char32_t cp = 0;
      step = std::max<std::size_t>(1, utf8_decode(raw, end, cp));
    }
    if (end + step > max || end + step > raw.size()) break;
    end += step;
  }
  return raw.substr(0, end);
}

std::size_t kept_bytes(std::string_view raw, Keep keep) {
  switch (keep) {
    case Keep::whole: return raw.size() <= kTraceStringMax ? raw.size() : 48;
    case Keep::nothing: return 0;
    case Keep::prefix: return raw.size() > 2 * kTracePrefix ? kTracePrefix : 0;
    case Keep::endpoint: {
      const auto slash = raw.substr(0, 128).rfind('/');
      if (slash == std::string_view::npos) return raw.size() > 2 * kTracePrefix ? kTracePrefix : 0;
      return slash + 1 + kTracePrefix;
    }
  }
  return 0;
}

void append_string(std::string& out, std::string_view raw, Keep keep) {
  const std::size_t keep_n = kept_bytes(raw, keep);
  out += '"';
  if (keep_n >= raw.size()) {
    out.append(raw);
  } else {
    out.append(cut(raw, keep_n));
    out += fmt::format("…({})", raw.size());
  }
  out += '"';
}

// One open array or object. `keep` is what its own key passes on; in an
// object, `value_keep` is the class of the current key's value.
struct Level {
  bool object = false;
  bool expect_key = false;
  Keep keep = Keep::whole;
  Keep value_keep = Keep::whole;
};

// Deeper nesting is counted, not tracked: no string there is kept.
constexpr std::size_t kMaxTrackedDepth = 64;

class FrameShortener {
 public:
  explicit FrameShortener(std::string_view frame) : frame_(frame) { stack_.reserve(8); }

  std::string run() {
    while (pos_ < frame_.size()) {
      if (out_.size() >= kTraceFrameMax) {
        out_ += "…";
        break;
      }
      step();
    }
    return std::move(out_);
  }

 private:
  [[nodiscard]] Keep current_keep() const {
    if (deeper_ > 0) return Keep::nothing;  // keys are not tracked down there: keep nothing
    if (stack_.empty()) return Keep::whole;
    const Level& top = stack_.back();
    return top.object ? std::max(top.keep, top.value_keep) : top.keep;
  }

  void step() {
    const char c = frame_[pos_];
    switch (c) {
      case '"': string(); return;
      case '{':
      case '[': open(c == '{'); break;
      case '}':
      case ']': close(); break;
      case ',':
        if (!stack_.empty() && deeper_ == 0 && stack_.back().object) stack_.back().expect_key = true;
        break;
      case ':':
        if (!stack_.empty() && deeper_ == 0 && stack_.back().object) stack_.back().expect_key = false;
        break;
      default: break;
    }
    out_ += c;
    ++pos_;
  }

  void open(bool object) {
    if (stack_.size() >= kMaxTrackedDepth) {
      ++deeper_;
      return;
    }
    stack_.push_back(Level{object, object, current_keep(), Keep::whole});
  }

  void close() {
    if (deeper_ > 0) {
      --deeper_;
    } else if (!stack_.empty()) {
      stack_.pop_back();
    }
  }

  // A string from its opening quote to its closing one (or the end of the frame).
  void string() {
    std::size_t end = pos_ + 1;
    while (end < frame_.size() && frame_[end] != '"') end += frame_[end] == '\\' ? 2 : 1;
    end = std::min(end, frame_.size());
    const std::string_view raw = frame_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = std::min(end + 1, frame_.size());
    if (!stack_.empty() && deeper_ == 0 && stack_.back().object && stack_.back().expect_key) {
      Level& top = stack_.back();
      top.value_keep = std::max(top.keep, classify(raw));
      top.expect_key = false;
      append_string(out_, raw, Keep::whole);
      return;
    }
    append_string(out_, raw, current_keep());
  }

  std::string_view frame_;
  std::size_t pos_ = 0;
  std::string out_;
  std::vector<Level> stack_;
  std::size_t deeper_ = 0;
};

}  // namespace

std::string shorten_frame(std::string_view frame) { return FrameShortener(frame).run(); }

std::string_view notification_version(std::string_view frame) noexcept {
  constexpr std::string_view kKey = "\"version\":\"";
  const auto at = frame.find(kKey);
  if (at == std::string_view::npos || frame.find("\"notification\"") == std::string_view::npos) return {};
  const auto start = at + kKey.size();
  const auto end = frame.find('"', start);
  return end == std::string_view::npos ? std::string_view{} : frame.substr(start, end - start);
}

}  // namespace webpush::event
