// webpushd as a UnifiedPush distributor, end to end on a private D-Bus: each
// test runs its own dbus-daemon, `webpushd serve` and `webpushd run` on
// loopback, and fake apps (fake_connector.py) that register over D-Bus, hand
// the PushSubscription they would give their server to `webpushd send`, and
// decrypt what they are forwarded with their own keys and their own RFC 8291
// decryptor.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "cli/cli_process.h"
#include "harness.h"
#include "support/daemon_process.h"
#include "support/service_process.h"

namespace webpush::testing {
namespace {

constexpr const char* kServing = "[unifiedpush] serving org.unifiedpush.Distributor.webpushd on the session bus";
constexpr Millis kEventTimeout{10000};

struct StartOptions {
  std::vector<std::string> serve_args;  ///< e.g. {"--msg-limit", "3"}
  std::string unifiedpush_config;       ///< lines of the daemon's [unifiedpush] table
};

struct Sent {
  int status = 0;
  std::string id;  ///< the message id from Location
  std::string output;
};

class UnifiedPush : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = missing_prerequisite()) GTEST_SKIP() << *why;
    isolate_environment(tmp.path());
    std::filesystem::create_directories(tmp.path() / "run");
    ::chmod((tmp.path() / "run").c_str(), 0700);
    ::setenv("XDG_RUNTIME_DIR", (tmp.path() / "run").c_str(), 1);
    ::unsetenv("DBUS_STARTER_ADDRESS");
    ::unsetenv("DBUS_STARTER_BUS_TYPE");
    bus = std::make_unique<PrivateBus>(tmp.path() / "dbus");
    ::setenv("DBUS_SESSION_BUS_ADDRESS", bus->address().c_str(), 1);
  }

  void TearDown() override {
    for (const pid_t pid : activated) ::kill(pid, SIGKILL);
    if (HasFailure() && daemon) {
      drain_daemon();
      std::printf("the daemon's log:\n%s", daemon->log().c_str());
    }
  }

  void start(const StartOptions& setup = {}) {
    service = std::make_unique<ServiceProcess>(ServiceOptions{.state_dir = svc_dir, .extra_args = setup.serve_args});
    std::ofstream(config_file) << "[unifiedpush]\nenabled = true\n" << setup.unifiedpush_config << "\n";
    start_daemon();
  }

  // `webpushd run` on the state directory; returns once it serves on the bus and is connected.
  void start_daemon() {
    daemon = std::make_unique<DaemonProcess>(
        DaemonOptions{.state_dir = ua_dir,
                      .server = service->ws_url(),
                      .extra_args = {"--no-notify", "--backoff-initial", "0.2", "--backoff-max", "1"},
                      .jsonl = (tmp.path() / "events.jsonl").string(),
                      .global_args = {"--config", config_file.string()}});
    const auto deadline = Clock::now() + Millis(15000);
    while (daemon->log().find(kServing) == std::string::npos ||
           daemon->log().find("connected to") == std::string::npos) {
      if (remaining(deadline).count() == 0 || daemon_exited()) {
        throw SupportError("the daemon did not serve on the bus and connect in time; its log:\n" + daemon->log());
      }
      daemon->read_for(Millis(20));
    }
  }

  std::unique_ptr<FakeApp> start_app(const std::string& name, int api = 2) {
    return std::make_unique<FakeApp>(tmp.path(), AppOptions{.name = name, .api = api});
  }

  // The next matching event of `app`; the daemon's output is read meanwhile, so that it never blocks on a full pipe.
  Json await(FakeApp& app, const EventPredicate& pred, Millis timeout = kEventTimeout) {
    return app.events().take(pred, timeout, [this] { drain_daemon(); });
  }

  // Whether the daemon has exited (it is not reaped here: DaemonProcess does that).
  bool daemon_exited() const {
    siginfo_t info{};
    return daemon && daemon->pid() > 0 &&
           ::waitid(P_PID, static_cast<id_t>(daemon->pid()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == daemon->pid();
  }

  void drain_daemon() {
    if (daemon) daemon->read_for(Millis(1));
  }

  // `register TOKEN [VAPID]`: asserts success and returns the NewEndpoint event.
  Json register_app(FakeApp& app, const std::string& token, const std::string& vapid = "") {
    app.command("register " + token + (vapid.empty() ? "" : " " + vapid));
    const Json reply = await(app, event_is("registered", token));
    if (reply["result"] != "REGISTRATION_SUCCEEDED") {
      throw SupportError("Register(" + token + ") failed: " + reply.dump() + app.describe() + daemon_log());
    }
    return await(app, event_is("new_endpoint", token));
  }

  // `webpushd send SUBSCRIPTION.json --payload TEXT [extra…]`.
  Sent send(const Json& subscription, const std::string& text, const std::vector<std::string>& extra = {}) {
    const auto file = tmp.path() / ("subscription-" + std::to_string(++files) + ".json");
    std::ofstream(file) << subscription.dump();
    std::vector<std::string> args = {"send", file.string(), "--payload", text};
    args.insert(args.end(), extra.begin(), extra.end());
    const CliResult r = run_cli(args);
    Sent sent{.status = std::atoi(r.out.c_str()), .output = r.describe()};
    for (const auto& line : r.out_lines()) {
      if (line.rfind("Location: ", 0) == 0) sent.id = line.substr(line.rfind('/') + 1);
    }
    return sent;
  }

  Json list() { return cli_json({"--state-dir", ua_dir.string(), "list", "--json"}); }
  Json status() { return cli_json({"--state-dir", ua_dir.string(), "status", "--json"}); }

  std::vector<Json> messages() {
    const CliResult r = run_cli({"--state-dir", ua_dir.string(), "messages", "--json"});
    if (r.status != 0) throw SupportError("messages --json failed: " + r.describe());
    std::vector<Json> rows;
    for (const auto& line : r.out_lines()) rows.push_back(Json::parse(line));
    return rows;
  }

  Json cli_json(const std::vector<std::string>& args) {
    const CliResult r = run_cli(args);
    auto j = Json::parse(r.out, nullptr, false);
    if (j.is_discarded()) throw SupportError("not JSON: " + r.describe());
    return j;
  }

  // The one subscription `list --json` shows (a failure, and an empty object, when there is not exactly one).
  Json only_subscription() {
    const Json all = list();
    EXPECT_EQ(all.size(), 1u) << all;
    return all.size() == 1 ? all[0] : Json::object();
  }

  // Polls `done` (a CLI command each time, so paced by the daemon's own answers) until it holds.
  void poll_until(const std::function<bool()>& done, const std::string& what, Millis timeout = kEventTimeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
      if (remaining(deadline).count() == 0 || daemon_exited()) {
        throw SupportError("timed out waiting for " + what + daemon_log());
      }
      if (daemon) daemon->read_for(Millis(50));
    }
  }

  std::string daemon_log() const { return daemon ? "\nthe daemon's log:\n" + daemon->log() : ""; }

  TempDir tmp{"webpushd-up"};
  std::filesystem::path ua_dir = tmp.path() / "ua";
  std::filesystem::path svc_dir = tmp.path() / "svc";
  std::filesystem::path config_file = tmp.path() / "config.toml";
  int files = 0;
  std::vector<pid_t> activated;  // apps D-Bus started for a test, by the "ready" events they printed
  // Destroyed in reverse: the apps, the daemon, the service, then the bus.
  std::unique_ptr<PrivateBus> bus;
  std::unique_ptr<ServiceProcess> service;
  std::unique_ptr<DaemonProcess> daemon;
};

