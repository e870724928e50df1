// The GDBus bus module (webpushd-unifiedpush.so, loaded through
// connect_session_bus) against a private dbus-daemon that each test starts.
// The test's own GDBus connection is the other side: an app calling Register
// and Unregister, and an app's connector receiving NewEndpoint, Message and
// Unregistered. A fake DistributorApi stands for the distributor.
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <gio/gio.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bus_module.h"
#include "bus_test_support.h"
#include "glib_pump.h"
#include "webpush/event/loop.h"
#include "webpush/unifiedpush/bus.h"

namespace webpush::unifiedpush {
namespace {

using test::CallResult;
using test::VariantPtr;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr const char* kApp = "org.example.App";
constexpr const char* kPath = "/org/unifiedpush/Distributor";
constexpr const char* kD1 = "org.unifiedpush.Distributor1";
constexpr const char* kD2 = "org.unifiedpush.Distributor2";
constexpr const char* kServing = "info serving org.unifiedpush.Distributor.webpushd on the session bus";
constexpr const char* kTaken = "warning org.unifiedpush.Distributor.webpushd is owned by another program; not serving";

// The connector interfaces as the UnifiedPush specification gives them.
constexpr const char* kConnectorXml = R"(<node>
  <interface name="org.unifiedpush.Connector1">
    <method name="Message">
      <arg name="token" type="s" direction="in"/>
      <arg name="message" type="ay" direction="in"/>
      <arg name="messageIdentifier" type="s" direction="in"/>
    </method>
    <method name="NewEndpoint">
      <arg name="token" type="s" direction="in"/>
      <arg name="endpoint" type="s" direction="in"/>
    </method>
    <method name="Unregistered">
      <arg name="token" type="s" direction="in"/>
    </method>
  </interface>
  <interface name="org.unifiedpush.Connector2">
    <method name="Message">
      <arg name="args" type="a{sv}" direction="in"/>
      <arg name="res" type="a{sv}" direction="out"/>
    </method>
    <method name="NewEndpoint">
      <arg name="args" type="a{sv}" direction="in"/>
      <arg name="res" type="a{sv}" direction="out"/>
    </method>
    <method name="Unregistered">
      <arg name="args" type="a{sv}" direction="in"/>
      <arg name="res" type="a{sv}" direction="out"/>
    </method>
  </interface>
</node>)";

std::unique_ptr<event::EventLoop> make_loop() {
  auto loop = event::EventLoop::create();
  if (!loop) std::abort();
  return std::move(*loop);
}

// (a{sv}) from entries; the values may be floating.
GVariant* dict_args(std::initializer_list<std::pair<const char*, GVariant*>> entries) {
  GVariantBuilder b;
  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  for (const auto& [key, value] : entries) g_variant_builder_add(&b, "{sv}", key, value);
  return g_variant_new("(@a{sv})", g_variant_builder_end(&b));
}

GVariant* str(const char* s) { return g_variant_new_string(s); }

std::vector<std::uint8_t> byte_array(GVariant* ay) {
  gsize n = 0;
  const auto* data = static_cast<const std::uint8_t*>(g_variant_get_fixed_array(ay, &n, 1));
  return {data, data + n};
}

class FakeApi final : public DistributorApi {
 public:
  void on_register(RegisterCall call, std::function<void(RegisterOutcome)> reply) override {
    registers.push_back(std::move(call));
    if (answer) {
      reply(*answer);
    } else {
      replies.push_back(std::move(reply));
    }
  }
  void on_unregister(UnregisterCall call) override { unregisters.push_back(std::move(call)); }

  std::optional<RegisterOutcome> answer = RegisterOutcome{true, FailReason::internal_error, ""};  ///< none: later
  std::vector<RegisterCall> registers;
  std::vector<UnregisterCall> unregisters;
  std::vector<std::function<void(RegisterOutcome)>> replies;
};

// An app's connector (both versions) at /org/unifiedpush/Connector on the peer's connection.
class FakeConnector {
 public:
  enum class Mode { reply, error, hold };
  struct Received {
    std::string interface;
    std::string method;
    VariantPtr params;
  };

