// The Bus on GDBus: the module webpushd-unifiedpush.so (bus_module.h).
//
// GDBus does its socket work on its own worker thread and hands every result
// (a method call to our object, a reply, a signal) to GLib's default main
// context, which the GlibPump runs on our loop. The GLib callbacks here only
// check and convert what came off the bus, then hand it to the loop with
// EventLoop::defer: the distributor's code and the `done` callbacks never run
// inside a GLib dispatch, and nothing throws through one. Each callback's user
// data holds a weak reference to the Bus, so nothing reaches a destroyed Bus.
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gio/gio.h>
#include <glib.h>

#include "bus_module.h"
#include "glib_pump.h"
#include "internal.h"
#include "webpush/core/utf8.h"
#include "webpush/event/loop.h"
#include "webpush/unifiedpush/bus.h"

namespace webpush::unifiedpush {

namespace {

constexpr const char* kIntrospection = R"(<node>
  <interface name="org.unifiedpush.Distributor1">
    <method name="Register">
      <arg name="serviceName" type="s" direction="in"/>
      <arg name="token" type="s" direction="in"/>
      <arg name="description" type="s" direction="in"/>
      <arg name="registrationResult" type="s" direction="out"/>
      <arg name="registrationResultReason" type="s" direction="out"/>
    </method>
    <method name="Unregister">
      <arg name="token" type="s" direction="in"/>
      <annotation name="org.freedesktop.DBus.Method.NoReply" value="true"/>
    </method>
  </interface>
  <interface name="org.unifiedpush.Distributor2">
    <method name="Register">
      <arg name="args" type="a{sv}" direction="in"/>
      <arg name="res" type="a{sv}" direction="out"/>
    </method>
    <method name="Unregister">
      <arg name="args" type="a{sv}" direction="in"/>
      <arg name="res" type="a{sv}" direction="out"/>
    </method>
  </interface>
</node>)";

constexpr const char* kDistributor1 = "org.unifiedpush.Distributor1";
constexpr const char* kDistributor2 = "org.unifiedpush.Distributor2";
constexpr const char* kConnector1 = "org.unifiedpush.Connector1";
constexpr const char* kConnector2 = "org.unifiedpush.Connector2";
constexpr const char* kFailedError = "org.freedesktop.DBus.Error.Failed";
constexpr const char* kInvalidArgsError = "org.freedesktop.DBus.Error.InvalidArgs";
constexpr const char* kSucceeded = "REGISTRATION_SUCCEEDED";
constexpr const char* kFailed = "REGISTRATION_FAILED";
constexpr std::size_t kQuoted = 200;  // how much of a peer's error text a message quotes

std::string take_error(GError*& err) {
  std::string msg = err != nullptr ? printable_prefix(err->message, kQuoted) : std::string("unknown error");
  g_clear_error(&err);
  return msg;
}

// What a D-Bus string may hold: UTF-8 without NUL (GVariant refuses the rest).
bool is_dbus_text(std::string_view s) noexcept {
  return g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr) != FALSE;
}

// Our own text (a detail from the distributor) made fit for a D-Bus string.
std::string dbus_text(std::string_view s) { return is_dbus_text(s) ? std::string(s) : printable_prefix(s, s.size()); }

struct VariantUnref {
  void operator()(GVariant* v) const noexcept { g_variant_unref(v); }
};
using VariantPtr = std::unique_ptr<GVariant, VariantUnref>;

// Takes a new (possibly floating) value.
VariantPtr own(GVariant* v) { return VariantPtr(g_variant_ref_sink(v)); }

GVariant* vardict(std::initializer_list<std::pair<const char*, GVariant*>> entries) {
  GVariantBuilder b;
  g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
  for (const auto& [key, value] : entries) g_variant_builder_add(&b, "{sv}", key, value);
  return g_variant_builder_end(&b);
}

GVariant* bytes(std::span<const std::uint8_t> body) {
  static const std::uint8_t kNone = 0;
  return g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, body.empty() ? &kNone : body.data(), body.size(), 1);
}

enum class Arg { ok, missing, not_a_string };

