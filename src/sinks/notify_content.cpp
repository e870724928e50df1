// notification_for(): from an event to what a desktop notification shows.
// Pure (no GLib), so that it is built and tested with or without libnotify.
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "webpush/core/utf8.h"
#include "webpush/sinks/notify_content.h"

namespace webpush::sinks {

namespace {

using nlohmann::json;

constexpr std::string_view kEllipsis = "\u2026";
constexpr std::size_t kMaxTagBytes = 200;
constexpr std::size_t kMaxUrlBytes = 2048;
constexpr std::size_t kMaxActionKeyBytes = 64;

// Cuts valid UTF-8 to at most max_bytes at a character boundary, marking the cut.
void truncate(std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return;
  std::size_t cut = max_bytes - kEllipsis.size();
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
  s.resize(cut);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) s.pop_back();
  s += kEllipsis;
}

// Untrusted text to something a notification server can show: invalid UTF-8
// becomes U+FFFD; control characters (C0 but tab and newline, DEL, C1) and the
// non-characters XML refuses go; CR LF and lone CR become newlines; one-line
// text turns tabs and newlines into spaces. Trimmed and cut to max_bytes.
std::string sanitize(std::string_view in, bool one_line, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(in.size(), max_bytes + 8));
  for (std::size_t i = 0; i < in.size();) {
    char32_t cp = 0;
    std::size_t n = utf8_decode(in, i, cp);
    if (n == 0) {
      out += "\uFFFD";
      ++i;
      continue;
    }
    const std::string_view seq = in.substr(i, n);
    i += n;
    if (cp == '\r') {
      if (i < in.size() && in[i] == '\n') continue;
      cp = '\n';
    }
    if (cp == '\n' || cp == '\t') {
      out += one_line ? ' ' : static_cast<char>(cp);
    } else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xfffe || cp == 0xffff) {
      continue;
    } else {
      out += seq;
    }
    if (out.size() > max_bytes + 8) break;  // enough to know it must be cut
  }
  const auto first = out.find_first_not_of(" \n\t");
  if (first == std::string::npos) return {};
  out.erase(0, first);
  out.erase(out.find_last_not_of(" \n\t") + 1);
  truncate(out, max_bytes);
  return out;
}

// An icon theme name ("mail-message-new"). Paths and URLs are refused: the
// server would load them, and a remote sender has no business naming our files
// or making the desktop fetch from the network.
bool is_theme_icon_name(const std::string& s) {
  if (s.empty() || s.size() > 128 || s.find("..") != std::string::npos) return false;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == '+';
    if (!ok) return false;
  }
  return s[0] != '.' && s[0] != '-';
}

// Only http(s): xdg-open would as happily run a file:// .desktop file or a
// custom scheme handler. No blanks or controls, C1 included (also rules out an
// argv that looks like an option to the opener).
bool is_web_url(const std::string& s) {
  if (s.size() > kMaxUrlBytes) return false;
  const auto lower_prefix = [&](std::string_view p) {
    if (s.size() <= p.size()) return false;
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (static_cast<char>(std::tolower(static_cast<unsigned char>(s[i]))) != p[i]) return false;
    }
    return true;
  };
  if (!lower_prefix("https://") && !lower_prefix("http://")) return false;
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const std::size_t n = utf8_decode(s, i, cp);
    if (n == 0 || cp <= 0x20 || (cp >= 0x7f && cp <= 0x9f)) return false;
    i += n;
  }
  return true;
}

const json* member(const json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  const auto it = o.find(key);
  return it == o.end() ? nullptr : &*it;
}