  explicit FakeConnector(GDBusConnection* conn)
      : conn_(conn), node_(g_dbus_node_info_new_for_xml(kConnectorXml, nullptr)) {
    static const GDBusInterfaceVTable kVtable = {&FakeConnector::on_call, nullptr, nullptr, {}};
    for (GDBusInterfaceInfo** i = node_->interfaces; *i != nullptr; ++i) {
      ids_.push_back(
          g_dbus_connection_register_object(conn_, "/org/unifiedpush/Connector", *i, &kVtable, this, nullptr, nullptr));
      EXPECT_NE(ids_.back(), 0u);
    }
  }
  ~FakeConnector() {
    answer_held();
    for (const guint id : ids_) g_dbus_connection_unregister_object(conn_, id);
    g_dbus_node_info_unref(node_);
  }
  FakeConnector(const FakeConnector&) = delete;
  FakeConnector& operator=(const FakeConnector&) = delete;

  void answer_held() {
    for (auto* inv : held_) reply(inv);
    held_.clear();
  }

  Mode mode = Mode::reply;
  std::vector<Received> received;

 private:
  static void on_call(GDBusConnection*, const gchar*, const gchar*, const gchar* interface, const gchar* method,
                      GVariant* params, GDBusMethodInvocation* inv, gpointer self) {
    auto* c = static_cast<FakeConnector*>(self);
    c->received.push_back({interface, method, VariantPtr(g_variant_ref(params))});
    switch (c->mode) {
      case Mode::reply: reply(inv); return;
      case Mode::error:
        g_dbus_method_invocation_return_dbus_error(inv, "org.example.Error.Busy", "try again later");
        return;
      case Mode::hold: c->held_.push_back(inv); return;
    }
  }

  static void reply(GDBusMethodInvocation* inv) {
    const bool v2 = std::strcmp(g_dbus_method_invocation_get_interface_name(inv), "org.unifiedpush.Connector2") == 0;
    g_dbus_method_invocation_return_value(inv, v2 ? dict_args({}) : nullptr);
  }

  GDBusConnection* conn_;
  GDBusNodeInfo* node_;
  std::vector<guint> ids_;
  std::vector<GDBusMethodInvocation*> held_;
};

class GdbusBus : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::have_dbus_daemon()) GTEST_SKIP() << "dbus-daemon was not found at configure time";
    daemon = test::PrivateBus::start();
    ASSERT_TRUE(daemon);
    auto p = glib::GlibPump::create(*loop, "unifiedpush", "test");
    ASSERT_TRUE(p) << p.error();
    pump = std::move(*p);
    peer = test::Peer::connect(daemon->address());
    ASSERT_TRUE(peer);
  }

  void TearDown() override {
    bus.reset();
    connector.reset();
    if (pump) {
      EXPECT_TRUE(test::drain_glib(*loop));
    }
    peer.reset();
    pump.reset();
    daemon.reset();
  }

  // Connects the module to the private bus, starts it and waits until it owns the name.
  void serve(BusOptions options = {}) {
    if (options.address.empty()) options.address = daemon->address();
    auto made = connect_session_bus(*loop, std::move(options));
    ASSERT_TRUE(made) << made.error();
    bus = std::move(*made);
    ASSERT_TRUE(bus->start(api));
    ASSERT_TRUE(wait([&] { return log.contains(kServing); })) << log.text();
  }

  // The test's peer as an app with a connector, owning kApp.
  void be_an_app() {
    ASSERT_TRUE(peer->own_name(kApp));
    connector = std::make_unique<FakeConnector>(peer->connection());
  }

  bool wait(const std::function<bool()>& done) { return loop->run_until(done, test::kDeadline); }

  std::shared_ptr<CallResult> call_distributor(const char* interface, const char* method, GVariant* args) {
    auto r = peer->call(std::string(kDistributorName), kPath, interface, method, args);
    EXPECT_TRUE(wait([&] { return r->done; }));
    return r;
  }

  // Runs one connector call through the bus and waits for its `done`.
  Result<void> finish(const std::function<void(Bus::Done)>& start) {
    std::optional<Result<void>> out;
    start([&out](Result<void> r) { out = std::move(r); });
    if (!wait([&] { return out.has_value(); })) return fail(Errc::store, "the bus never called done");
    return *out;
  }

  test::LogCapture log;
  std::unique_ptr<event::EventLoop> loop = make_loop();
  std::unique_ptr<test::PrivateBus> daemon;
  std::unique_ptr<glib::GlibPump> pump;
  std::unique_ptr<test::Peer> peer;
  std::unique_ptr<FakeConnector> connector;
  FakeApi api;
  std::unique_ptr<Bus> bus;
};

