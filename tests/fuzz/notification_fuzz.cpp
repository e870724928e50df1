// A decrypted payload (any bytes) through notification_for, as the notify sink
// shows it, and its body through markup_escape; the same bytes as a
// subscription name in a subscription change. Nothing may crash or leak, and
// what comes out must hold what notify_content.h promises: valid UTF-8 without
// control characters, within the length limits, a one-line non-empty summary,
// only http(s) URLs.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "webpush/core/bytes.h"
#include "webpush/core/utf8.h"
#include "webpush/sinks/notify_content.h"

namespace notification_fuzz {

using namespace webpush;
using namespace webpush::sinks;

// Valid UTF-8 without C0 (but tab and newline when multi_line), DEL, C1, U+FFFE, U+FFFF.
bool is_clean_text(std::string_view s, bool multi_line, std::size_t max_bytes) {
  if (s.size() > max_bytes) return false;
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const std::size_t n = utf8_decode(s, i, cp);
    if (n == 0) return false;
    i += n;
    if (multi_line && (cp == '\n' || cp == '\t')) continue;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xfffe || cp == 0xffff) return false;
  }
  return true;
}

// http:// or https://, in any case, then no blank.
bool is_web_url(std::string_view url) {
  std::string scheme(url.substr(0, 8));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool web = scheme == "https://" || scheme.rfind("http://", 0) == 0;
  return web && url.find_first_of(" \t\n") == std::string_view::npos && is_clean_text(url, false, 2048);
}

bool holds_promises(const NotificationContent& c) {
  if (c.summary.empty() || !is_clean_text(c.summary, false, kMaxSummaryBytes)) return false;
  if (!is_clean_text(c.body, true, kMaxBodyBytes) || !is_clean_text(c.tag, false, 200)) return false;
  if (!is_clean_text(c.icon, false, 128) || (!c.url.empty() && !is_web_url(c.url))) return false;
  if (c.actions.size() > kMaxActions) return false;
  for (const auto& a : c.actions) {
    if (a.key.empty() || a.key == "default" || a.label.empty()) return false;
    if (!is_clean_text(a.key, false, 64) || !is_clean_text(a.label, false, kMaxActionLabelBytes)) return false;
  }
  return true;
}

void show(const Event& event) {
  const auto content = notification_for(event);
  if (!content) return;
  if (!holds_promises(*content)) __builtin_trap();
  if (markup_escape(content->body).find('<') != std::string::npos) __builtin_trap();
}

}  // namespace notification_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace webpush::sinks;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  MessageEvent m;
  m.subscription = "laptop";
  m.channel_id = "0b5c1f1e-0000-4000-8000-000000000001";
  m.version = "v1";
  m.payload = size == 0 ? std::nullopt : std::optional(webpush::to_bytes(in));
  m.encoding = "aes128gcm";
  notification_fuzz::show(m);
  notification_fuzz::show(SubscriptionChangedEvent{.subscription = std::string(in)});
  return 0;
}