// args[key] of an a{sv}, if it holds a string (the first entry with that key).
Arg lookup_string(GVariant* dict, const char* key, std::string& out) {
  GVariant* v = g_variant_lookup_value(dict, key, nullptr);
  if (v == nullptr) return Arg::missing;
  const bool is_string = g_variant_is_of_type(v, G_VARIANT_TYPE_STRING) != FALSE;
  if (is_string) out = g_variant_get_string(v, nullptr);
  g_variant_unref(v);
  return is_string ? Arg::ok : Arg::not_a_string;
}

std::optional<std::string> arg_problem(Arg a, const char* key) {
  if (a == Arg::missing) return fmt::format("the \"{}\" argument is missing", key);
  if (a == Arg::not_a_string) return fmt::format("the \"{}\" argument is not a string", key);
  return std::nullopt;
}

// A method call we have not answered yet: answered with an error if it goes
// away unanswered (the Bus is destroyed first, or an exception unwound).
class Invocation {
 public:
  explicit Invocation(GDBusMethodInvocation* inv) noexcept : inv_(inv) {}
  Invocation(Invocation&& other) noexcept : inv_(std::exchange(other.inv_, nullptr)) {}
  Invocation& operator=(Invocation&&) = delete;
  Invocation(const Invocation&) = delete;
  Invocation& operator=(const Invocation&) = delete;
  ~Invocation() { error(kFailedError, "webpushd stopped before it answered"); }

  /// `value`: a tuple, or nullptr for no out-arguments; a floating one is taken.
  void reply(GVariant* value) noexcept {
    if (inv_ != nullptr) g_dbus_method_invocation_return_value(std::exchange(inv_, nullptr), value);
  }
  void error(const char* name, const std::string& message) noexcept {
    if (inv_ != nullptr) {
      g_dbus_method_invocation_return_dbus_error(std::exchange(inv_, nullptr), name, dbus_text(message).c_str());
    }
  }

 private:
  GDBusMethodInvocation* inv_;
};

GVariant* register_reply(ApiVersion version, const RegisterOutcome& outcome) {
  const std::string detail = dbus_text(outcome.detail);
  if (version == ApiVersion::v1)
    return g_variant_new("(ss)", outcome.ok ? kSucceeded : kFailed, outcome.ok ? "" : detail.c_str());
  if (outcome.ok) return g_variant_new("(@a{sv})", vardict({{"success", g_variant_new_string(kSucceeded)}}));
  const std::string reason(to_string(outcome.reason));
  return g_variant_new("(@a{sv})", vardict({{"success", g_variant_new_string(kFailed)},
                                            {"reason", g_variant_new_string(reason.c_str())},
                                            {"detail", g_variant_new_string(detail.c_str())}}));
}

const char* connector_interface(ApiVersion v) noexcept { return v == ApiVersion::v1 ? kConnector1 : kConnector2; }

class GdbusBus;

// What GLib callbacks hold: the Bus while it lives.
struct Liveness {
  GdbusBus* bus;
};
using WeakBus = std::weak_ptr<Liveness>;

gpointer weak_box(const std::shared_ptr<Liveness>& alive) { return new WeakBus(alive); }
void free_weak_box(gpointer p) noexcept { delete static_cast<WeakBus*>(p); }
void free_weak_box_closure(gpointer p, GClosure* /*closure*/) noexcept { free_weak_box(p); }
GdbusBus* bus_of(gpointer p) noexcept {
  auto alive = static_cast<WeakBus*>(p)->lock();
  return alive ? alive->bus : nullptr;
}

template <class F>
GCallback to_gcallback(F* f) {
  return reinterpret_cast<GCallback>(f);
}

// A call to an app's connector, waiting for the connection or in flight.
struct ConnectorCall {
  std::string service;
  const char* interface = nullptr;
  const char* method = nullptr;
  VariantPtr args;
  Bus::Done done;
};

// The user data of a connector call in flight (freed by its completion).
struct InFlight {
  WeakBus alive;
  std::string service;
  std::string method;
  Bus::Done done;
};

class GdbusBus final : public Bus {
 public:
  static Result<std::unique_ptr<Bus>> create(event::EventLoop& loop, BusOptions options);
  ~GdbusBus() override;
  GdbusBus(const GdbusBus&) = delete;
  GdbusBus& operator=(const GdbusBus&) = delete;

