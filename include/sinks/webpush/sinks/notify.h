// The notify sink: a desktop notification per message through libnotify
// (org.freedesktop.Notifications on the D-Bus session bus). What a
// notification shows comes from notification_for() (notify_content.h).
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
#include "webpush/sinks/notify_content.h"
#include "webpush/sinks/sink.h"

namespace webpush::sinks {

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
