// The notify sink against a real notification server on a private session bus:
// python3-dbusmock's notification_daemon template, which records every call.
// Meson runs this under dbus-run-session (NotifyServer*, NotifyNoServer*) and
// with a session bus address that leads nowhere (NotifyNoBus*).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gio/gio.h>
#include <glib.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"
#include "webpush/sinks/notify.h"

extern char** environ;

namespace webpush::sinks {
namespace {

using test::run_until;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kPython = WEBPUSH_TEST_PYTHON;  // a python3 that has dbusmock, or ""
constexpr const char* kBusName = "org.freedesktop.Notifications";
constexpr const char* kPath = "/org/freedesktop/Notifications";
constexpr Duration kDeadline{20'000};

struct NotifyCall {
  std::string app_name;
  std::uint32_t replaces_id = 0;
  std::string icon;
  std::string summary;
  std::string body;
  std::vector<std::string> actions;
  std::int32_t timeout = 0;
};

GDBusConnection* session_bus() {
  GError* err = nullptr;
  GDBusConnection* bus = g_bus_get_sync(G_BUS_TYPE_SESSION, nullptr, &err);
  if (bus == nullptr) {
    ADD_FAILURE() << "no session bus: " << err->message;
    g_clear_error(&err);
  }
  return bus;
}

// Waits (on a private main context, with a deadline) until kBusName is owned or not.
bool wait_for_name(GDBusConnection* bus, bool owned, Duration limit) {
  struct State {
    bool known = false;
    bool owned = false;
    bool expired = false;
  } st;
  GMainContext* ctx = g_main_context_new();
  g_main_context_push_thread_default(ctx);
  const guint watch = g_bus_watch_name_on_connection(
      bus, kBusName, G_BUS_NAME_WATCHER_FLAGS_NONE,
      [](GDBusConnection*, const gchar*, const gchar*, gpointer p) {
        auto* s = static_cast<State*>(p);
        s->known = true;
        s->owned = true;
      },
      [](GDBusConnection*, const gchar*, gpointer p) {
        auto* s = static_cast<State*>(p);
        s->known = true;
        s->owned = false;
      },
      &st, nullptr);
  GSource* timeout = g_timeout_source_new(static_cast<guint>(limit.count()));
  g_source_set_callback(
      timeout,
      [](gpointer p) -> gboolean {
        static_cast<State*>(p)->expired = true;
        return G_SOURCE_REMOVE;
      },
      &st, nullptr);
  g_source_attach(timeout, ctx);
  while (!(st.known && st.owned == owned) && !st.expired) g_main_context_iteration(ctx, TRUE);
  g_source_destroy(timeout);
  g_source_unref(timeout);
  g_bus_unwatch_name(watch);
  while (g_main_context_iteration(ctx, FALSE)) {
  }
  g_main_context_pop_thread_default(ctx);
  g_main_context_unref(ctx);
  return st.known && st.owned == owned;
}

GVariant* call(GDBusConnection* bus, const char* iface, const char* method, GVariant* args, const char* type) {
  GError* err = nullptr;
  GVariant* r = g_dbus_connection_call_sync(bus, kBusName, kPath, iface, method, args,
                                            type != nullptr ? G_VARIANT_TYPE(type) : nullptr, G_DBUS_CALL_FLAGS_NONE,
                                            10'000, nullptr, &err);
  if (r == nullptr) {
    ADD_FAILURE() << method << ": " << err->message;
    g_clear_error(&err);
  }
  return r;
}

std::string child_string(GVariant* v, std::size_t i) {
  GVariant* boxed = g_variant_get_child_value(v, i);
  GVariant* inner = g_variant_get_variant(boxed);
  std::string s = g_variant_get_string(inner, nullptr);
  g_variant_unref(inner);
  g_variant_unref(boxed);
  return s;
}

// python3 -m dbusmock --template notification_daemon, started and stopped with deadlines.
class MockServer {
 public:
  static std::unique_ptr<MockServer> start(const std::string& capabilities) {
    auto m = std::unique_ptr<MockServer>(new MockServer());
    m->bus_ = session_bus();
    if (m->bus_ == nullptr) return nullptr;
    const std::string params = fmt::format(R"({{"capabilities": "{}"}})", capabilities);
    std::vector<std::string> args = {kPython, "-m", "dbusmock", "--template", "notification_daemon", "-p", params};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&m->pid_, kPython, nullptr, nullptr, argv.data(), environ) != 0) {
      ADD_FAILURE() << "cannot start " << kPython;
      return nullptr;
    }
    if (!wait_for_name(m->bus_, true, kDeadline)) {
      ADD_FAILURE() << "dbusmock's notification_daemon did not appear on the bus";
      return nullptr;
    }
    return m;
  }

  ~MockServer() { stop(); }
  MockServer(const MockServer&) = delete;
  MockServer& operator=(const MockServer&) = delete;

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      EXPECT_TRUE(wait_for_name(bus_, false, kDeadline)) << "the mock's name did not go away";
    }
    if (bus_ != nullptr) g_object_unref(bus_);
    bus_ = nullptr;
  }