  Result<void> start(DistributorApi& api) override;
  void new_endpoint(const AppAddress& app, const std::string& endpoint, Done done) override;
  void message(const AppAddress& app, std::span<const std::uint8_t> body, const std::string& id, Done done) override;
  void unregistered(const AppAddress& app, Done done) override;

 private:
  enum class State { connecting, connected, failed, closed };
  struct PendingRegister {
    Invocation invocation;
    ApiVersion version;
  };

  GdbusBus(event::EventLoop& loop, BusOptions options, std::unique_ptr<glib::GlibPump> pump, GDBusNodeInfo* node);

  // GLib callbacks: each checks that the Bus still lives, catches everything.
  static void on_connected(GObject* source, GAsyncResult* res, gpointer box) noexcept;
  static void on_closed(GDBusConnection* conn, gboolean remote_vanished, GError* error, gpointer box) noexcept;
  static void on_method_call(GDBusConnection* conn, const gchar* sender, const gchar* path, const gchar* interface,
                             const gchar* method, GVariant* params, GDBusMethodInvocation* inv, gpointer box) noexcept;
  static void on_name_acquired(GDBusConnection* conn, const gchar* name, gpointer box) noexcept;
  static void on_name_lost(GDBusConnection* conn, const gchar* name, gpointer box) noexcept;
  static void on_call_done(GObject* source, GAsyncResult* res, gpointer data) noexcept;
  static void on_flushed(GObject* source, GAsyncResult* res, gpointer data) noexcept;

  void connected(GDBusConnection* conn);
  void connect_failed(const std::string& why);
  void connection_closed(const std::string& why);
  void tell_state(bool serving, const std::string& detail);
  Result<void> serve();
  void method_call(std::string_view interface, std::string_view method, const char* sender, GVariant* params,
                   Invocation inv);
  void register_call(ApiVersion version, const char* sender, GVariant* params, Invocation inv);
  void unregister_call(ApiVersion version, const char* sender, GVariant* params, Invocation inv);
  void dispatch_register(std::uint64_t id, RegisterCall call);
  void answer_register(std::uint64_t id, const RegisterOutcome& outcome);
  void call_connector(const AppAddress& app, const char* method, GVariant* args, Done done);
  void send(ConnectorCall call);
  void finish_later(Done done, Result<void> result);

  event::EventLoop* loop_;
  BusOptions options_;
  std::unique_ptr<glib::GlibPump> pump_;
  std::shared_ptr<Liveness> alive_;
  GDBusNodeInfo* node_;
  GCancellable* cancellable_;
  GDBusConnection* conn_ = nullptr;
  State state_ = State::connecting;
  std::string failure_;  // why we are failed or closed
  DistributorApi* api_ = nullptr;
  std::vector<guint> objects_;
  guint owner_id_ = 0;
  gulong closed_handler_ = 0;
  std::vector<ConnectorCall> queued_;  // while connecting
  std::map<std::uint64_t, PendingRegister> pending_;
  std::uint64_t next_id_ = 1;
};

Result<std::unique_ptr<Bus>> GdbusBus::create(event::EventLoop& loop, BusOptions options) {
  if (options.address.empty() || g_dbus_is_address(options.address.c_str()) == FALSE) {
    return fail(Errc::unavailable,
                fmt::format("unifiedpush: '{}' is not a D-Bus address", printable_prefix(options.address, kQuoted)));
  }
  if (g_dbus_is_name(options.name.c_str()) == FALSE || g_dbus_is_unique_name(options.name.c_str()) != FALSE) {
    return fail(Errc::unavailable,
                fmt::format("unifiedpush: '{}' is not a well-known bus name", printable_prefix(options.name, kQuoted)));
  }
  GError* err = nullptr;
  GDBusNodeInfo* node = g_dbus_node_info_new_for_xml(kIntrospection, &err);
  if (node == nullptr) return fail(Errc::unavailable, "unifiedpush: bad introspection data: " + take_error(err));
  auto pump = glib::GlibPump::create(loop, "unifiedpush", "unifiedpush");
  if (!pump) {
    g_dbus_node_info_unref(node);
    return fail(Errc::unavailable, fmt::format("unifiedpush: {}", pump.error().message()));
  }
  std::unique_ptr<GdbusBus> bus(new GdbusBus(loop, std::move(options), std::move(*pump), node));
  // Asynchronous: authentication and Hello must not hold up the loop.
  g_dbus_connection_new_for_address(bus->options_.address.c_str(),
                                    static_cast<GDBusConnectionFlags>(G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                                      G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION),
                                    nullptr, bus->cancellable_, &GdbusBus::on_connected, weak_box(bus->alive_));
  bus->pump_->schedule();
  return std::unique_ptr<Bus>(std::move(bus));
}