class UnifiedPushApi : public UnifiedPush, public ::testing::WithParamInterface<int> {};

std::string api_name(const ::testing::TestParamInfo<int>& info) { return "v" + std::to_string(info.param); }

// --- registration and delivery ------------------------------------------------------------------------

TEST_P(UnifiedPushApi, RegisterThenAMessageDecryptsToTheSentText) {
  start();
  auto app = start_app("org.webpushd.test.Reader", GetParam());
  const Json endpoint = register_app(*app, "chat-1");
  EXPECT_EQ(endpoint["endpoint"].get<std::string>().rfind(service->http_base() + "/", 0), 0u) << endpoint;

  const Json sub = only_subscription();
  EXPECT_EQ(sub.value("name", ""), "up/org.webpushd.test.Reader/chat-1");
  EXPECT_EQ(sub.value("endpoint", ""), endpoint["endpoint"]);
  EXPECT_EQ(sub.value("app", Json()), (Json{{"service", "org.webpushd.test.Reader"},
                                            {"token", "chat-1"},
                                            {"description", "fake app org.webpushd.test.Reader"},
                                            {"api", GetParam()}}));

  const Sent sent = send(endpoint["subscription"], "hello over D-Bus");
  ASSERT_EQ(sent.status, 201) << sent.output;
  const Json message = await(*app, event_is("message", "chat-1"));
  EXPECT_EQ(message.value("text", ""), "hello over D-Bus") << message << app->describe();
  EXPECT_FALSE(message["id"].get<std::string>().empty());
  EXPECT_EQ(message["id"], sent.id) << "the id is the push service's message id";
}