  std::vector<NotifyCall> notify_calls() {
    std::vector<NotifyCall> out;
    GVariant* r = call(bus_, "org.freedesktop.DBus.Mock", "GetCalls", nullptr, "(a(tsav))");
    if (r == nullptr) return out;
    GVariant* calls = g_variant_get_child_value(r, 0);
    for (std::size_t i = 0; i < g_variant_n_children(calls); ++i) {
      GVariant* c = g_variant_get_child_value(calls, i);
      const char* method = nullptr;
      GVariant* args = nullptr;
      guint64 when = 0;
      g_variant_get(c, "(t&s@av)", &when, &method, &args);
      if (std::string(method) == "Notify") {
        NotifyCall n;
        n.app_name = child_string(args, 0);
        GVariant* boxed = g_variant_get_child_value(args, 1);
        GVariant* inner = g_variant_get_variant(boxed);
        n.replaces_id = g_variant_get_uint32(inner);
        g_variant_unref(inner);
        g_variant_unref(boxed);
        n.icon = child_string(args, 2);
        n.summary = child_string(args, 3);
        n.body = child_string(args, 4);
        boxed = g_variant_get_child_value(args, 5);
        inner = g_variant_get_variant(boxed);
        for (std::size_t k = 0; k < g_variant_n_children(inner); ++k) {
          GVariant* s = g_variant_get_child_value(inner, k);
          n.actions.emplace_back(g_variant_get_string(s, nullptr));
          g_variant_unref(s);
        }
        g_variant_unref(inner);
        g_variant_unref(boxed);
        boxed = g_variant_get_child_value(args, 7);
        inner = g_variant_get_variant(boxed);
        n.timeout = g_variant_get_int32(inner);
        g_variant_unref(inner);
        g_variant_unref(boxed);
        out.push_back(std::move(n));
      }
      g_variant_unref(args);
      g_variant_unref(c);
    }
    g_variant_unref(calls);
    g_variant_unref(r);
    return out;
  }

  // Makes the server emit a signal as a real one would when the user clicks.
  void emit(const char* name, const char* signature, std::uint32_t id, GVariant* second) {
    GVariantBuilder b;
    g_variant_builder_init(&b, G_VARIANT_TYPE("av"));
    g_variant_builder_add(&b, "v", g_variant_new_uint32(id));
    g_variant_builder_add(&b, "v", second);
    GVariant* r = call(bus_, "org.freedesktop.DBus.Mock", "EmitSignal",
                       g_variant_new("(sssav)", kBusName, name, signature, &b), nullptr);
    if (r != nullptr) g_variant_unref(r);
  }
  void click(std::uint32_t id, const char* action) { emit("ActionInvoked", "us", id, g_variant_new_string(action)); }
  void closed(std::uint32_t id) { emit("NotificationClosed", "uu", id, g_variant_new_uint32(2)); }

