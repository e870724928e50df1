// The notify sink on libnotify. Compiled only when meson finds libnotify.
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <list>
#include <vector>

#include <fmt/format.h>
#include <gio/gio.h>
#include <glib.h>
#include <libnotify/notify.h>

#include "glib_pump.h"
#include "internal.h"
#include "notify_module.h"
#include "webpush/event/timer.h"
#include "webpush/sinks/notify.h"

namespace webpush::sinks {

namespace {

constexpr const char* kBusName = "org.freedesktop.Notifications";
constexpr const char* kObjectPath = "/org/freedesktop/Notifications";

// notify_init()/notify_uninit() are process-wide; sinks may overlap (a reload
// creates the new one before the old one goes).
int g_libnotify_users = 0;

std::string take_error(GError*& err, std::string_view fallback = "unknown error") {
  std::string msg = err != nullptr ? std::string(err->message) : std::string(fallback);
  g_clear_error(&err);
  return msg;
}

// GCallback is void(*)(void), the one function type GCC lets any function
// pointer be cast to without -Wcast-function-type.
template <class F>
GCallback to_gcallback(F* f) {
  return reinterpret_cast<GCallback>(f);
}

// Checks with our own D-Bus calls, each with a timeout, before libnotify is
// involved: libnotify's calls wait up to 25 s and print GLib warnings when
// there is no bus. Returns the server's capabilities.
Result<std::vector<std::string>> probe_server(Duration timeout) {
  const int ms = static_cast<int>(std::max<std::int64_t>(1, timeout.count()));
  GError* err = nullptr;
  GDBusConnection* bus = g_bus_get_sync(G_BUS_TYPE_SESSION, nullptr, &err);
  if (bus == nullptr) {
    return fail(Errc::unavailable,
                fmt::format("notify: no D-Bus session bus ({}); desktop notifications are off", take_error(err)));
  }
  // A daemon must not be stopped by GLib when the session bus goes away.
  g_dbus_connection_set_exit_on_close(bus, FALSE);
  struct Unref {
    GDBusConnection* c;
    ~Unref() { g_object_unref(c); }
  } unref{bus};

  GVariant* r = g_dbus_connection_call_sync(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                            "org.freedesktop.DBus", "NameHasOwner", g_variant_new("(s)", kBusName),
                                            G_VARIANT_TYPE("(b)"), G_DBUS_CALL_FLAGS_NONE, ms, nullptr, &err);
  if (r == nullptr) {
    return fail(Errc::unavailable, fmt::format("notify: the session bus does not answer ({})", take_error(err)));
  }
  gboolean owned = FALSE;
  g_variant_get(r, "(b)", &owned);
  g_variant_unref(r);
  if (!owned) {
    r = g_dbus_connection_call_sync(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                    "ListActivatableNames", nullptr, G_VARIANT_TYPE("(as)"), G_DBUS_CALL_FLAGS_NONE, ms,
                                    nullptr, &err);
    bool activatable = false;
    if (r != nullptr) {
      GVariantIter* it = nullptr;
      const char* name = nullptr;
      g_variant_get(r, "(as)", &it);
      while (g_variant_iter_loop(it, "&s", &name)) activatable = activatable || std::strcmp(name, kBusName) == 0;
      g_variant_iter_free(it);
      g_variant_unref(r);
    }
    g_clear_error(&err);
    if (!activatable) {
      return fail(Errc::unavailable,
                  "notify: no notification server on the session bus (nothing owns or can start "
                  "org.freedesktop.Notifications); desktop notifications are off");
    }
  }
  r = g_dbus_connection_call_sync(bus, kBusName, kObjectPath, kBusName, "GetCapabilities", nullptr,
                                  G_VARIANT_TYPE("(as)"), G_DBUS_CALL_FLAGS_NONE, ms, nullptr, &err);
  if (r == nullptr) {
    return fail(Errc::unavailable,
                fmt::format("notify: the notification server does not answer ({}); desktop notifications are off",
                            take_error(err)));
  }
  std::vector<std::string> caps;
  GVariantIter* it = nullptr;
  const char* cap = nullptr;
  g_variant_get(r, "(as)", &it);
  while (g_variant_iter_loop(it, "&s", &cap)) caps.emplace_back(cap);
  g_variant_iter_free(it);
  g_variant_unref(r);
  return caps;
}

class NotifySink final : public Sink {
 public:
  static Result<std::unique_ptr<Sink>> create(event::EventLoop& loop, NotifyOptions options) {
    if (options.app_name.empty()) return fail(Errc::bad_config, "notify: the application name is empty");
    if (options.opener.empty() || options.opener[0].empty()) {
      return fail(Errc::bad_config, "notify: the URL opener command is empty");
    }
    auto caps = probe_server(options.probe_timeout);
    if (!caps) return tl::unexpected(caps.error());
    // libnotify hears of clicks (ActionInvoked) and closes (NotificationClosed) through GDBus on GLib's
    // default main context: without the pump, clicks are never seen and their sources pile up.
    auto pump = glib::GlibPump::create(loop, "sinks", "notify");
    if (!pump) return fail(Errc::unavailable, fmt::format("notify: {}", pump.error().message()));
    if (g_libnotify_users == 0 && !notify_init(options.app_name.c_str())) {
      return fail(Errc::unavailable, "notify: notify_init failed");
    }
    ++g_libnotify_users;
    const auto has = [&](const char* cap) { return std::find(caps->begin(), caps->end(), cap) != caps->end(); };
    std::unique_ptr<NotifySink> sink(
        new NotifySink(loop, std::move(options), std::move(*pump), has("actions"), has("body-markup")));
    // Makes libnotify create its D-Bus proxy now rather than in the first deliver().
    char* name = nullptr;
    char* vendor = nullptr;
    char* version = nullptr;
    char* spec = nullptr;
    if (!notify_get_server_info(&name, &vendor, &version, &spec)) {
      return fail(Errc::unavailable, "notify: the notification server does not answer GetServerInformation");
    }
    detail::log().info("notify: desktop notifications through {} {} ({}, spec {}){}{}", name, version, vendor, spec,
                       sink->actions_cap_ ? "" : ", without actions", sink->markup_cap_ ? "" : ", without markup");
    g_free(name);
    g_free(vendor);
    g_free(version);
    g_free(spec);
    return std::unique_ptr<Sink>(std::move(sink));
  }

