#include "webpush/conformance/text.h"

#include "webpush/core/utf8.h"

namespace webpush::conformance {

namespace {

constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD
constexpr std::string_view kEllipsis = "\xe2\x80\xa6";     // U+2026

bool is_control(char32_t cp) { return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 || cp == 0x2029; }

}  // namespace

std::string clean_text(std::string_view text, std::size_t max) {
  std::string out;
  out.reserve(std::min(text.size(), max) + kEllipsis.size());
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const std::size_t n = utf8_decode(text, i, cp);
    std::string_view piece = n == 0 ? kReplacement : text.substr(i, n);
    if (n != 0 && (cp == '\n' || cp == '\r' || cp == '\t'))
      piece = " ";
    else if (n != 0 && is_control(cp))
      piece = kReplacement;
    if (out.size() + piece.size() > max) {
      out += kEllipsis;
      break;
    }
    out += piece;
    i += n == 0 ? 1 : n;
  }
  return out;
}

}  // namespace webpush::conformance