GdbusBus::GdbusBus(event::EventLoop& loop, BusOptions options, std::unique_ptr<glib::GlibPump> pump,
                   GDBusNodeInfo* node)
    : loop_(&loop),
      options_(std::move(options)),
      pump_(std::move(pump)),
      alive_(std::make_shared<Liveness>(Liveness{this})),
      node_(node),
      cancellable_(g_cancellable_new()) {}

GdbusBus::~GdbusBus() {
  alive_.reset();    // from here on, nothing from GLib or the loop reaches this Bus
  pending_.clear();  // each unanswered Register gets an error reply
  queued_.clear();
  // Once acquired, the name is released with one synchronous round trip to the
  // bus daemon (GLib's choice): a Bus made after this one can own it at once.
  if (owner_id_ != 0) g_bus_unown_name(owner_id_);
  for (const guint id : objects_) g_dbus_connection_unregister_object(conn_, id);
  if (closed_handler_ != 0) g_signal_handler_disconnect(conn_, closed_handler_);
  g_cancellable_cancel(cancellable_);  // calls in flight end; their completions find no Bus
  if (conn_ != nullptr) {
    // Closing would drop the replies still queued: flush them first, then close
    // (on_flushed owns our reference from here).
    g_dbus_connection_flush(conn_, nullptr, &GdbusBus::on_flushed, nullptr);
  }
  g_object_unref(cancellable_);
  g_dbus_node_info_unref(node_);
}

void GdbusBus::on_flushed(GObject* source, GAsyncResult* res, gpointer /*data*/) noexcept {
  auto* conn = G_DBUS_CONNECTION(source);
  GError* err = nullptr;
  if (g_dbus_connection_flush_finish(conn, res, &err) == FALSE) g_clear_error(&err);
  g_dbus_connection_close(conn, nullptr, nullptr, nullptr);
  g_object_unref(conn);
}

Result<void> GdbusBus::start(DistributorApi& api) {
  if (api_ != nullptr) return fail(Errc::unavailable, "unifiedpush: the bus is already started");
  api_ = &api;
  switch (state_) {
    case State::connecting: return {};  // serve() runs once connected
    case State::connected: return serve();
    case State::failed:
    case State::closed: return fail(Errc::unavailable, failure_);
  }
  return {};
}

void GdbusBus::on_connected(GObject* /*source*/, GAsyncResult* res, gpointer box) noexcept {
  std::unique_ptr<WeakBus> weak(static_cast<WeakBus*>(box));
  GError* err = nullptr;
  GDBusConnection* conn = g_dbus_connection_new_for_address_finish(res, &err);
  const auto alive = weak->lock();
  if (!alive) {
    g_clear_error(&err);
    if (conn != nullptr) {
      g_dbus_connection_close(conn, nullptr, nullptr, nullptr);
      g_object_unref(conn);
    }
    return;
  }
  try {
    if (conn == nullptr) {
      alive->bus->connect_failed(take_error(err));
    } else {
      alive->bus->connected(conn);
    }
  } catch (const std::exception& e) {
    detail::log().error("connecting to the session bus failed: {}", e.what());
  }
}

