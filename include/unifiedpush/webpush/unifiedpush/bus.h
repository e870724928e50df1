// unifiedpush::Bus — the seam between the UnifiedPush distributor and the
// D-Bus session bus (docs/unifiedpush.md has the facts it follows).
//
// Inbound: the bus front end owns `org.unifiedpush.Distributor.webpushd`,
// exports /org/unifiedpush/Distributor with the Distributor1 and Distributor2
// interfaces, turns each Register/Unregister call into a RegisterCall or
// UnregisterCall — raw, not yet validated — and hands it to the DistributorApi
// on the loop thread. Outbound: the distributor calls an app's connector
// (/org/unifiedpush/Connector on the app's bus name, Connector1 or Connector2
// as the app registered) through new_endpoint(), message() and unregistered();
// the bus starts an app that is not running if it has a D-Bus activation file.
//
// The real Bus is GDBus in the module webpushd-unifiedpush.so
// (connect_session_bus); unit tests use a fake.
//
// Thread: the loop thread only; every callback runs on it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "webpush/core/bytes.h"
#include "webpush/core/clock.h"
#include "webpush/core/error.h"

namespace webpush::event {
class EventLoop;
}

namespace webpush::unifiedpush {

enum class Errc {
  bad_request,   ///< a registration that cannot be accepted (bad token, bad bus name, bad VAPID key)
  unavailable,   ///< no session bus, the name is taken, or D-Bus support is not built
  connector,     ///< the app's connector answered with an error or is not there
  timeout,       ///< the app's connector did not answer in time
  registration,  ///< the push service did not register the subscription
  store,         ///< the store failed
};

std::string_view to_string(Errc e) noexcept;

/// Which interface pair an app speaks: Distributor1/Connector1 or the
/// dictionary-based Distributor2/Connector2.
enum class ApiVersion : std::uint8_t { v1 = 1, v2 = 2 };

/// The well-known name and object paths of the specification.
inline constexpr std::string_view kDistributorName = "org.unifiedpush.Distributor.webpushd";
inline constexpr std::string_view kDistributorPath = "/org/unifiedpush/Distributor";
inline constexpr std::string_view kConnectorPath = "/org/unifiedpush/Connector";

/// A Register call as it came off the bus, not yet validated.
struct RegisterCall {
  ApiVersion version = ApiVersion::v2;
  std::string sender;                ///< the caller's unique connection name (":1.42")
  std::string service;               ///< the app's bus name, where its connector is
  std::string token;                 ///< the app's id for this registration
  std::string description;           ///< free text for the user
  std::optional<std::string> vapid;  ///< v2 only: the app server's key, base64url (RFC 8292)
};

/// Why a registration failed, as the specification names it.
enum class FailReason : std::uint8_t {
  internal_error,  ///< INTERNAL_ERROR: a bad request or a local failure
  network,         ///< NETWORK: the push service could not be reached
  vapid_required,  ///< VAPID_REQUIRED
};

std::string_view to_string(FailReason r) noexcept;

/// The answer to a Register call. `detail` is a one-line text for people and
/// logs (v1 carries it as registrationResultReason).
struct RegisterOutcome {
  bool ok = false;
  FailReason reason = FailReason::internal_error;
  std::string detail;
};

struct UnregisterCall {
  ApiVersion version = ApiVersion::v2;
  std::string sender;
  std::string token;
};

/// What the bus front end calls: the distributor.
class DistributorApi {
 public:
  virtual ~DistributorApi() = default;
  /// `reply` is called exactly once, possibly later (after the push service
  /// answered), on the loop thread.
  virtual void on_register(RegisterCall call, std::function<void(RegisterOutcome)> reply) = 0;
  virtual void on_unregister(UnregisterCall call) = 0;
};

/// Where an app's connector is.
struct AppAddress {
  std::string service;
  std::string token;
  ApiVersion version = ApiVersion::v2;
};

class Bus {
 public:
  /// Called once per call, on the loop thread. Errors: connector (an error
  /// reply, or no such name and no activation file: the text says which),
  /// timeout (no reply in time), unavailable (the bus connection is gone).
  using Done = std::function<void(Result<void>)>;

  virtual ~Bus() = default;
  /// Exports the distributor object and asks for the well-known name; calls
  /// then go to `api` (borrowed; must outlive the Bus). Errors: unavailable.
  virtual Result<void> start(DistributorApi& api) = 0;
  /// NewEndpoint(token, endpoint) / NewEndpoint({token, endpoint}).
  virtual void new_endpoint(const AppAddress& app, const std::string& endpoint, Done done) = 0;
  /// Message(token, body, id) / Message({token, message, id}).
  virtual void message(const AppAddress& app, std::span<const std::uint8_t> body, const std::string& id, Done done) = 0;
  /// Unregistered(token) / Unregistered({token}).
  virtual void unregistered(const AppAddress& app, Done done) = 0;
};

struct BusOptions {
  /// The session bus address; empty: $DBUS_SESSION_BUS_ADDRESS (or the
  /// user's $XDG_RUNTIME_DIR/bus). Never the system bus.
  std::string address;
  std::string name{kDistributorName};
  /// How long a connector call may take (D-Bus activation included).
  Duration call_timeout{25'000};
  /// Told, on the loop thread, when the name is owned (true) and when it is
  /// refused or the connection fails or ends (false, with why).
  std::function<void(bool serving, const std::string& detail)> on_state;
};

/// Whether this build has D-Bus support (the module is built).
[[nodiscard]] bool bus_support_built() noexcept;
/// Whether a session bus is there to connect to: the address variable is set,
/// or $XDG_RUNTIME_DIR/bus is a socket.
[[nodiscard]] bool session_bus_present() noexcept;
/// Connects to the session bus through the module webpushd-unifiedpush.so,
/// loaded on first use. Errors: unavailable (no module, no bus).
Result<std::unique_ptr<Bus>> connect_session_bus(event::EventLoop& loop, BusOptions options);

}  // namespace webpush::unifiedpush

WEBPUSH_ERROR_DOMAIN(webpush::unifiedpush::Errc, webpush::Domain::unifiedpush, webpush::unifiedpush::to_string);