std::pair<std::string, std::string> v1_reply(const CallResult& r) {
  EXPECT_TRUE(r.value) << r.error_name << ": " << r.error_message;
  if (!r.value || !g_variant_is_of_type(r.value.get(), G_VARIANT_TYPE("(ss)"))) return {};
  const char* result = nullptr;
  const char* reason = nullptr;
  g_variant_get(r.value.get(), "(&s&s)", &result, &reason);
  return {result, reason};
}

// The a{sv} of a v2 reply.
VariantPtr v2_reply(const CallResult& r) {
  EXPECT_TRUE(r.value) << r.error_name << ": " << r.error_message;
  if (!r.value || !g_variant_is_of_type(r.value.get(), G_VARIANT_TYPE("(a{sv})"))) return nullptr;
  return VariantPtr(g_variant_get_child_value(r.value.get(), 0));
}

TEST_F(GdbusBus, ServesTheNameAtTheAddressInTheEnvironment) {
  test::ScopedEnv env("DBUS_SESSION_BUS_ADDRESS", daemon->address().c_str());
  auto made = connect_session_bus(*loop, BusOptions{});
  ASSERT_TRUE(made) << made.error();
  bus = std::move(*made);
  // Started once connected (serve() starts it while it connects).
  ASSERT_TRUE(wait([&] { return log.contains("debug connected to the session bus as :"); }));
  EXPECT_FALSE(log.contains(kServing));
  ASSERT_TRUE(bus->start(api));
  ASSERT_TRUE(wait([&] { return log.contains(kServing); })) << log.text();
  auto again = bus->start(api);
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().is(Errc::unavailable));

  auto owner = peer->call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
                          g_variant_new("(s)", std::string(kDistributorName).c_str()));
  ASSERT_TRUE(wait([&] { return owner->done; }));
  ASSERT_TRUE(owner->value);
  gboolean owned = FALSE;
  g_variant_get(owner->value.get(), "(b)", &owned);
  EXPECT_TRUE(owned);
}

TEST_F(GdbusBus, RegisterV1ReachesTheApiAndItsOutcomeIsTheReply) {
  serve();
  auto ok = call_distributor(kD1, "Register", g_variant_new("(sss)", kApp, "token-1", "Chat"));
  EXPECT_EQ(v1_reply(*ok), std::make_pair(std::string("REGISTRATION_SUCCEEDED"), std::string()));
  ASSERT_EQ(api.registers.size(), 1u);
  const RegisterCall& call = api.registers[0];
  EXPECT_EQ(call.version, ApiVersion::v1);
  EXPECT_EQ(call.sender, peer->unique_name());
  EXPECT_EQ(call.service, kApp);
  EXPECT_EQ(call.token, "token-1");
  EXPECT_EQ(call.description, "Chat");
  EXPECT_FALSE(call.vapid);

  api.answer = RegisterOutcome{false, FailReason::network, "the push service cannot be reached"};
  auto failed = call_distributor(kD1, "Register", g_variant_new("(sss)", kApp, "token-2", ""));
  EXPECT_EQ(v1_reply(*failed),
            std::make_pair(std::string("REGISTRATION_FAILED"), std::string("the push service cannot be reached")));
  ASSERT_EQ(api.registers.size(), 2u);
  EXPECT_EQ(api.registers[1].token, "token-2");
}