void GdbusBus::connected(GDBusConnection* conn) {
  conn_ = conn;
  state_ = State::connected;
  // A connection from g_dbus_connection_new_for_address does not exit the process when it closes.
  closed_handler_ = g_signal_connect_data(conn_, "closed", to_gcallback(&GdbusBus::on_closed), weak_box(alive_),
                                          &free_weak_box_closure, static_cast<GConnectFlags>(0));
  detail::log().debug("connected to the session bus as {}", g_dbus_connection_get_unique_name(conn_));
  if (api_ != nullptr) {
    if (auto ok = serve(); !ok) {
      detail::log().warn("{}; not serving", ok.error().message());
      tell_state(false, ok.error().message());
    }
  }
  auto queued = std::exchange(queued_, {});
  for (auto& call : queued) send(std::move(call));
  pump_->schedule();
}

void GdbusBus::connect_failed(const std::string& why) {
  state_ = State::failed;
  failure_ = fmt::format("unifiedpush: cannot connect to the session bus at {} ({})",
                         printable_prefix(options_.address, kQuoted), why);
  detail::log().warn("{}; not serving", failure_);
  tell_state(false, failure_);
  auto queued = std::exchange(queued_, {});
  for (auto& call : queued) finish_later(std::move(call.done), fail(Errc::unavailable, failure_));
}

void GdbusBus::on_closed(GDBusConnection* /*conn*/, gboolean /*remote_vanished*/, GError* error,
                         gpointer box) noexcept {
  GdbusBus* bus = bus_of(box);
  if (bus == nullptr) return;
  try {
    bus->connection_closed(error != nullptr ? printable_prefix(error->message, kQuoted) : "closed");
  } catch (const std::exception& e) {
    detail::log().error("handling the end of the bus connection failed: {}", e.what());
  }
}

void GdbusBus::connection_closed(const std::string& why) {
  state_ = State::closed;
  failure_ = fmt::format("unifiedpush: the session bus connection is gone ({})", why);
  detail::log().warn("{}; not serving", failure_);
  tell_state(false, failure_);
}

// Exports the distributor object and asks for the name; the answer comes to
// on_name_acquired or on_name_lost.
Result<void> GdbusBus::serve() {
  static const GDBusInterfaceVTable kVtable = {&GdbusBus::on_method_call, nullptr, nullptr, {}};
  const std::string path(kDistributorPath);
  for (GDBusInterfaceInfo** iface = node_->interfaces; *iface != nullptr; ++iface) {
    GError* err = nullptr;
    const guint id = g_dbus_connection_register_object(conn_, path.c_str(), *iface, &kVtable, weak_box(alive_),
                                                       &free_weak_box, &err);
    if (id == 0) {
      return fail(Errc::unavailable,
                  fmt::format("unifiedpush: cannot export {} on {}: {}", (*iface)->name, path, take_error(err)));
    }
    objects_.push_back(id);
  }
  owner_id_ = g_bus_own_name_on_connection(conn_, options_.name.c_str(), G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                           &GdbusBus::on_name_acquired, &GdbusBus::on_name_lost, weak_box(alive_),
                                           &free_weak_box);
  pump_->schedule();
  return {};
}

void GdbusBus::tell_state(bool serving, const std::string& detail) {
  if (options_.on_state) options_.on_state(serving, detail);
}

void GdbusBus::on_name_acquired(GDBusConnection* /*conn*/, const gchar* name, gpointer box) noexcept {
  GdbusBus* bus = bus_of(box);
  if (bus == nullptr) return;
  try {
    detail::log().info("serving {} on the session bus", name);
    bus->tell_state(true, "");
  } catch (const std::exception&) {  // the line is lost, nothing else
  }
}

void GdbusBus::on_name_lost(GDBusConnection* conn, const gchar* name, gpointer box) noexcept {
  GdbusBus* bus = bus_of(box);
  if (bus == nullptr) return;
  // A connection that closed says so itself (on_closed).
  if (conn == nullptr || g_dbus_connection_is_closed(conn) != FALSE) return;
  try {
    detail::log().warn("{} is owned by another program; not serving", name);
    bus->tell_state(false, fmt::format("{} is owned by another program", name));
  } catch (const std::exception&) {  // the line is lost, nothing else
  }
}

