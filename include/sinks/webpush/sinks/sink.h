// Sinks: where received messages go (desktop notification, a command, a
// JSON-lines stream, control-socket watchers). A message is marked delivered
// once every sink has it; after a crash, the messages not yet marked are
// dispatched again at start-up, with the same channel ID and version (each
// sink's idempotency key). A sink that can tell what it already holds says so
// in recover() and is not handed those again (the JSON-lines file: exactly
// once); the others get them a second time (at least once).
//
// Thread: the loop thread only; deliver() must not block for long.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/core/message.h"

namespace webpush::sinks {

enum class Errc {
  io,           ///< writing the output failed
  unavailable,  ///< the sink cannot work here (no session bus, …)
  bad_config,   ///< a sink option is unusable
};

std::string_view to_string(Errc e) noexcept;

struct MessageEvent {
  std::int64_t message_id = 0;  ///< the inbox row (stable across restarts); 0 when not stored
  std::string subscription;     ///< name (or id when unnamed)
  std::string channel_id;
  std::string version;
  std::int64_t received_at_ms = 0;
  std::optional<Bytes> payload;  ///< nullopt for a push without data
  std::string encoding;
};

struct DecryptErrorEvent {
  std::string subscription;
  std::string channel_id;
  std::string version;
  std::int64_t received_at_ms = 0;
  std::string error;
};

struct SubscriptionChangedEvent {
  std::string subscription;
  std::string old_endpoint;
  std::string new_endpoint;
  std::string new_subscription_json;  ///< the complete PushSubscription JSON to give the app server
};

using Event = std::variant<MessageEvent, DecryptErrorEvent, SubscriptionChangedEvent>;

/// The event for a received message: DecryptErrorEvent when it carries an
/// error, else MessageEvent; under its subscription's name, or its channel ID
/// when the name is not known.
Event event_of(const Message& m);

class Sink {
 public:
  virtual ~Sink() = default;
  [[nodiscard]] virtual std::string_view name() const = 0;
  /// Hands an event over. Success means the sink has it (written and flushed,
  /// or queued for a command); the message may then be marked delivered.
  virtual Result<void> deliver(const Event& event) = 0;
  /// Before `undelivered` (stored, never marked delivered) are dispatched again
  /// at start-up: a sink that finds some of them in its own output (written just
  /// before a crash) takes note, and its deliver() of those succeeds without
  /// writing them again. Default: it holds none of them.
  virtual void recover(const std::vector<const Message*>& undelivered) { (void)undelivered; }
  /// The sink is being replaced (a reload): it gets no more events, finishes
  /// what it has accepted without blocking the loop, then calls `idle` once (on
  /// the loop thread, possibly at once), after which it may be destroyed.
  virtual void retire(std::function<void()> idle) { idle(); }
};

/// RFC 3339 UTC with milliseconds: "2026-11-27T22:42:51.123Z".
std::string rfc3339(std::int64_t unix_ms);

/// One JSON line per event, exactly the format of docs/cli.md (no newline).
std::string to_json_line(const Event& event);
/// The same line with the members of the object `extra` after the event's own
/// (a member the event has already is replaced where it stands). Strings that
/// are not UTF-8 are written with U+FFFD, as in the event's members.
std::string to_json_line(const Event& event, const nlohmann::ordered_json& extra);

}  // namespace webpush::sinks

WEBPUSH_ERROR_DOMAIN(webpush::sinks::Errc, webpush::Domain::sinks, webpush::sinks::to_string);
