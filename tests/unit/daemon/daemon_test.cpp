// daemon::Daemon, the composition of a running daemon, with a fake push-service
// connection and a recording sd_notify: start-up, READY/STATUS/STOPPING, the
// signals (SIGTERM/SIGINT stop, SIGHUP reloads), the control socket, the state
// directory lock. The loop is real and driven by events; nothing sleeps.
#include "webpush/daemon/daemon.h"

#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../store/store_fixtures.h"
#include "fake_clock.h"
#include "fake_connection.h"
#include "fake_http.h"
#include "fake_stream.h"
#include "webpush/daemon/control.h"
#include "webpush/event/timer.h"

namespace webpush::daemon {
namespace {

using store::test::TempDir;

struct DaemonHarness {
  TempDir dir;
  fakes::FakeConnectionFactory connections;
  fakes::FakeClock clock;
  fakes::FixedJitter jitter{0.0};
  fakes::FakeHttpClient fcm_http;
  fakes::FakeStreamFactory fcm_streams;
  std::optional<FcmOptions> fcm;      // the [fcm] configured
  std::vector<std::string> notified;  // sd_notify lines, in order
  int reloads = 0;
  std::vector<std::size_t> releases;  // how many lines were notified when memory was released
  Result<Reloaded> next_reload = Reloaded{};
  std::unique_ptr<Daemon> daemon;

  DaemonConfig config() const {
    DaemonConfig c;
    c.state_dir = dir.state();
    c.agent.server = "wss://push.example.net/";
    c.sinks.notify = false;
    c.close_linger = Duration{0};
    c.fcm = fcm;
    return c;
  }

  DaemonSeams seams() {
    DaemonSeams s;
    s.connections = &connections;
    s.clock = &clock;
    s.jitter = &jitter;
    s.fcm_http = &fcm_http;
    s.fcm_streams = &fcm_streams;
    s.sd_notify = [this](const std::string& line) { notified.push_back(line); };
    s.watch_network = false;
    s.release_memory = [this] { releases.push_back(notified.size()); };
    return s;
  }

  Result<std::unique_ptr<Daemon>> make() {
    return Daemon::create(
        config(),
        [this]() -> Result<Reloaded> {
          ++reloads;
          return next_reload;
        },
        seams());
  }

  void create() {
    auto d = make();
    ASSERT_TRUE(d) << d.error();
    daemon = std::move(*d);
  }

  /// Runs `step` on the first turn of the loop, then runs the daemon until it stops.
  Result<void> run_with(const std::function<void()>& step) {
    event::Timer first(daemon->loop(), step);
    first.arm(Duration{0});
    return daemon->run();
  }