std::optional<std::string> string_member(const json& o, const char* key) {
  const json* v = member(o, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

std::vector<NotificationAction> actions_from(const json& n) {
  std::vector<NotificationAction> out;
  const json* list = member(n, "actions");
  if (list == nullptr || !list->is_array()) return out;
  for (const json& a : *list) {
    if (out.size() == kMaxActions) break;
    auto key = string_member(a, "action");
    auto title = string_member(a, "title");
    if (!key || !title || key->empty() || key->size() > kMaxActionKeyBytes || *key == "default") continue;
    if (sanitize(*key, true, kMaxActionKeyBytes) != *key) continue;  // control characters, blanks at the ends
    bool duplicate = false;
    for (const auto& seen : out) duplicate = duplicate || seen.key == *key;
    std::string label = sanitize(*title, true, kMaxActionLabelBytes);
    if (duplicate || label.empty()) continue;
    out.push_back({std::move(*key), std::move(label)});
  }
  return out;
}

// The Notification-API shapes: {"title","body",…} or {"notification":{…}}.
// nullopt when the text is not such an object (then it is shown as text).
std::optional<NotificationContent> from_json(std::string_view text, const std::string& fallback_summary) {
  const auto start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || text[start] != '{') return std::nullopt;
  const json top = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (top.is_discarded() || !top.is_object()) return std::nullopt;
  const json* wrapped = member(top, "notification");
  const json& n = wrapped != nullptr && wrapped->is_object() ? *wrapped : top;
  const auto title = string_member(n, "title");
  const auto body = string_member(n, "body");
  if (!title && !body) return std::nullopt;

  NotificationContent c;
  c.summary = sanitize(title.value_or(""), true, kMaxSummaryBytes);
  if (c.summary.empty()) c.summary = fallback_summary;
  c.body = sanitize(body.value_or(""), false, kMaxBodyBytes);
  if (auto icon = string_member(n, "icon"); icon && is_theme_icon_name(*icon)) c.icon = *icon;
  const json* n_data = member(n, "data");
  const json* top_data = member(top, "data");
  const json* fcm = member(top, "fcm_options");
  for (auto candidate : {string_member(n, "url"), string_member(n, "navigate"), string_member(n, "click_action"),
                         n_data != nullptr ? string_member(*n_data, "url") : std::nullopt,
                         top_data != nullptr ? string_member(*top_data, "url") : std::nullopt,
                         fcm != nullptr ? string_member(*fcm, "link") : std::nullopt}) {
    if (candidate && is_web_url(*candidate)) {
      c.url = std::move(*candidate);
      break;
    }
  }
  if (auto tag = string_member(n, "tag")) c.tag = sanitize(*tag, true, kMaxTagBytes);
  c.actions = actions_from(n);
  const json* ri = member(n, "requireInteraction");
  c.require_interaction = ri != nullptr && ri->is_boolean() && ri->get<bool>();
  return c;
}

std::string summary_for(const std::string& subscription) {
  std::string s = sanitize(subscription, true, kMaxSummaryBytes);
  return s.empty() ? std::string("webpushd") : s;
}

}  // namespace

std::string markup_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // As g_markup_escape_text: controls other than tab/newline/CR become character references.
        if ((c >= 0x01 && c <= 0x08) || c == 0x0b || c == 0x0c || (c >= 0x0e && c <= 0x1f) || c == 0x7f) {
          out += fmt::format("&#x{:x};", c);
        } else if (c == 0xc2 && i + 1 < text.size()) {
          const auto d = static_cast<unsigned char>(text[i + 1]);
          if ((d >= 0x80 && d <= 0x84) || (d >= 0x86 && d <= 0x9f)) {
            out += fmt::format("&#x{:x};", d);
            ++i;
          } else {
            out += static_cast<char>(c);
          }
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out;
}

std::optional<NotificationContent> notification_for(const Event& event) {
  if (const auto* m = std::get_if<MessageEvent>(&event)) {
    NotificationContent c;
    c.summary = summary_for(m->subscription);
    if (!m->payload || m->payload->empty()) {
      c.body = "push without data";
      return c;
    }
    const std::string_view text = as_chars(*m->payload);
    if (!is_valid_utf8(*m->payload)) {
      c.body = fmt::format("binary message ({} bytes)", m->payload->size());
      return c;
    }
    if (auto j = from_json(text, c.summary)) return j;
    c.body = sanitize(text, false, kMaxBodyBytes);
    if (c.body.empty()) c.body = fmt::format("message of {} blank bytes", m->payload->size());
    return c;
  }
  if (const auto* s = std::get_if<SubscriptionChangedEvent>(&event)) {
    NotificationContent c;
    const std::string name = summary_for(s->subscription);
    c.summary = "Push subscription changed";
    c.body = fmt::format(
        "The push service gave {} a new endpoint. Its application server needs the new subscription "
        "(webpushd list --json).",
        name);
    c.tag = sanitize("subscription-changed:" + s->subscription, true, kMaxTagBytes);
    return c;
  }
  return std::nullopt;  // DecryptErrorEvent: not actionable for the user; the daemon logs it
}

}  // namespace webpush::sinks
