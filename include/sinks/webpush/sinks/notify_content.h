// What a desktop notification shows for an event: notification_for(), a pure
// function (no D-Bus, no GLib), so that it is built and tested with or without
// libnotify, and fuzzed (tests/fuzz):
//  - a JSON payload in the shapes web apps send, {"title","body","icon","url",
//    "tag","actions":[{"action","title"}],"requireInteraction"} or wrapped as
//    {"notification":{…}} (Firebase, declarative Web Push: "navigate" and
//    "click_action" also name the URL), maps to summary, body, icon, URL, tag
//    and buttons;
//  - other UTF-8 text becomes the body, with the subscription name as summary;
//  - anything else is "binary message (N bytes)", a push without data "push
//    without data";
//  - a subscription change tells the user its application server needs the new
//    subscription; a decrypt error shows nothing (the daemon logs it).
// The payload is untrusted: text is stripped of control characters and cut to
// a sane length; the body is sent escaped (markup_escape) to servers that
// parse body markup; only theme icon names are used (never a path or a URL
// the server would load), and only http(s) URLs are opened.
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/sinks/sink.h"

namespace webpush::sinks {

struct NotificationAction {
  std::string key;    ///< the payload's "action" (never "default")
  std::string label;  ///< the button text, plain
};

/// What one notification shows. Every string is valid UTF-8 without control
/// characters (the body keeps newlines and tabs) and plain text: the sink
/// escapes the body itself when the server parses markup.
struct NotificationContent {
  std::string summary;  ///< one line, never empty
  std::string body;
  std::string icon;  ///< a theme icon name, or empty
  std::string url;   ///< an http(s) URL for the default action, or empty
  std::string tag;   ///< a later notification with the same tag replaces this one; empty for none
  std::vector<NotificationAction> actions;
  bool require_interaction = false;  ///< stays until the user dismisses it

  bool operator==(const NotificationContent&) const = default;
};

/// Length limits, in bytes of UTF-8 (cut at a character boundary, "…" appended).
inline constexpr std::size_t kMaxSummaryBytes = 200;
inline constexpr std::size_t kMaxBodyBytes = 2000;
inline constexpr std::size_t kMaxActionLabelBytes = 64;
inline constexpr std::size_t kMaxActions = 3;

/// The notification for an event, or nullopt when the event shows none
/// (DecryptErrorEvent). Pure: no D-Bus, no I/O.
std::optional<NotificationContent> notification_for(const Event& event);

/// Escapes text for the notification body markup (a subset of XML) exactly as
/// g_markup_escape_text does: & < > " ' become entities, other control
/// characters (but tab, newline, CR) character references.
std::string markup_escape(std::string_view text);

}  // namespace webpush::sinks