  [[nodiscard]] bool notified_line(std::string_view prefix) const {
    for (const auto& l : notified) {
      if (l.rfind(prefix, 0) == 0) return true;
    }
    return false;
  }
};

std::string hello_reply() {
  return nlohmann::json{
      {"messageType", "hello"}, {"uaid", "5f0b3c1e9a7d4e21b6c3a8f04d2e7b19"}, {"status", 200}, {"use_webpush", true}}
      .dump();
}

TEST(Daemon, ConnectsSaysReadyAndStopsOnSigterm) {
  DaemonHarness h;
  h.create();
  ASSERT_NE(h.daemon, nullptr);
  auto ran = h.run_with([&] {
    ASSERT_EQ(h.connections.connections(), 1u);
    h.connections.last().open();
    h.connections.last().receive(hello_reply());
    ::raise(SIGTERM);
  });
  ASSERT_TRUE(ran) << ran.error();
  // READY once the store is open and the first connection is under way, then
  // the state as it changes, then STOPPING.
  const auto at = [&](std::string_view prefix) {  // index of the first line starting so
    return std::find_if(h.notified.begin(), h.notified.end(),
                        [&](const std::string& l) { return l.rfind(prefix, 0) == 0; }) -
           h.notified.begin();
  };
  const auto n = static_cast<std::ptrdiff_t>(h.notified.size());
  ASSERT_LT(at("READY=1"), n);
  ASSERT_LT(at("STATUS=connected"), n);
  ASSERT_LT(at("STOPPING=1"), n);
  EXPECT_LT(at("STATUS=connecting"), at("READY=1"));
  EXPECT_LT(at("READY=1"), at("STATUS=connected"));
  EXPECT_LT(at("STATUS=connected"), at("STOPPING=1"));
  EXPECT_EQ(h.notified.back(), "STATUS=idle: stopped");
  EXPECT_TRUE(h.connections.last().closed());  // a close frame on the way out
}

TEST(Daemon, GivesStartUpMemoryBackOnceTheFirstConnectionIsUp) {
  DaemonHarness h;
  h.create();
  ASSERT_NE(h.daemon, nullptr);
  std::size_t lines_when_connected = 0;
  auto ran = h.run_with([&] {
    h.connections.last().open();
    EXPECT_TRUE(h.releases.empty()) << "not before the hello is answered";
    h.connections.last().receive(hello_reply());
    lines_when_connected = h.notified.size();
    EXPECT_TRUE(h.releases.empty()) << "deferred: not inside the callback that reported the connection";
    // Losing the connection and the state changes after it release nothing more.
    h.daemon->loop().defer([&] {
      h.connections.last().drop(protocol::DisconnectReason::io_error);
      h.daemon->loop().defer([&] { h.daemon->stop(); });
    });
  });
  ASSERT_TRUE(ran) << ran.error();
  ASSERT_EQ(h.releases.size(), 1u);
  EXPECT_GE(h.releases.front(), lines_when_connected);
}

TEST(Daemon, SigintStopsToo) {
  DaemonHarness h;
  h.create();
  ASSERT_NE(h.daemon, nullptr);
  auto ran = h.run_with([&] { ::raise(SIGINT); });
  ASSERT_TRUE(ran) << ran.error();
  EXPECT_TRUE(h.notified_line("STOPPING=1"));
}

TEST(Daemon, SighupReloadsAndKeepsRunning) {
  DaemonHarness h;
  h.create();
  ASSERT_NE(h.daemon, nullptr);
  auto ran = h.run_with([&] {
    ::raise(SIGHUP);
    // The reload happens when the loop reads the signal; stop on a later turn.
    h.daemon->loop().defer([&] { h.daemon->loop().defer([&] { h.daemon->stop(); }); });
  });
  ASSERT_TRUE(ran) << ran.error();
  EXPECT_EQ(h.reloads, 1);
  EXPECT_EQ(h.connections.connections(), 1u);  // the connection was not touched
}

TEST(Daemon, AFailedReloadKeepsTheDaemonRunning) {
  DaemonHarness h;
  h.next_reload = fail(Errc::bad_request, "config.toml line 3: unknown key 'sinkz'");
  h.create();
  ASSERT_NE(h.daemon, nullptr);
  h.daemon->reload();
  EXPECT_EQ(h.reloads, 1);
  auto ran = h.run_with([&] { h.daemon->stop(); });
  ASSERT_TRUE(ran) << ran.error();
}

TEST(Daemon, ReloadOpensTheNewSinks) {
  DaemonHarness h;
  h.create();
  ASSERT_NE(h.daemon, nullptr);
  const auto out = h.dir.path() / "events.jsonl";
  Reloaded r;
  r.sinks.notify = false;
  r.sinks.jsonl = out.string();
  h.next_reload = r;
  h.daemon->reload();
  EXPECT_TRUE(std::filesystem::exists(out));  // the jsonl sink opened its file
}

TEST(Daemon, ReloadWithAnUnusableSinkKeepsTheOldOnes) {
  DaemonHarness h;
  h.create();
  ASSERT_NE(h.daemon, nullptr);
  Reloaded r;
  r.sinks.notify = false;
  r.sinks.jsonl = (h.dir.path() / "no-such-dir" / "events.jsonl").string();
  h.next_reload = r;
  h.daemon->reload();
  EXPECT_EQ(h.reloads, 1);
  EXPECT_FALSE(std::filesystem::exists(h.dir.path() / "no-such-dir"));
}

TEST(Daemon, ControlSocketIsPrivateWhileRunningAndGoneAfter) {
  DaemonHarness h;
  h.create();
  ASSERT_NE(h.daemon, nullptr);
  const auto sock = control_socket_path(h.dir.state());
  int mode = -1;
  auto ran = h.run_with([&] {
    mode = store::test::mode_of(sock);
    h.daemon->stop();
  });
  ASSERT_TRUE(ran) << ran.error();
  EXPECT_EQ(mode, 0600);
  h.daemon.reset();
  EXPECT_FALSE(std::filesystem::exists(sock));
}

TEST(Daemon, ASecondDaemonOnTheSameStateIsRefused) {
  DaemonHarness h;
  h.create();
  ASSERT_NE(h.daemon, nullptr);
  auto second = h.make();
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message().find("another webpushd daemon"), std::string::npos) << second.error();
}

TEST(Daemon, AnUnopenableJsonlFileFailsCreate) {
  DaemonHarness h;
  DaemonConfig c = h.config();
  c.sinks.jsonl = (h.dir.path() / "missing" / "out.jsonl").string();
  auto d = Daemon::create(c, nullptr, h.seams());
  EXPECT_FALSE(d);
}

TEST(Daemon, AConnectFailureIsReportedAsStatusAndRetried) {
  DaemonHarness h;
  h.connections.fail_next_connect();
  h.create();
  ASSERT_NE(h.daemon, nullptr);
  auto ran = h.run_with([&] { h.daemon->stop(); });
  ASSERT_TRUE(ran) << ran.error();
  EXPECT_EQ(h.connections.attempts(), 1);
  EXPECT_TRUE(h.notified_line("STATUS=reconnecting"));
}

}  // namespace
}  // namespace webpush::daemon