TEST_F(GdbusBus, RegisterV2ReachesTheApiAndItsOutcomeIsTheReply) {
  serve();
  auto ok = call_distributor(kD2, "Register",
                             dict_args({{"service", str(kApp)},
                                        {"token", str("token-1")},
                                        {"description", str("Chat")},
                                        {"vapid", str("BKey")},
                                        {"future-key", g_variant_new_uint32(7)}}));
  auto res = v2_reply(*ok);
  ASSERT_TRUE(res);
  EXPECT_EQ(test::dict_string(res.get(), "success"), "REGISTRATION_SUCCEEDED");
  EXPECT_EQ(g_variant_n_children(res.get()), 1u);
  ASSERT_EQ(api.registers.size(), 1u);
  const RegisterCall& call = api.registers[0];
  EXPECT_EQ(call.version, ApiVersion::v2);
  EXPECT_EQ(call.sender, peer->unique_name());
  EXPECT_EQ(call.service, kApp);
  EXPECT_EQ(call.token, "token-1");
  EXPECT_EQ(call.description, "Chat");
  EXPECT_EQ(call.vapid, "BKey");

  api.answer = RegisterOutcome{false, FailReason::vapid_required, "this push service needs a VAPID key"};
  auto failed = call_distributor(
      kD2, "Register",
      dict_args({{"service", str(kApp)}, {"token", str("token-2")}, {"description", g_variant_new_int32(1)}}));
  res = v2_reply(*failed);
  ASSERT_TRUE(res);
  EXPECT_EQ(test::dict_string(res.get(), "success"), "REGISTRATION_FAILED");
  EXPECT_EQ(test::dict_string(res.get(), "reason"), "VAPID_REQUIRED");
  EXPECT_EQ(test::dict_string(res.get(), "detail"), "this push service needs a VAPID key");
  ASSERT_EQ(api.registers.size(), 2u);
  EXPECT_EQ(api.registers[1].description, "");  // not a string: left out
  EXPECT_FALSE(api.registers[1].vapid);
}

TEST_F(GdbusBus, TheReplyWaitsForTheApi) {
  serve();
  api.answer.reset();
  auto pending = peer->call(std::string(kDistributorName), kPath, kD2, "Register",
                            dict_args({{"service", str(kApp)}, {"token", str("t")}}));
  ASSERT_TRUE(wait([&] { return api.replies.size() == 1; }));
  // A round trip to the distributor's connection after the call reached the
  // api: a reply sent before it would have arrived first.
  auto ping = peer->call(std::string(kDistributorName), kPath, "org.freedesktop.DBus.Peer", "Ping", nullptr);
  ASSERT_TRUE(wait([&] { return ping->done; }));
  EXPECT_FALSE(pending->done);

  api.replies[0](RegisterOutcome{false, FailReason::network, "later"});
  ASSERT_TRUE(wait([&] { return pending->done; }));
  auto res = v2_reply(*pending);
  ASSERT_TRUE(res);
  EXPECT_EQ(test::dict_string(res.get(), "success"), "REGISTRATION_FAILED");
  EXPECT_EQ(test::dict_string(res.get(), "reason"), "NETWORK");
  api.replies[0](RegisterOutcome{true, FailReason::internal_error, ""});  // a second answer goes nowhere
  EXPECT_TRUE(test::drain_glib(*loop));
}