void GdbusBus::on_method_call(GDBusConnection* /*conn*/, const gchar* sender, const gchar* /*path*/,
                              const gchar* interface, const gchar* method, GVariant* params, GDBusMethodInvocation* inv,
                              gpointer box) noexcept {
  Invocation invocation(inv);  // answered with an error if nothing else answers it
  GdbusBus* bus = bus_of(box);
  if (bus == nullptr || interface == nullptr || method == nullptr || params == nullptr) return;
  try {
    bus->method_call(interface, method, sender, params, std::move(invocation));
  } catch (const std::exception& e) {
    detail::log().error("handling {}.{} failed: {}", interface, method, e.what());
  }
}

void GdbusBus::method_call(std::string_view interface, std::string_view method, const char* sender, GVariant* params,
                           Invocation inv) {
  const bool v1 = interface == kDistributor1;
  if (!v1 && interface != kDistributor2) {
    inv.error("org.freedesktop.DBus.Error.UnknownInterface", fmt::format("no interface {}", interface));
    return;
  }
  const ApiVersion version = v1 ? ApiVersion::v1 : ApiVersion::v2;
  if (method == "Register") {
    register_call(version, sender, params, std::move(inv));
  } else if (method == "Unregister") {
    unregister_call(version, sender, params, std::move(inv));
  } else {
    inv.error("org.freedesktop.DBus.Error.UnknownMethod", fmt::format("no method {}", method));
  }
}

void GdbusBus::register_call(ApiVersion version, const char* sender, GVariant* params, Invocation inv) {
  RegisterCall call;
  call.version = version;
  call.sender = sender != nullptr ? sender : "";
  if (version == ApiVersion::v1) {
    if (g_variant_is_of_type(params, G_VARIANT_TYPE("(sss)")) == FALSE) {
      inv.error(kInvalidArgsError, "Register takes (sss)");
      return;
    }
    const char* service = nullptr;
    const char* token = nullptr;
    const char* description = nullptr;
    g_variant_get(params, "(&s&s&s)", &service, &token, &description);
    call.service = service;
    call.token = token;
    call.description = description;
  } else {
    if (g_variant_is_of_type(params, G_VARIANT_TYPE("(a{sv})")) == FALSE) {
      inv.error(kInvalidArgsError, "Register takes (a{sv})");
      return;
    }
    VariantPtr args(g_variant_get_child_value(params, 0));
    auto problem = arg_problem(lookup_string(args.get(), "service", call.service), "service");
    if (!problem) problem = arg_problem(lookup_string(args.get(), "token", call.token), "token");
    if (problem) {
      detail::log().debug("Register from {} refused: {}", call.sender, *problem);
      inv.reply(register_reply(version, RegisterOutcome{false, FailReason::internal_error, *problem}));
      return;
    }
    std::string text;
    if (lookup_string(args.get(), "description", text) == Arg::ok) call.description = std::move(text);
    if (lookup_string(args.get(), "vapid", text) == Arg::ok) call.vapid = std::move(text);
  }
  const std::uint64_t id = next_id_++;
  pending_.emplace(id, PendingRegister{std::move(inv), version});
  loop_->defer([weak = WeakBus(alive_), id, call = std::move(call)]() mutable {
    if (auto alive = weak.lock()) alive->bus->dispatch_register(id, std::move(call));
  });
}

void GdbusBus::dispatch_register(std::uint64_t id, RegisterCall call) {
  auto reply = [weak = WeakBus(alive_), id](RegisterOutcome outcome) {
    if (auto alive = weak.lock()) alive->bus->answer_register(id, outcome);
  };
  try {
    api_->on_register(std::move(call), std::move(reply));
  } catch (const std::exception& e) {
    detail::log().error("handling a Register call failed: {}", e.what());
    answer_register(id, RegisterOutcome{false, FailReason::internal_error, "webpushd failed to handle the call"});
  }
}

void GdbusBus::answer_register(std::uint64_t id, const RegisterOutcome& outcome) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // answered already
  it->second.invocation.reply(register_reply(it->second.version, outcome));
  pending_.erase(it);
}

