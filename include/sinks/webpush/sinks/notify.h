// The notify sink: a desktop notification per message through libnotify
// (org.freedesktop.Notifications on the D-Bus session bus).
//
// What a notification shows comes from notification_for(), a pure function:
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
// Thread: the loop thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/event/loop.h"
#include "webpush/event/timer.h"
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

/// A click on a notification the sink raised; given to NotifyOptions::on_action.
struct NotificationClick {
  std::string version;       ///< the message's version (empty for a subscription change)
  std::string subscription;  ///< the subscription
  std::string action;        ///< "default" for the notification itself, else the payload's action key
  std::string url;           ///< the notification's URL, or empty
};

struct NotifyOptions {
  std::string app_name = "webpushd";
  std::string default_icon;                     ///< theme icon name when the payload names none; empty for none
  std::vector<std::string> opener{"xdg-open"};  ///< argv the URL is appended to for the default action
  Duration probe_timeout{5'000};                ///< for the D-Bus checks at creation (may start the server)
  Duration retry_after{60'000};                 ///< after a failed notification, skip this long before retrying
  std::size_t max_live = 64;  ///< notifications kept for tag replacement and clicks (the oldest is forgotten)
  /// Observer of clicks, on the loop thread; optional.
  std::function<void(const NotificationClick&)> on_action;
};

/// Whether this build has the notify sink (libnotify found at configure time).
[[nodiscard]] bool notify_sink_built() noexcept;

/// Connects to the session bus and checks that a notification server answers.
/// Errors: unavailable (built without libnotify; no session bus; no
/// notification server, or one that does not answer within probe_timeout),
/// each with a message saying which; bad_config (empty opener or app name).
///
/// Once created, deliver() shows a notification per event (a synchronous D-Bus
/// call: the server answers in milliseconds; libnotify waits at most 25 s for
/// a hung one). If the server goes away, the first failing deliver() returns
/// unavailable; later ones return success without a notification until
/// retry_after has passed, then one try is made again: a missing server costs
/// one error, not one per message.
Result<std::unique_ptr<Sink>> make_notify_sink(event::EventLoop& loop, NotifyOptions options = {});

}  // namespace webpush::sinks