TEST_F(GdbusBus, V2WithoutAStringServiceOrTokenFailsWithoutTheApi) {
  struct Row {
    const char* name;
    std::function<GVariant*()> args;
    const char* detail;
  };
  const std::vector<Row> rows = {
      {"no token",
       [] {
         return dict_args({{"service", str(kApp)}});
       },
       R"(the "token" argument is missing)"},
      {"token as int32",
       [] {
         return dict_args({{"service", str(kApp)}, {"token", g_variant_new_int32(5)}});
       },
       R"(the "token" argument is not a string)"},
      {"token as bytes",
       [] {
         return dict_args({{"service", str(kApp)}, {"token", g_variant_new_bytestring("t")}});
       },
       R"(the "token" argument is not a string)"},
      {"no service",
       [] {
         return dict_args({{"token", str("t")}});
       },
       R"(the "service" argument is missing)"},
      {"service as object path",
       [] {
         return dict_args({{"service", g_variant_new_object_path("/org/example")}, {"token", str("t")}});
       },
       R"(the "service" argument is not a string)"},
      {"empty", [] { return dict_args({}); }, R"(the "service" argument is missing)"},
  };
  serve();
  for (const auto& row : rows) {
    auto r = call_distributor(kD2, "Register", row.args());
    auto res = v2_reply(*r);
    ASSERT_TRUE(res) << row.name;
    EXPECT_EQ(test::dict_string(res.get(), "success"), "REGISTRATION_FAILED") << row.name;
    EXPECT_EQ(test::dict_string(res.get(), "reason"), "INTERNAL_ERROR") << row.name;
    EXPECT_EQ(test::dict_string(res.get(), "detail"), row.detail) << row.name;
  }
  // Calls are handled in order: one that reaches the api comes after all of them.
  auto good = call_distributor(kD2, "Register", dict_args({{"service", str(kApp)}, {"token", str("good")}}));
  ASSERT_EQ(api.registers.size(), 1u);
  EXPECT_EQ(api.registers[0].token, "good");
}

TEST_F(GdbusBus, AWrongSignatureIsInvalidArgs) {
  serve();
  auto v2 = call_distributor(kD2, "Register", g_variant_new("(s)", kApp));
  EXPECT_EQ(v2->error_name, "org.freedesktop.DBus.Error.InvalidArgs");
  auto v1 = call_distributor(kD1, "Register", dict_args({{"service", str(kApp)}, {"token", str("t")}}));
  EXPECT_EQ(v1->error_name, "org.freedesktop.DBus.Error.InvalidArgs");
  auto unregister = call_distributor(kD1, "Unregister", g_variant_new("(ss)", "a", "b"));
  EXPECT_EQ(unregister->error_name, "org.freedesktop.DBus.Error.InvalidArgs");
  EXPECT_TRUE(test::drain_glib(*loop));
  EXPECT_TRUE(api.registers.empty());
  EXPECT_TRUE(api.unregisters.empty());
}

TEST_F(GdbusBus, UnregisterV1AndV2ReachTheApi) {
  serve();
  auto v1 = call_distributor(kD1, "Unregister", g_variant_new("(s)", "token-1"));  // a caller that wants a reply
  ASSERT_TRUE(v1->value) << v1->error_name;
  EXPECT_TRUE(g_variant_is_of_type(v1->value.get(), G_VARIANT_TYPE_UNIT));
  peer->send_no_reply(std::string(kDistributorName), kPath, kD1, "Unregister", g_variant_new("(s)", "token-2"));
  auto v2 = call_distributor(kD2, "Unregister", dict_args({{"token", str("token-3")}}));
  auto res = v2_reply(*v2);
  ASSERT_TRUE(res);
  EXPECT_EQ(g_variant_n_children(res.get()), 0u);
  auto no_token = call_distributor(kD2, "Unregister", dict_args({{"token", g_variant_new_int32(3)}}));
  ASSERT_TRUE(v2_reply(*no_token));

  ASSERT_TRUE(wait([&] { return api.unregisters.size() == 3; }));
  EXPECT_EQ(api.unregisters[0].version, ApiVersion::v1);
  EXPECT_EQ(api.unregisters[0].token, "token-1");
  EXPECT_EQ(api.unregisters[0].sender, peer->unique_name());
  EXPECT_EQ(api.unregisters[1].version, ApiVersion::v1);
  EXPECT_EQ(api.unregisters[1].token, "token-2");
  EXPECT_EQ(api.unregisters[2].version, ApiVersion::v2);
  EXPECT_EQ(api.unregisters[2].token, "token-3");
  EXPECT_TRUE(test::drain_glib(*loop));
  EXPECT_EQ(api.unregisters.size(), 3u);  // the one without a string token never reached it
}