void GdbusBus::unregister_call(ApiVersion version, const char* sender, GVariant* params, Invocation inv) {
  UnregisterCall call;
  call.version = version;
  call.sender = sender != nullptr ? sender : "";
  if (version == ApiVersion::v1) {
    if (g_variant_is_of_type(params, G_VARIANT_TYPE("(s)")) == FALSE) {
      inv.error(kInvalidArgsError, "Unregister takes (s)");
      return;
    }
    const char* token = nullptr;
    g_variant_get(params, "(&s)", &token);
    call.token = token;
    inv.reply(nullptr);  // NoReply: GDBus sends nothing unless the caller asked for a reply
  } else {
    if (g_variant_is_of_type(params, G_VARIANT_TYPE("(a{sv})")) == FALSE) {
      inv.error(kInvalidArgsError, "Unregister takes (a{sv})");
      return;
    }
    VariantPtr args(g_variant_get_child_value(params, 0));
    const Arg token = lookup_string(args.get(), "token", call.token);
    inv.reply(g_variant_new("(@a{sv})", vardict({})));
    if (token != Arg::ok) {
      detail::log().debug("Unregister from {} ignored: {}", call.sender, *arg_problem(token, "token"));
      return;
    }
  }
  loop_->defer([weak = WeakBus(alive_), call = std::move(call)]() mutable {
    auto alive = weak.lock();
    if (!alive) return;
    try {
      alive->bus->api_->on_unregister(std::move(call));
    } catch (const std::exception& e) {
      detail::log().error("handling an Unregister call failed: {}", e.what());
    }
  });
}

void GdbusBus::new_endpoint(const AppAddress& app, const std::string& endpoint, Done done) {
  if (!is_dbus_text(app.token) || !is_dbus_text(endpoint)) {
    finish_later(std::move(done), fail(Errc::bad_request, "unifiedpush: the token or endpoint is not valid UTF-8"));
    return;
  }
  GVariant* args = app.version == ApiVersion::v1
                       ? g_variant_new("(ss)", app.token.c_str(), endpoint.c_str())
                       : g_variant_new("(@a{sv})", vardict({{"token", g_variant_new_string(app.token.c_str())},
                                                            {"endpoint", g_variant_new_string(endpoint.c_str())}}));
  call_connector(app, "NewEndpoint", args, std::move(done));
}

void GdbusBus::message(const AppAddress& app, std::span<const std::uint8_t> body, const std::string& id, Done done) {
  if (!is_dbus_text(app.token) || !is_dbus_text(id)) {
    finish_later(std::move(done), fail(Errc::bad_request, "unifiedpush: the token or message id is not valid UTF-8"));
    return;
  }
  GVariant* args = app.version == ApiVersion::v1
                       ? g_variant_new("(s@ays)", app.token.c_str(), bytes(body), id.c_str())
                       : g_variant_new("(@a{sv})", vardict({{"token", g_variant_new_string(app.token.c_str())},
                                                            {"message", bytes(body)},
                                                            {"id", g_variant_new_string(id.c_str())}}));
  call_connector(app, "Message", args, std::move(done));
}

void GdbusBus::unregistered(const AppAddress& app, Done done) {
  if (!is_dbus_text(app.token)) {
    finish_later(std::move(done), fail(Errc::bad_request, "unifiedpush: the token is not valid UTF-8"));
    return;
  }
  GVariant* args = app.version == ApiVersion::v1
                       ? g_variant_new("(s)", app.token.c_str())
                       : g_variant_new("(@a{sv})", vardict({{"token", g_variant_new_string(app.token.c_str())}}));
  call_connector(app, "Unregistered", args, std::move(done));
}

void GdbusBus::call_connector(const AppAddress& app, const char* method, GVariant* args, Done done) {
  VariantPtr owned = own(args);
  if (g_dbus_is_name(app.service.c_str()) == FALSE) {
    finish_later(std::move(done), fail(Errc::bad_request, fmt::format("unifiedpush: '{}' is not a valid bus name",
                                                                      printable_prefix(app.service, kQuoted))));
    return;
  }
  send(ConnectorCall{app.service, connector_interface(app.version), method, std::move(owned), std::move(done)});
}