 private:
  MockServer() = default;
  pid_t pid_ = -1;
  GDBusConnection* bus_ = nullptr;
};

MessageEvent message(std::string version, std::string_view payload, std::string subscription = "news") {
  MessageEvent m;
  m.subscription = std::move(subscription);
  m.channel_id = "0b5c1f1e-0000-4000-8000-000000000001";
  m.version = std::move(version);
  m.received_at_ms = 1'795'819'371'123;
  m.payload = to_bytes(payload);
  m.encoding = "aes128gcm";
  return m;
}

// Runs the sink's loop until GLib's default context has dispatched everything
// already attached to it (e.g. a NameOwnerChanged or NotificationClosed that
// reached this process): a low-priority idle source attached from another
// thread — which also signals the context's wakeup descriptor, as GDBus does —
// runs only after every default-priority source before it. (Asking GLib
// whether something is pending would acknowledge that wakeup behind the
// sink's back.)
bool drain_glib(event::EventLoop& loop) {
  std::atomic<bool> ran{false};
  std::thread([&ran] {
    GSource* idle = g_idle_source_new();
    g_source_set_priority(idle, G_PRIORITY_LOW);
    g_source_set_callback(
        idle,
        [](gpointer p) -> gboolean {
          static_cast<std::atomic<bool>*>(p)->store(true);
          return G_SOURCE_REMOVE;
        },
        &ran, nullptr);
    g_source_attach(idle, g_main_context_default());
    g_source_unref(idle);
  }).join();
  return run_until(
      loop, [&ran] { return ran.load(); }, kDeadline);
}

class NotifyServer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(kPython).empty()) GTEST_SKIP() << "python3-dbusmock not found at configure time";
    if (std::getenv("DBUS_SESSION_BUS_ADDRESS") == nullptr) GTEST_SKIP() << "needs dbus-run-session";
  }

  void start(const std::string& capabilities) {
    server = MockServer::start(capabilities);
    ASSERT_TRUE(server);
    NotifyOptions options;
    options.opener = {test::self_exe(), "--child", "record", (dir.path() / "opened").string()};
    options.on_action = [this](const NotificationClick& c) { clicks.push_back(c); };
    options.retry_after = Duration{1};
    auto s = make_notify_sink(*loop, options);
    ASSERT_TRUE(s) << s.error();
    sink = std::move(*s);
  }

  void TearDown() override {
    sink.reset();
    server.reset();
  }

  test::LogCapture log;
  test::TempDir dir;
  std::unique_ptr<event::EventLoop> loop = test::make_loop();
  std::unique_ptr<MockServer> server;
  std::unique_ptr<Sink> sink;
  std::vector<NotificationClick> clicks;
};

TEST_F(NotifyServer, MarkupInThePayloadArrivesEscaped) {
  start("body body-markup actions");
  ASSERT_TRUE(sink->deliver(message(
      "v1", R"({"title":"<b>Hi</b> & co","body":"<b>bold</b> <a href=\"https://evil.example/?a=1&b=2\">x</a> & more",)"
            R"("icon":"mail-message-new"})")));
  const auto calls = server->notify_calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].app_name, "webpushd");
  EXPECT_EQ(calls[0].summary, "<b>Hi</b> & co");  // the summary is plain text by the spec: servers escape it
  EXPECT_EQ(calls[0].body,
            "&lt;b&gt;bold&lt;/b&gt; &lt;a href=&quot;https://evil.example/?a=1&amp;b=2&quot;&gt;x&lt;/a&gt; "
            "&amp; more");
  EXPECT_EQ(calls[0].icon, "mail-message-new");
  EXPECT_THAT(calls[0].actions, IsEmpty());  // no URL, no buttons
  EXPECT_EQ(calls[0].replaces_id, 0u);
}