  ~NotifySink() override {
    // Displayed notifications stay on screen; we only let go of them (which
    // also disconnects them from libnotify's proxy) before libnotify goes.
    while (!live_.empty()) forget(live_.begin());
    if (--g_libnotify_users == 0) notify_uninit();
  }
  NotifySink(const NotifySink&) = delete;
  NotifySink& operator=(const NotifySink&) = delete;

  [[nodiscard]] std::string_view name() const override { return "notify"; }

  Result<void> deliver(const Event& event) override {
    const auto content = notification_for(event);
    std::string version;
    std::string subscription;
    std::visit(
        [&](const auto& e) {
          subscription = e.subscription;
          if constexpr (!std::is_same_v<std::decay_t<decltype(e)>, SubscriptionChangedEvent>) version = e.version;
        },
        event);
    if (!content) {
      detail::log().debug("notify: no notification for the decrypt error of message {} on {}", version, subscription);
      return {};
    }
    if (failing_ && !retry_due_) {
      detail::log().debug("notify: message {} on {} not shown: the notification server failed recently", version,
                          subscription);
      return {};
    }
    auto ok = show(*content, version, subscription);
    pump_->schedule();
    if (!ok) {
      retry_due_ = false;
      retry_.arm(options_.retry_after);
      if (failing_) {
        detail::log().debug("notify: still failing: {}", ok.error().message());
        return {};
      }
      failing_ = true;
      return fail(Errc::unavailable,
                  fmt::format("notify: showing message {} failed ({}); desktop notifications are skipped for {} s, "
                              "then tried again",
                              version, ok.error().message(), options_.retry_after.count() / 1000));
    }
    if (failing_) {
      failing_ = false;
      detail::log().info("notify: desktop notifications work again");
    }
    return {};
  }

