// Mozilla autopush WebSocket protocol: the messages and their JSON codec.
//
// Every message is one UTF-8 text frame holding one JSON object with a
// `messageType`; the two-byte text `{}` is a ping in both directions. Field
// names and rules follow autopush-rs (the production server) and Firefox; see
// docs in docs/protocol.md §1. Parsing is strict where autopush closes the socket
// (a bad UUID, wrong types) and lenient where Firefox is (unknown message types
// and extra fields are ignored by the client side).
//
// Pure: no I/O, no clock, no randomness. Thread-safe (no shared state).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/protocol/errc.h"

namespace webpush::protocol {

using Broadcasts = std::map<std::string, std::string>;

// ---- client → server --------------------------------------------------------

struct Hello {
  std::optional<std::string> uaid;  ///< sent only when the client holds subscriptions
  Broadcasts broadcasts;
};

struct Register {
  std::string channel_id;          ///< lower-case hyphenated UUID
  std::optional<std::string> key;  ///< VAPID applicationServerKey, base64url
};

struct Unregister {
  std::string channel_id;
  std::optional<int> code;  ///< 200 manual, 201 quota, 202 permission revoked
};

/// Ack codes (Firefox kACK_STATUS_TO_CODE).
enum class AckCode : int { delivered = 100, decrypt_error = 101, not_delivered = 102 };

struct AckUpdate {
  std::string channel_id;
  std::string version;
  int code = static_cast<int>(AckCode::delivered);
};

struct Ack {
  std::vector<AckUpdate> updates;
};

struct Nack {
  std::string version;
  int code = 0;  ///< 301 uncaught exception, 302 rejected promise, 303 internal error
};

struct Ping {};  ///< `{}` (or {"messageType":"ping"}); also the server's pong

struct BroadcastSubscribe {
  Broadcasts broadcasts;
};

using ClientMessage = std::variant<Hello, Register, Unregister, Ack, Nack, Ping, BroadcastSubscribe>;

// ---- server → client --------------------------------------------------------

struct HelloReply {
  std::string uaid;
  int status = 200;
  bool use_webpush = true;
  Broadcasts broadcasts;  ///< deltas; a nested "errors" object is dropped
};

struct RegisterReply {
  std::string channel_id;
  int status = 0;
  std::string push_endpoint;  ///< on ARS 400 this holds an error text, not a URL
};

struct UnregisterReply {
  std::string channel_id;
  int status = 0;
};

/// The push service's copy of the application server's encryption headers.
struct NotificationHeaders {
  std::string encoding;    ///< Content-Encoding ("aes128gcm", "aesgcm"); may be empty
  std::string encryption;  ///< Encryption (aesgcm)
  std::string crypto_key;  ///< Crypto-Key (aesgcm)
};

struct Notification {
  std::string channel_id;
  std::string version;                         ///< opaque message id; the de-duplication key
  std::optional<std::string> data;             ///< base64url body, absent for a data-less push
  std::optional<NotificationHeaders> headers;  ///< present with data
};

struct BroadcastMessage {
  Broadcasts broadcasts;
};

struct Pong {};  ///< `{}`

/// A message type the client does not know (e.g. APY's "error"): ignored.
struct UnknownMessage {
  std::string message_type;
};

using ServerMessage =
    std::variant<HelloReply, RegisterReply, UnregisterReply, Notification, BroadcastMessage, Pong, UnknownMessage>;

// ---- codec --------------------------------------------------------------------

/// Parses a frame received by a client. Unknown messageTypes (matched
/// case-insensitively, as Firefox does) become UnknownMessage. Errors: not_json,
/// missing_field, wrong_type, invalid_value, each naming the field.
Result<ServerMessage> parse_server_message(std::string_view frame);

/// Parses a frame received by a push service, with autopush's strictness:
/// register needs a lower-case hyphenated channelID; unregister and ack
/// channelIDs must be UUIDs; nack needs a string version; broadcast values
/// must be strings. Error unknown_message_type for anything else.
Result<ClientMessage> parse_client_message(std::string_view frame);

std::string serialize(const ClientMessage& message);
std::string serialize(const ServerMessage& message);

// ---- identifiers --------------------------------------------------------------

/// Whether `s` is a UUID in the lower-case hyphenated form autopush requires
/// for register (8-4-4-4-12 hex digits).
bool is_canonical_uuid(std::string_view s) noexcept;

/// Whether `s` parses as a UUID in any common spelling (hyphenated or 32 hex
/// digits, either case), as autopush accepts in ack/unregister.
bool is_any_uuid(std::string_view s) noexcept;

/// A version-4 UUID in canonical form from 16 random bytes.
std::string uuid_v4(const std::array<std::uint8_t, 16>& random) noexcept;

/// Whether `s` is a uaid in autopush's simple form: 32 lower-case hex digits.
bool is_simple_uaid(std::string_view s) noexcept;

}  // namespace webpush::protocol