TEST_P(UnifiedPushApi, UnregisterSendsUnregisteredAndTheEndpointIsGone) {
  start();
  auto app = start_app("org.webpushd.test.Leaver", GetParam());
  const Json endpoint = register_app(*app, "t");
  ASSERT_EQ(send(endpoint["subscription"], "before").status, 201);
  await(*app, message_with_text("before"));

  app->command("unregister t");
  await(*app, event_is("unregistered", "t"));
  EXPECT_EQ(list(), Json::array()) << "the subscription is deleted";
  // serve answers 410 Gone for a channel that was unregistered (push_service.cpp: "No such subscription").
  const Sent after = send(endpoint["subscription"], "after");
  EXPECT_EQ(after.status, 410) << after.output;
}

TEST_P(UnifiedPushApi, ConnectorErrorsAreRetriedAndTheMessageArrivesOnce) {
  start();
  auto app = start_app("org.webpushd.test.Flaky", GetParam());
  const Json endpoint = register_app(*app, "t");
  app->command("fail 2");
  ASSERT_EQ(send(endpoint["subscription"], "third time lucky").status, 201);
  const Json message = await(*app, message_with_text("third time lucky"));
  const auto refused = app->events().all(event_is("refused"));
  ASSERT_EQ(refused.size(), 2u) << app->describe();
  for (const auto& r : refused) EXPECT_EQ(r["id"], message["id"]);

  // Delivery is in order per app: once the next one is there, a second copy of the first would have come.
  ASSERT_EQ(send(endpoint["subscription"], "next").status, 201);
  await(*app, message_with_text("next"));
  EXPECT_EQ(app->events().all(message_with_text("third time lucky")).size(), 1u) << app->describe();
}

TEST_F(UnifiedPush, RegisteringTheSameTokenAgainGivesTheSameEndpoint) {
  start();
  auto app = start_app("org.webpushd.test.Twice");
  const Json first = register_app(*app, "same");
  const Json second = register_app(*app, "same");
  EXPECT_EQ(second["endpoint"], first["endpoint"]);
  // A token too long for a subscription name is named by its hash, and found again the same way.
  const std::string long_token(100, 'k');
  const Json long_first = register_app(*app, long_token);
  const Json long_second = register_app(*app, long_token);
  EXPECT_EQ(long_second["endpoint"], long_first["endpoint"]);
  EXPECT_NE(long_first["endpoint"], first["endpoint"]);

  std::set<std::string> names;
  for (const auto& sub : list()) names.insert(sub.value("name", ""));
  ASSERT_EQ(names.size(), 2u) << list();
  EXPECT_EQ(names.count("up/org.webpushd.test.Twice/same"), 1u);
  const std::string hashed =
      *std::find_if(names.begin(), names.end(), [](const auto& n) { return n != "up/org.webpushd.test.Twice/same"; });
  EXPECT_TRUE(std::regex_match(hashed, std::regex("up/org\\.webpushd\\.test\\.Twice/[0-9a-f]{16}"))) << hashed;
}

TEST_F(UnifiedPush, VapidKeyRestrictsTheEndpointToThatKey) {
  start();
  const auto key_file = tmp.path() / "vapid.pem";
  const CliResult keygen = run_cli({"vapid-keygen", key_file.string()});
  ASSERT_EQ(keygen.status, 0) << keygen.describe();
  const std::string public_key = keygen.out_lines().at(0);
  auto app = start_app("org.webpushd.test.Signed");
  const Json endpoint = register_app(*app, "t", public_key);
  EXPECT_EQ(only_subscription().value("application_server_key", Json()), public_key);

  const Sent unsigned_send = send(endpoint["subscription"], "unsigned");
  EXPECT_EQ(unsigned_send.status, 401) << unsigned_send.output;
  const Sent signed_send = send(endpoint["subscription"], "signed", {"--vapid-key-file", key_file.string()});
  ASSERT_EQ(signed_send.status, 201) << signed_send.output;
  await(*app, message_with_text("signed"));
}