 private:
  // A notification we keep: for its tag (a later one replaces it) or its actions.
  struct Live {
    NotifyNotification* n = nullptr;
    std::string tag;
    std::string version;
    std::string subscription;
    std::string url;
    gulong closed_handler = 0;
  };

  NotifySink(event::EventLoop& loop, NotifyOptions options, std::unique_ptr<glib::GlibPump> pump, bool actions,
             bool markup)
      : options_(std::move(options)),
        pump_(std::move(pump)),
        openers_(loop),
        actions_cap_(actions),
        markup_cap_(markup),
        retry_(loop, [this] { retry_due_ = true; }) {}

  Result<void> show(const NotificationContent& c, const std::string& version, const std::string& subscription) {
    // Servers without body-markup show the body as plain text (the spec says so), where entities would show.
    const std::string body = markup_cap_ ? markup_escape(c.body) : c.body;
    const std::string& icon_name = c.icon.empty() ? options_.default_icon : c.icon;
    const char* icon = icon_name.empty() ? nullptr : icon_name.c_str();
    auto existing = live_.end();
    if (!c.tag.empty())
      existing = std::find_if(live_.begin(), live_.end(), [&](const Live& l) { return l.tag == c.tag; });
    const bool fresh = existing == live_.end();
    NotifyNotification* n = nullptr;
    if (fresh) {
      n = notify_notification_new(c.summary.c_str(), body.c_str(), icon);
    } else {
      n = existing->n;
      notify_notification_update(n, c.summary.c_str(), body.c_str(), icon);
      notify_notification_clear_actions(n);
    }
    notify_notification_set_timeout(n, c.require_interaction ? NOTIFY_EXPIRES_NEVER : NOTIFY_EXPIRES_DEFAULT);
    const bool has_actions = add_actions(n, c);
    GError* err = nullptr;
    if (!notify_notification_show(n, &err)) {
      const std::string msg = take_error(err);
      if (fresh) {
        notify_notification_clear_actions(n);
        g_object_unref(n);
      } else {
        forget(existing);
      }
      return fail(Errc::unavailable, msg);
    }
    if (!fresh) {
      existing->version = version;
      existing->subscription = subscription;
      existing->url = c.url;
      live_.splice(live_.end(), live_, existing);
      return {};
    }
    if (c.tag.empty() && !has_actions) {
      g_object_unref(n);  // shown; nothing more to do with it
      return {};
    }
    keep(n, c, version, subscription);
    return {};
  }

  // Adds the default action (with a URL) and the notification's own, if the server shows actions.
  // Returns whether it added any.
  bool add_actions(NotifyNotification* n, const NotificationContent& c) {
    if (!actions_cap_) return false;
    bool has_actions = false;
    if (!c.url.empty()) {
      notify_notification_add_action(n, "default", "Open", &NotifySink::action_cb, this, nullptr);
      has_actions = true;
    }
    for (const auto& a : c.actions) {
      notify_notification_add_action(n, a.key.c_str(), a.label.c_str(), &NotifySink::action_cb, this, nullptr);
      has_actions = true;
    }
    return has_actions;
  }

  // Keeps a shown notification (owning `n`), forgetting the oldest beyond max_live.
  void keep(NotifyNotification* n, const NotificationContent& c, const std::string& version,
            const std::string& subscription) {
    Live l;
    l.n = n;
    l.tag = c.tag;
    l.version = version;
    l.subscription = subscription;
    l.url = c.url;
    l.closed_handler = g_signal_connect(n, "closed", to_gcallback(&NotifySink::closed_cb), this);
    live_.push_back(std::move(l));
    while (live_.size() > options_.max_live) forget(live_.begin());
  }