TEST_F(GdbusBus, APendingRegisterIsAnsweredWhenTheBusGoes) {
  serve();
  api.answer.reset();
  auto pending = call_distributor(kD1, "Register", nullptr);  // wrong signature: answered at once
  EXPECT_EQ(pending->error_name, "org.freedesktop.DBus.Error.InvalidArgs");
  pending = peer->call(std::string(kDistributorName), kPath, kD1, "Register", g_variant_new("(sss)", kApp, "t", ""));
  ASSERT_TRUE(wait([&] { return api.replies.size() == 1; }));
  bus.reset();
  ASSERT_TRUE(wait([&] { return pending->done; }));
  EXPECT_EQ(pending->error_name, "org.freedesktop.DBus.Error.Failed");
  EXPECT_THAT(pending->error_message, HasSubstr("stopped before it answered"));
  api.replies[0](RegisterOutcome{true, FailReason::internal_error, ""});  // the Bus is gone: nothing happens
}

TEST_F(GdbusBus, ConnectorV1GetsEachCallWithItsArguments) {
  serve();
  be_an_app();
  const AppAddress app{kApp, "token-1", ApiVersion::v1};
  std::vector<std::uint8_t> body(256);
  std::iota(body.begin(), body.end(), 0);
  ASSERT_TRUE(finish([&](Bus::Done d) { bus->new_endpoint(app, "https://push.example/wpush/v2/abc", d); }));
  ASSERT_TRUE(finish([&](Bus::Done d) { bus->message(app, body, "msg-1", d); }));
  ASSERT_TRUE(finish([&](Bus::Done d) { bus->unregistered(app, d); }));

  ASSERT_EQ(connector->received.size(), 3u);
  for (const auto& r : connector->received) EXPECT_EQ(r.interface, "org.unifiedpush.Connector1");
  const char* token = nullptr;
  const char* endpoint = nullptr;
  EXPECT_EQ(connector->received[0].method, "NewEndpoint");
  g_variant_get(connector->received[0].params.get(), "(&s&s)", &token, &endpoint);
  EXPECT_STREQ(token, "token-1");
  EXPECT_STREQ(endpoint, "https://push.example/wpush/v2/abc");

  EXPECT_EQ(connector->received[1].method, "Message");
  GVariant* bytes = nullptr;
  const char* id = nullptr;
  g_variant_get(connector->received[1].params.get(), "(&s@ay&s)", &token, &bytes, &id);
  EXPECT_STREQ(token, "token-1");
  EXPECT_THAT(byte_array(bytes), ElementsAreArray(body));
  EXPECT_STREQ(id, "msg-1");
  g_variant_unref(bytes);

  EXPECT_EQ(connector->received[2].method, "Unregistered");
  g_variant_get(connector->received[2].params.get(), "(&s)", &token);
  EXPECT_STREQ(token, "token-1");
}