TEST_F(UnifiedPush, TwoAppsGetOnlyTheirOwnMessages) {
  start();
  auto a = start_app("org.webpushd.test.Alpha", 2);
  auto b = start_app("org.webpushd.test.Beta", 1);
  // The same token in both apps: a registration is the pair (service, token).
  const Json ea = register_app(*a, "shared");
  const Json eb = register_app(*b, "shared");
  EXPECT_NE(ea["endpoint"], eb["endpoint"]);
  for (const std::string round : {"1", "2"}) {
    ASSERT_EQ(send(ea["subscription"], "for alpha " + round).status, 201);
    ASSERT_EQ(send(eb["subscription"], "for beta " + round).status, 201);
  }
  await(*a, message_with_text("for alpha 2"));
  await(*b, message_with_text("for beta 2"));
  const auto texts = [](FakeApp& app) {
    std::vector<std::string> out;
    for (const auto& m : app.events().all(event_is("message"))) out.push_back(m.value("text", "(error) " + m.dump()));
    return out;
  };
  EXPECT_EQ(texts(*a), (std::vector<std::string>{"for alpha 1", "for alpha 2"})) << a->describe();
  EXPECT_EQ(texts(*b), (std::vector<std::string>{"for beta 1", "for beta 2"})) << b->describe();
}

// --- bad registrations ----------------------------------------------------------------------------------

TEST_F(UnifiedPush, BadRegistrationsFailClearlyAndStoreNothing) {
  start();
  auto v2 = start_app("org.webpushd.test.Careless", 2);
  auto v1 = start_app("org.webpushd.test.Careless1", 1);
  struct Case {
    FakeApp* app;
    Json args;
    std::string about;  // the detail names what was wrong
  };
  const std::vector<Case> cases = {
      {v2.get(), {{"service", v2->name()}, {"token", ""}, {"description", "empty token"}}, "token"},
      {v2.get(), {{"service", "not a bus name"}, {"token", "t1"}}, "service"},
      {v2.get(), {{"service", v2->name()}, {"description", "no token key"}}, "token"},
      {v1.get(), {{"service", v1->name()}, {"token", ""}}, "token"},
      {v1.get(), {{"service", "org..empty.element"}, {"token", "t2"}}, "service"},
  };
  for (const auto& c : cases) {
    c.app->command("register_raw " + c.args.dump());
    const Json reply = await(*c.app, event_is("registered", c.args.value("token", "")));
    SCOPED_TRACE(c.args.dump() + " -> " + reply.dump());
    EXPECT_EQ(reply["result"], "REGISTRATION_FAILED");
    if (c.app->api() == 2) {
      EXPECT_EQ(reply["reason"], "INTERNAL_ERROR");
    }
    ASSERT_TRUE(reply["detail"].is_string());
    std::string detail = reply["detail"];
    std::transform(detail.begin(), detail.end(), detail.begin(), ::tolower);
    EXPECT_NE(detail.find(c.about), std::string::npos);
  }
  EXPECT_TRUE(v2->events().all(event_is("new_endpoint")).empty()) << v2->describe();
  EXPECT_TRUE(v1->events().all(event_is("new_endpoint")).empty()) << v1->describe();
  EXPECT_EQ(list(), Json::array());
}

// --- restarts, uaid resets, activation ------------------------------------------------------------------

TEST_F(UnifiedPush, RestartKeepsTheRegistrationWithoutASecondEndpoint) {
  start();
  auto app = start_app("org.webpushd.test.Steady");
  const Json endpoint = register_app(*app, "t");
  ASSERT_EQ(daemon->stop(), 0) << daemon->log();
  start_daemon();

  const Json sub = only_subscription();
  EXPECT_EQ(sub.value("app", Json()),
            (Json{{"service", app->name()}, {"token", "t"}, {"description", "fake app " + app->name()}, {"api", 2}}));
  EXPECT_EQ(sub.value("endpoint", ""), endpoint["endpoint"]);
  // A round trip through the restarted daemon: anything it sent before the message has been read by then.
  ASSERT_EQ(send(endpoint["subscription"], "after the restart").status, 201);
  await(*app, message_with_text("after the restart"));
  EXPECT_EQ(app->events().all(event_is("new_endpoint")).size(), 1u) << app->describe();
}