  void forget(std::list<Live>::iterator it) {
    if (it->closed_handler != 0) g_signal_handler_disconnect(it->n, it->closed_handler);
    notify_notification_clear_actions(it->n);
    g_object_unref(it->n);
    live_.erase(it);
  }

  std::list<Live>::iterator find(NotifyNotification* n) {
    return std::find_if(live_.begin(), live_.end(), [n](const Live& l) { return l.n == n; });
  }

  // GLib callbacks: nothing may throw through them.
  static void closed_cb(NotifyNotification* n, gpointer self) noexcept {
    auto* sink = static_cast<NotifySink*>(self);
    if (auto it = sink->find(n); it != sink->live_.end()) sink->forget(it);
  }

  static void action_cb(NotifyNotification* n, char* action, gpointer self) noexcept {
    try {
      static_cast<NotifySink*>(self)->on_action(n, action != nullptr ? action : "");
    } catch (const std::exception& e) {
      detail::log().error("notify: handling a click failed: {}", e.what());
    }
  }

  void on_action(NotifyNotification* n, const std::string& action) {
    const auto it = find(n);
    if (it == live_.end()) return;
    NotificationClick click{it->version, it->subscription, action, it->url};
    detail::log().info("notify: {} clicked on the notification of message {} on {}", action, click.version,
                       click.subscription);
    if (action == "default" && !click.url.empty()) open(click, notify_notification_get_activation_token(n));
    if (options_.on_action) options_.on_action(click);
  }

  // Runs the opener with the URL as its last argument: no shell, not waited for.
  void open(const NotificationClick& click, const char* activation_token) {
    detail::SpawnSpec spec;
    spec.argv = options_.opener;
    spec.argv.push_back(click.url);
    if (activation_token != nullptr) {
      // Lets the browser take focus on Wayland (xdg-activation) and X11 (startup notification).
      spec.env.push_back(std::string("XDG_ACTIVATION_TOKEN=") + activation_token);
      spec.env.push_back(std::string("DESKTOP_STARTUP_ID=") + activation_token);
    }
    auto pid = detail::spawn(spec);
    if (!pid) {
      detail::log().warn("notify: cannot open the URL of message {}: {}", click.version, pid.error().message());
      return;
    }
    auto ok = openers_.watch(*pid, false, [opener = spec.argv[0], version = click.version](std::optional<int> st) {
      if (st && !(WIFEXITED(*st) && WEXITSTATUS(*st) == 0)) {
        detail::log().warn("notify: {} failed to open the URL of message {} (wait status {:#x})", opener, version, *st);
      }
    });
    if (!ok) detail::log().warn("notify: {}", ok.error().message());
  }

  NotifyOptions options_;
  std::unique_ptr<glib::GlibPump> pump_;
  event::ChildReaper openers_;  // running openers are left alone at destruction (a browser may be one)
  bool actions_cap_;
  bool markup_cap_;
  std::list<Live> live_;  // oldest first
  bool failing_ = false;
  bool retry_due_ = false;
  event::Timer retry_;
};

}  // namespace

}  // namespace webpush::sinks

// The module's entry (notify_module.h).
extern "C" __attribute__((visibility("default"))) void webpushd_notify_sink_create(
    const char* abi, webpush::event::EventLoop& loop, webpush::sinks::NotifyOptions options,
    webpush::Result<std::unique_ptr<webpush::sinks::Sink>>* out) {
  using namespace webpush::sinks;
  if (std::strcmp(abi, detail::kNotifyModuleAbi) != 0) {
    *out = webpush::fail(Errc::unavailable, fmt::format("notify: the module is from webpushd {}, the daemon from {}: "
                                                        "reinstall webpushd",
                                                        detail::kNotifyModuleAbi, abi));
    return;
  }
  *out = NotifySink::create(loop, std::move(options));
}