namespace webpush::daemon {
namespace {

TEST(DaemonFcm, NoLinkWithoutFcmConfiguredOrStored) {
  DaemonHarness h;
  h.create();
  EXPECT_EQ(h.daemon->fcm(), nullptr);
}

TEST(DaemonFcm, AConfiguredLinkRunsBesideTheAgentAndStopsWithIt) {
  DaemonHarness h;
  h.fcm = FcmOptions{};
  h.fcm->urls.checkin = "https://127.0.0.1:9/checkin";
  h.create();
  FcmLink* link = h.daemon->fcm();
  ASSERT_NE(link, nullptr);
  std::optional<Result<store::Subscription>> subscribed;
  std::size_t requests_while_running = 0;
  nlohmann::ordered_json status;
  auto ran = h.run_with([&] {
    status = fcm_status_json(link->status());
    link->subscribe("f1", std::nullopt, [&](Result<store::Subscription> s) { subscribed = std::move(s); });
    requests_while_running = h.fcm_http.requests();
    h.daemon->stop();
  });
  ASSERT_TRUE(ran) << ran.error();
  // No device and no FCM subscription: idle, no MCS connection until a subscribe.
  EXPECT_EQ(status["state"], "idle");
  EXPECT_EQ(status["device_known"], false);
  EXPECT_EQ(h.fcm_streams.attempts(), 0);
  // The subscribe started with a checkin at the configured URL; the stop failed it.
  ASSERT_EQ(requests_while_running, 1U);
  EXPECT_EQ(h.fcm_http.calls()[0].request.url, "https://127.0.0.1:9/checkin");
  ASSERT_TRUE(subscribed.has_value());
  EXPECT_FALSE(*subscribed);
}

TEST(DaemonFcm, AStoredDeviceStartsTheLinkWithoutConfig) {
  DaemonHarness h;
  {
    auto store = store::test::open_or_die(h.dir.state(), store::OpenMode::daemon);
    ASSERT_TRUE(store.set_fcm_device({42, 43, 1000}));
  }
  h.create();
  ASSERT_NE(h.daemon->fcm(), nullptr);
  EXPECT_EQ(h.daemon->fcm()->mcs_server(), "mcs://mtalk.google.com:5228");
  bool known = false;
  auto ran = h.run_with([&] {
    known = h.daemon->fcm()->status().device_known;
    h.daemon->stop();
  });
  ASSERT_TRUE(ran) << ran.error();
  EXPECT_TRUE(known);
}

}  // namespace
}  // namespace webpush::daemon