TEST_F(UnifiedPush, UaidResetOnTheServiceGivesANewEndpoint) {
  // serve drops a uaid once it flushes more stored messages than --msg-limit in one session.
  start({.serve_args = {"--msg-limit", "3"}});
  auto app = start_app("org.webpushd.test.Reset");
  const Json old_endpoint = register_app(*app, "t");
  ASSERT_EQ(daemon->stop(), 0) << daemon->log();
  for (int i = 0; i < 6; ++i) ASSERT_EQ(send(old_endpoint["subscription"], "backlog " + std::to_string(i)).status, 201);
  start_daemon();

  const Json fresh = await(*app, event_is("new_endpoint", "t"), Millis(15000));
  EXPECT_NE(fresh["endpoint"], old_endpoint["endpoint"]);
  EXPECT_EQ(send(old_endpoint["subscription"], "to the old endpoint").status, 410);
  const Sent sent = send(fresh["subscription"], "to the new endpoint");
  ASSERT_EQ(sent.status, 201) << sent.output;
  const Json message = await(*app, message_with_text("to the new endpoint"));
  EXPECT_EQ(message["id"], sent.id);
  EXPECT_EQ(only_subscription().value("endpoint", ""), fresh["endpoint"]);
}

TEST_P(UnifiedPushApi, AnAppThatIsNotRunningIsActivatedForItsMessage) {
  start();
  const auto fifo = tmp.path() / "activated.events";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Read and write ends both here: the stream never sees an end, whoever opens and closes the FIFO.
  EventStream activated_events(::open(fifo.c_str(), O_RDWR | O_CLOEXEC), "the activated app");

  auto app = start_app("org.webpushd.test.Sleeper", GetParam());
  const Json endpoint = register_app(*app, "t");
  bus->add_activatable(app->name(), app->activation_command(fifo));
  app->command("quit");
  ASSERT_EQ(app->wait_exit(), 0) << app->describe();

  const Sent sent = send(endpoint["subscription"], "wake up");
  ASSERT_EQ(sent.status, 201) << sent.output;
  const Json ready = activated_events.take(event_is("ready"), kEventTimeout, [this] { drain_daemon(); });
  activated.push_back(ready["pid"].get<pid_t>());
  const Json message = activated_events.take(event_is("message"), kEventTimeout, [this] { drain_daemon(); });
  EXPECT_EQ(message.value("text", ""), "wake up") << message;
  EXPECT_EQ(message["id"], sent.id);
}

// --- retries ----------------------------------------------------------------------------------------------

TEST_F(UnifiedPush, ConnectorThatHangsIsRetriedAfterTheCallTimeout) {
  start({.unifiedpush_config = "call_timeout = 1"});
  auto app = start_app("org.webpushd.test.Sluggish", 2);
  const Json endpoint = register_app(*app, "t");
  app->command("hang 1");
  ASSERT_EQ(send(endpoint["subscription"], "are you there").status, 201);
  const Json message = await(*app, message_with_text("are you there"));
  const auto hung = app->events().all(event_is("refused"));
  ASSERT_EQ(hung.size(), 1u) << app->describe();
  EXPECT_EQ(hung[0]["id"], message["id"]);
  ASSERT_EQ(send(endpoint["subscription"], "next").status, 201);
  await(*app, message_with_text("next"));
  EXPECT_EQ(app->events().all(message_with_text("are you there")).size(), 1u) << app->describe();
}