void GdbusBus::send(ConnectorCall call) {
  switch (state_) {
    case State::connecting: queued_.push_back(std::move(call)); return;
    case State::failed:
    case State::closed: finish_later(std::move(call.done), fail(Errc::unavailable, failure_)); return;
    case State::connected: break;
  }
  const std::string path(kConnectorPath);
  const auto timeout = std::clamp<std::int64_t>(options_.call_timeout.count(), 1, G_MAXINT);
  auto* flight = new InFlight{WeakBus(alive_), call.service, call.method, std::move(call.done)};
  // Flags NONE: the bus starts an app that is not running if it has an activation file.
  g_dbus_connection_call(conn_, call.service.c_str(), path.c_str(), call.interface, call.method, call.args.get(),
                         nullptr, G_DBUS_CALL_FLAGS_NONE, static_cast<gint>(timeout), cancellable_,
                         &GdbusBus::on_call_done, flight);
  pump_->schedule();
}

// What a failed connector call means for the distributor.
Error call_error(const GError* err, const InFlight& call, Duration timeout) {
  if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) != FALSE ||
      g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_TIMED_OUT) != FALSE ||
      g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT) != FALSE ||
      g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) != FALSE) {
    return Error(Errc::timeout, fmt::format("unifiedpush: {} did not answer {} within {} ms", call.service, call.method,
                                            timeout.count()));
  }
  if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CLOSED) != FALSE ||
      g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED) != FALSE ||
      g_error_matches(err, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED) != FALSE) {
    return Error(Errc::unavailable,
                 fmt::format("unifiedpush: {} to {}: the session bus connection is gone", call.method, call.service));
  }
  gchar* name = g_dbus_error_get_remote_error(err);
  GError* copy = g_error_copy(err);
  g_dbus_error_strip_remote_error(copy);
  Error out(Errc::connector, fmt::format("unifiedpush: {} answered {} with {}: {}", call.service, call.method,
                                         name != nullptr ? printable_prefix(name, kQuoted) : "a local error",
                                         printable_prefix(copy->message, kQuoted)));
  g_free(name);
  g_error_free(copy);
  return out;
}

void GdbusBus::on_call_done(GObject* source, GAsyncResult* res, gpointer data) noexcept {
  std::unique_ptr<InFlight> flight(static_cast<InFlight*>(data));
  GError* err = nullptr;
  GVariant* reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &err);
  if (reply != nullptr) g_variant_unref(reply);  // Connector2's a{sv} says nothing we need
  const auto alive = flight->alive.lock();
  if (!alive) {
    g_clear_error(&err);
    return;
  }
  try {
    GdbusBus& bus = *alive->bus;
    Result<void> result;
    if (err != nullptr) result = tl::unexpected(call_error(err, *flight, bus.options_.call_timeout));
    g_clear_error(&err);
    bus.finish_later(std::move(flight->done), std::move(result));
  } catch (const std::exception& e) {
    g_clear_error(&err);
    detail::log().error("handling the answer to {} failed: {}", flight->method, e.what());
  }
}

void GdbusBus::finish_later(Done done, Result<void> result) {
  if (!done) return;
  loop_->defer([weak = WeakBus(alive_), done = std::move(done), result = std::move(result)]() mutable {
    if (weak.expired()) return;
    try {
      done(std::move(result));
    } catch (const std::exception& e) {
      detail::log().error("a connector call's completion failed: {}", e.what());
    }
  });
}

}  // namespace

}  // namespace webpush::unifiedpush

// The module's entry (bus_module.h).
extern "C" __attribute__((visibility("default"))) void webpushd_unifiedpush_bus_create(
    const char* abi, webpush::event::EventLoop& loop, webpush::unifiedpush::BusOptions options,
    webpush::Result<std::unique_ptr<webpush::unifiedpush::Bus>>* out) {
  using namespace webpush::unifiedpush;
  if (std::strcmp(abi, detail::kBusModuleAbi) != 0) {
    *out = webpush::fail(Errc::unavailable, fmt::format("unifiedpush: the module is from webpushd {}, the daemon from "
                                                        "{}: reinstall webpushd",
                                                        detail::kBusModuleAbi, abi));
    return;
  }
  try {
    *out = GdbusBus::create(loop, std::move(options));
  } catch (const std::exception& e) {
    *out = webpush::fail(Errc::unavailable, fmt::format("unifiedpush: cannot set up the bus: {}", e.what()));
  }
}