TEST_F(GdbusBus, ConnectorV2GetsEachCallWithItsArguments) {
  serve();
  be_an_app();
  const AppAddress app{kApp, "token-2", ApiVersion::v2};
  std::vector<std::uint8_t> body(300);
  std::iota(body.begin(), body.end(), 7);
  ASSERT_TRUE(finish([&](Bus::Done d) { bus->new_endpoint(app, "https://push.example/e", d); }));
  ASSERT_TRUE(finish([&](Bus::Done d) { bus->message(app, body, "msg-2", d); }));
  ASSERT_TRUE(finish([&](Bus::Done d) { bus->message(app, {}, "msg-3", d); }));
  ASSERT_TRUE(finish([&](Bus::Done d) { bus->unregistered(app, d); }));

  ASSERT_EQ(connector->received.size(), 4u);
  std::vector<VariantPtr> args;
  for (const auto& r : connector->received) {
    EXPECT_EQ(r.interface, "org.unifiedpush.Connector2");
    args.emplace_back(g_variant_get_child_value(r.params.get(), 0));
  }
  EXPECT_EQ(connector->received[0].method, "NewEndpoint");
  EXPECT_EQ(test::dict_string(args[0].get(), "token"), "token-2");
  EXPECT_EQ(test::dict_string(args[0].get(), "endpoint"), "https://push.example/e");
  EXPECT_EQ(g_variant_n_children(args[0].get()), 2u);

  EXPECT_EQ(connector->received[1].method, "Message");
  EXPECT_EQ(test::dict_string(args[1].get(), "token"), "token-2");
  EXPECT_EQ(test::dict_string(args[1].get(), "id"), "msg-2");
  VariantPtr message(g_variant_lookup_value(args[1].get(), "message", G_VARIANT_TYPE_BYTESTRING));
  ASSERT_TRUE(message);
  EXPECT_THAT(byte_array(message.get()), ElementsAreArray(body));
  EXPECT_EQ(g_variant_n_children(args[1].get()), 3u);
  VariantPtr empty(g_variant_lookup_value(args[2].get(), "message", G_VARIANT_TYPE_BYTESTRING));
  ASSERT_TRUE(empty);
  EXPECT_EQ(g_variant_n_children(empty.get()), 0u);

  EXPECT_EQ(connector->received[3].method, "Unregistered");
  EXPECT_EQ(test::dict_string(args[3].get(), "token"), "token-2");
  EXPECT_EQ(g_variant_n_children(args[3].get()), 1u);
}

TEST_F(GdbusBus, AnErrorReplyIsAConnectorError) {
  serve();
  be_an_app();
  connector->mode = FakeConnector::Mode::error;
  for (const auto version : {ApiVersion::v1, ApiVersion::v2}) {
    auto r = finish([&](Bus::Done d) { bus->new_endpoint({kApp, "t", version}, "https://push.example/e", d); });
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(Errc::connector)) << r.error();
    EXPECT_THAT(r.error().message(), HasSubstr("org.example.Error.Busy"));
    EXPECT_THAT(r.error().message(), HasSubstr("try again later"));
    EXPECT_THAT(r.error().message(), HasSubstr(kApp));
  }
}

TEST_F(GdbusBus, NoReplyInTimeIsATimeout) {
  BusOptions options;
  options.call_timeout = Duration{200};
  serve(options);
  be_an_app();
  connector->mode = FakeConnector::Mode::hold;
  for (const auto version : {ApiVersion::v1, ApiVersion::v2}) {
    auto r = finish([&](Bus::Done d) { bus->message({kApp, "t", version}, std::vector<std::uint8_t>{1}, "m", d); });
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(Errc::timeout)) << r.error();
    EXPECT_THAT(r.error().message(), HasSubstr("did not answer Message within 200 ms"));
  }
}

TEST_F(GdbusBus, AnUnknownServiceIsAConnectorError) {
  serve();
  auto r = finish([&](Bus::Done d) { bus->unregistered({"org.example.Nobody", "t", ApiVersion::v2}, d); });
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::connector)) << r.error();
  EXPECT_THAT(r.error().message(), HasSubstr("org.freedesktop.DBus.Error.ServiceUnknown"));
  auto bad = finish([&](Bus::Done d) { bus->unregistered({"not a bus name", "t", ApiVersion::v2}, d); });
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(Errc::bad_request)) << bad.error();
}

TEST_F(GdbusBus, ATakenNameIsLoggedAndNotServed) {
  ASSERT_TRUE(peer->own_name(std::string(kDistributorName)));
  auto made = connect_session_bus(*loop, BusOptions{.address = daemon->address()});
  ASSERT_TRUE(made) << made.error();
  bus = std::move(*made);
  ASSERT_TRUE(bus->start(api));  // the answer comes later
  ASSERT_TRUE(wait([&] { return log.contains(kTaken); })) << log.text();
  EXPECT_FALSE(log.contains(kServing));
}