TEST_F(NotifyServer, TextBinaryAndEmptyPushes) {
  start("body body-markup actions");
  ASSERT_TRUE(sink->deliver(message("v1", "Tom & Jerry <3", "chat")));
  MessageEvent binary = message("v2", "", "chat");
  binary.payload = Bytes{0xff, 0x00, 0xfe};
  ASSERT_TRUE(sink->deliver(binary));
  MessageEvent empty = message("v3", "", "chat");
  empty.payload.reset();
  ASSERT_TRUE(sink->deliver(empty));
  ASSERT_TRUE(sink->deliver(DecryptErrorEvent{"chat", "chan", "v4", 0, "bad tag"}));  // no notification
  ASSERT_TRUE(sink->deliver(SubscriptionChangedEvent{"chat", "https://old/", "https://new/", "{}"}));
  const auto calls = server->notify_calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].summary, "chat");
  EXPECT_EQ(calls[0].body, "Tom &amp; Jerry &lt;3");
  EXPECT_EQ(calls[1].body, "binary message (3 bytes)");
  EXPECT_EQ(calls[2].body, "push without data");
  EXPECT_EQ(calls[3].summary, "Push subscription changed");
  EXPECT_THAT(calls[3].body, HasSubstr("chat"));
}

TEST_F(NotifyServer, SameTagReplacesTheEarlierNotification) {
  start("body body-markup actions");
  ASSERT_TRUE(sink->deliver(message("v1", R"({"title":"Score","body":"1-0","tag":"match"})")));
  ASSERT_TRUE(sink->deliver(message("v2", R"({"title":"Other","body":"x","tag":"other"})")));
  ASSERT_TRUE(sink->deliver(message("v3", R"({"title":"Score","body":"2-0","tag":"match"})")));
  ASSERT_TRUE(sink->deliver(message("v4", R"({"title":"Untagged","body":"y"})")));
  const auto calls = server->notify_calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].replaces_id, 0u);  // the mock numbers notifications 1, 2, … in order
  EXPECT_EQ(calls[1].replaces_id, 0u);
  EXPECT_EQ(calls[2].replaces_id, 1u);
  EXPECT_EQ(calls[2].body, "2-0");
  EXPECT_EQ(calls[3].replaces_id, 0u);

  // Once the server says it is closed, the tag starts a new notification.
  server->closed(1);
  ASSERT_TRUE(drain_glib(*loop));
  ASSERT_TRUE(sink->deliver(message("v5", R"({"title":"Score","body":"3-0","tag":"match"})")));
  const auto after = server->notify_calls();
  ASSERT_EQ(after.size(), 5u);
  EXPECT_EQ(after[4].replaces_id, 0u);
}

TEST_F(NotifyServer, DefaultActionOpensTheUrlAndButtonsAreReported) {
  start("body body-markup actions");
  ASSERT_TRUE(sink->deliver(message("v7", R"({"title":"PR merged","body":"#12","url":"https://git.example/pr/12",)"
                                          R"("actions":[{"action":"archive","title":"Archive"}]})")));
  const auto calls = server->notify_calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_THAT(calls[0].actions, ElementsAre("default", "Open", "archive", "Archive"));

  server->emit("ActivationToken", "us", 1, g_variant_new_string("token-123"));
  server->click(1, "default");
  const auto opened = dir.path() / "opened";
  ASSERT_TRUE(run_until(
      *loop, [&] { return std::filesystem::exists(opened); }, kDeadline));
  EXPECT_EQ(test::read_file(opened), "https://git.example/pr/12\ntoken-123");
  ASSERT_EQ(clicks.size(), 1u);
  EXPECT_EQ(clicks[0].action, "default");
  EXPECT_EQ(clicks[0].version, "v7");

  server->click(1, "archive");
  ASSERT_TRUE(run_until(
      *loop, [&] { return clicks.size() == 2; }, kDeadline));
  EXPECT_EQ(clicks[1].action, "archive");
  EXPECT_EQ(clicks[1].url, "https://git.example/pr/12");
  EXPECT_THAT(log.text(), HasSubstr("archive clicked on the notification of message v7 on news"));
}