TEST_F(UnifiedPush, KillDuringABurstLosesNothing) {
  constexpr int kBurst = 50;
  start();
  auto app = start_app("org.webpushd.test.Burst");
  const Json endpoint = register_app(*app, "t");
  const auto file = tmp.path() / "burst.json";
  std::ofstream(file) << endpoint["subscription"].dump();
  BackgroundProcess sender(
      {ServiceProcess::binary(), "send", file.string(), "--count", std::to_string(kBurst), "--rate", "100"},
      tmp.path() / "sender.log");
  const auto received = [&] { return app->events().all(event_is("message")).size(); };
  app->events().wait_until([&] { return received() >= 5; }, "the first messages", kEventTimeout,
                           [this] { drain_daemon(); });
  daemon->kill_now();
  ASSERT_EQ(sender.wait_exit(Millis(30000)), 0) << sender.output();
  start_daemon();

  const auto all_texts_arrived = [&] {
    std::set<std::string> texts;
    for (const auto& m : app->events().all(event_is("message"))) texts.insert(m.value("text", ""));
    for (int i = 1; i <= kBurst; ++i) {
      if (texts.count("message " + std::to_string(i)) == 0) return false;
    }
    return true;
  };
  app->events().wait_until(all_texts_arrived, "every message of the burst", Millis(30000), [this] { drain_daemon(); });
  std::map<std::string, std::set<std::string>> ids_of_text;
  std::set<std::string> ids;
  const auto all = app->events().all(event_is("message"));
  for (const auto& m : all) {
    ASSERT_TRUE(m.contains("text")) << "not decrypted: " << m;
    ids_of_text[m["text"]].insert(m["id"]);
    ids.insert(m["id"]);
  }
  EXPECT_EQ(ids_of_text.size(), static_cast<std::size_t>(kBurst));
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kBurst)) << "every message has its own id";
  for (const auto& [text, its_ids] : ids_of_text) EXPECT_EQ(its_ids.size(), 1u) << text << ": a copy with another id";
  std::printf("[ measure  ] %zu Message calls for %d messages across a kill -9\n", all.size(), kBurst);
}

// --- what the CLI shows ---------------------------------------------------------------------------------

TEST_F(UnifiedPush, StatusShowsTheAppWithNothingPendingAfterDelivery) {
  start();
  auto app = start_app("org.webpushd.test.Watched");
  const Json endpoint = register_app(*app, "t");
  ASSERT_EQ(send(endpoint["subscription"], "count me").status, 201);
  await(*app, message_with_text("count me"));

  Json up;
  Json entry;
  poll_until(
      [&] {
        up = status().value("unifiedpush", Json());
        if (!up.is_object() || !up["apps"].is_array()) return false;
        for (const auto& a : up["apps"]) {
          if (a.value("service", "") == app->name()) entry = a;
        }
        return entry.is_object() && entry.value("pending", -1) == 0;
      },
      "status to show the app with pending 0");
  EXPECT_EQ(up["state"], "serving") << up;
  EXPECT_EQ(up["name"], "org.unifiedpush.Distributor.webpushd");
  EXPECT_EQ(entry["token"], "t");
  EXPECT_EQ(entry["subscription"], "up/org.webpushd.test.Watched/t");
  EXPECT_EQ(entry["api"], 2);
  EXPECT_GE(entry.value("forwarded", 0), 1) << entry;
  EXPECT_TRUE(entry["last_error"].is_null()) << entry;
}

TEST_F(UnifiedPush, AesgcmMessageIsRecordedAsFailedAndNeverForwarded) {
  start();
  auto app = start_app("org.webpushd.test.Legacy");
  const Json endpoint = register_app(*app, "t");
  const Sent legacy = send(endpoint["subscription"], "old style", {"--encoding", "aesgcm"});
  ASSERT_EQ(legacy.status, 201) << legacy.output;
  ASSERT_EQ(send(endpoint["subscription"], "new style").status, 201);
  await(*app, message_with_text("new style"));
  const auto forwarded = app->events().all(event_is("message"));
  EXPECT_EQ(forwarded.size(), 1u) << app->describe();

  Json row;
  poll_until(
      [&] {
        for (const auto& m : messages()) {
          if (m.value("version", "") == legacy.id) row = m;
        }
        return row.is_object();
      },
      "the aesgcm message in the inbox");
  EXPECT_EQ(row["type"], "decrypt_error") << row;
  EXPECT_EQ(row["app"], app->name()) << row;
  EXPECT_FALSE(row.value("error", "").empty()) << row;
}

INSTANTIATE_TEST_SUITE_P(Api, UnifiedPushApi, ::testing::Values(1, 2), api_name);

}  // namespace
}  // namespace webpush::testing