TEST_F(GdbusBus, ALostConnectionMakesCallsUnavailable) {
  serve();
  daemon->stop();
  ASSERT_TRUE(wait([&] { return log.contains("the session bus connection is gone"); })) << log.text();
  auto r = finish([&](Bus::Done d) {
    bus->message({kApp, "t", ApiVersion::v2}, std::vector<std::uint8_t>{1}, "m", d);
  });
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::unavailable)) << r.error();
}

TEST_F(GdbusBus, ABusThatCannotConnectSaysSo) {
  auto bad = connect_session_bus(*loop, BusOptions{.address = "no address at all"});
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(Errc::unavailable));
  EXPECT_THAT(bad.error().message(), HasSubstr("is not a D-Bus address"));

  auto made = connect_session_bus(*loop, BusOptions{.address = "unix:path=/nonexistent/webpushd-test-bus"});
  ASSERT_TRUE(made) << made.error();
  bus = std::move(*made);
  // Queued while connecting, then failed with the connection.
  auto r = finish([&](Bus::Done d) { bus->new_endpoint({kApp, "t", ApiVersion::v1}, "https://e.example/", d); });
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::unavailable)) << r.error();
  EXPECT_THAT(log.text(), HasSubstr("cannot connect to the session bus at unix:path=/nonexistent/webpushd-test-bus"));
  auto started = bus->start(api);
  ASSERT_FALSE(started);
  EXPECT_TRUE(started.error().is(Errc::unavailable));
}

TEST_F(GdbusBus, DoneIsNeverCalledAfterTheBusIsGone) {
  serve();
  be_an_app();
  connector->mode = FakeConnector::Mode::hold;
  int calls = 0;
  bus->message({kApp, "t", ApiVersion::v2}, std::vector<std::uint8_t>{1, 2}, "m", [&calls](Result<void>) { ++calls; });
  ASSERT_TRUE(wait([&] { return connector->received.size() == 1; }));
  bus.reset();
  connector->answer_held();
  EXPECT_TRUE(test::drain_glib(*loop));
  EXPECT_TRUE(wait([&] { return loop->deferred_pending() == 0; }));
  EXPECT_EQ(calls, 0);
}

// A unix socket at `path`, listening; closed with the object.
class Listener {
 public:
  explicit Listener(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~Listener() { ::close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  int fd_;
};

TEST(SessionBus, IsFoundFromTheEnvironmentOnly) {
  EXPECT_TRUE(bus_support_built());
  char dir_template[] = "/tmp/webpushd-up-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  test::ScopedEnv no_address("DBUS_SESSION_BUS_ADDRESS", nullptr);
  test::ScopedEnv runtime("XDG_RUNTIME_DIR", dir.c_str());
  EXPECT_FALSE(session_bus_present());
  auto loop = make_loop();
  auto none = connect_session_bus(*loop, BusOptions{});
  ASSERT_FALSE(none);
  EXPECT_TRUE(none.error().is(Errc::unavailable));
  EXPECT_THAT(none.error().message(), HasSubstr("no session bus"));
  {
    Listener socket(dir + "/bus");
    EXPECT_TRUE(session_bus_present());
  }
  std::filesystem::remove_all(dir);
  test::ScopedEnv address("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
  EXPECT_TRUE(session_bus_present());
}

TEST(BusModule, RefusesALoaderOfAnotherVersion) {
  void* module = ::dlopen(WEBPUSH_TEST_UNIFIEDPUSH_MODULE, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(module, nullptr) << ::dlerror();
  auto entry = reinterpret_cast<detail::BusModuleEntry>(::dlsym(module, detail::kBusModuleEntry));
  ASSERT_NE(entry, nullptr);
  auto loop = make_loop();
  Result<std::unique_ptr<Bus>> out = fail(Errc::store, "not touched");
  entry("0.0.0-elsewhere", *loop, BusOptions{.address = "unix:path=/nonexistent/bus"}, &out);
  ASSERT_FALSE(out);
  EXPECT_TRUE(out.error().is(Errc::unavailable));
  EXPECT_THAT(out.error().message(), HasSubstr("reinstall webpushd"));
}

}  // namespace
}  // namespace webpush::unifiedpush