TEST_F(NotifyServer, WithoutActionsOrMarkupCapabilities) {
  start("body");
  ASSERT_TRUE(sink->deliver(message("v1", R"({"title":"T","body":"a < b & c","url":"https://x.example/",)"
                                          R"("actions":[{"action":"a","title":"A"}]})")));
  const auto calls = server->notify_calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].body, "a < b & c");  // shown as plain text by such a server: escaping would show
  EXPECT_THAT(calls[0].actions, IsEmpty());
  EXPECT_THAT(log.text(), HasSubstr("without actions, without markup"));
}

TEST_F(NotifyServer, AServerThatGoesAwayCostsOneErrorThenRecovers) {
  start("body body-markup actions");
  ASSERT_TRUE(sink->deliver(message("v1", "first")));
  server.reset();
  ASSERT_TRUE(drain_glib(*loop));

  auto first = sink->deliver(message("v2", "lost"));
  ASSERT_FALSE(first);
  EXPECT_TRUE(first.error().is(Errc::unavailable));
  EXPECT_THAT(first.error().message(), HasSubstr("v2"));
  EXPECT_TRUE(sink->deliver(message("v3", "skipped quietly")));  // no second error

  server = MockServer::start("body body-markup actions");
  ASSERT_TRUE(server);
  // The retry timer (1 ms) is long ripe; this also lets the new NameOwnerChanged reach libnotify's proxy.
  ASSERT_TRUE(drain_glib(*loop));
  ASSERT_TRUE(sink->deliver(message("v4", "back")));
  const auto calls = server->notify_calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].body, "back");
  EXPECT_THAT(log.text(), HasSubstr("work again"));
}

TEST(NotifyNoServer, IsUnavailable) {
  if (std::getenv("DBUS_SESSION_BUS_ADDRESS") == nullptr) GTEST_SKIP() << "needs dbus-run-session";
  auto loop = test::make_loop();
  auto sink = make_notify_sink(*loop);
  ASSERT_FALSE(sink);
  EXPECT_TRUE(sink.error().is(Errc::unavailable));
  // "no notification server …", or "… does not answer" on a bus where a real one is activatable but cannot start.
  EXPECT_THAT(sink.error().message(), HasSubstr("notification server"));
}

TEST(NotifyNoBus, IsUnavailable) {
  const char* address = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  if (address == nullptr || std::string(address).find("/nonexistent/") == std::string::npos) {
    GTEST_SKIP() << "run with DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/…";
  }
  auto loop = test::make_loop();
  auto sink = make_notify_sink(*loop);
  ASSERT_FALSE(sink);
  EXPECT_TRUE(sink.error().is(Errc::unavailable));
  EXPECT_THAT(sink.error().message(), HasSubstr("no D-Bus session bus"));
  auto again = make_notify_sink(*loop);  // no crash, same answer
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().is(Errc::unavailable));
}

TEST(NotifyMarkupEscape, MatchesGlib) {
  EXPECT_TRUE(notify_sink_built());
  for (const std::string s : {"<b>x</b>", R"(<a href="u?a&b">'q'</a>)",
                              "a\x01\x1f\x7f"
                              "b",
                              "\xc2\x80\xc2\x85\xc2\x9f", "caf\xc3\xa9", "&amp;&lt;", "\t\n\r"}) {
    gchar* g = g_markup_escape_text(s.c_str(), static_cast<gssize>(s.size()));
    EXPECT_EQ(markup_escape(s), std::string(g)) << s;
    g_free(g);
  }
}

}  // namespace
}  // namespace webpush::sinks
