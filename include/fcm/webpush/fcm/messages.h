// The bodies of the MCS messages a receiver sends and reads (docs/fcm.md §3–6),
// encoded and decoded with protobuf-lite (Chromium's mcs.proto, src/fcm/proto/)
// by the codec in use (codec.h: linked in, or loaded from webpushd-fcm.so).
// The generated types stay behind this header: callers see plain structs.
//
// Every decoder takes hostile bytes: a body that does not parse, lacks a
// required field or carries an out-of-range value is an error naming the
// message and the field; strings are bounded by the frame size the framing
// already enforced.
//
// Pure: no I/O; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webpush/core/error.h"
#include "webpush/fcm/errc.h"

namespace webpush::fcm {

/// The device identity a checkin hands out (docs/fcm.md §1).
struct DeviceIdentity {
  std::uint64_t android_id = 0;
  std::uint64_t security_token = 0;

  friend bool operator==(const DeviceIdentity&, const DeviceIdentity&) = default;
};

/// The Chrome version webpushd presents (checkin and login "chrome-<version>").
inline constexpr std::string_view kChromeVersion = "63.0.3234.0";

// ---- LoginRequest (tag 2) / LoginResponse (tag 3) -------------------------------

struct LoginParams {
  DeviceIdentity device;
  std::string chrome_version{kChromeVersion};
  /// Messages stored since the last confirmed login: presented as acknowledged.
  std::vector<std::string> received_persistent_ids;
};

/// A LoginRequest filled as Chrome does: id "chrome-<version>", domain
/// "mcs.android.com", user and resource the decimal android id, auth_token the
/// decimal security token, device_id "android-<hex id>", auth_service
/// ANDROID_ID, network_type 1, adaptive_heartbeat false, use_rmq2, setting
/// new_vc=1, and the received persistent ids (as Chromium's BuildLoginRequest).
[[nodiscard]] std::string encode_login_request(const LoginParams& params);

struct LoginResult {
  std::string id;
  /// Set when the server refused the login: "code <n>: <message>".
  std::optional<std::string> error;
  /// The server's heartbeat interval (heartbeat_config.interval_ms), if it gave one.
  std::optional<std::int32_t> heartbeat_interval_ms;
  std::optional<std::int32_t> last_stream_id_received;
  std::optional<std::int64_t> server_timestamp_ms;
};

/// Errors: Errc::bad_message, Errc::missing_field.
Result<LoginResult> decode_login_response(std::string_view body);

// ---- HeartbeatPing (tag 0) / HeartbeatAck (tag 1): the same fields ----------------

struct Heartbeat {
  std::optional<std::int32_t> stream_id;
  std::optional<std::int32_t> last_stream_id_received;
  std::optional<std::int64_t> status;
};

[[nodiscard]] std::string encode_heartbeat(const Heartbeat& heartbeat);
/// Errors: Errc::bad_message.
Result<Heartbeat> decode_heartbeat(std::string_view body);

// ---- DataMessageStanza (tag 8) --------------------------------------------------

/// The bounds decode_data_message puts on app_data.
inline constexpr std::size_t kMaxAppDataEntries = 1000;
inline constexpr std::size_t kMaxAppDataKeyBytes = 1024;

struct DataMessage {
  std::string id;
  std::string from;  ///< required on the wire
  std::string to;
  std::string category;  ///< required on the wire
  std::string token;
  std::string reg_id;
  std::string persistent_id;
  std::vector<std::pair<std::string, std::string>> app_data;
  std::optional<std::string> raw_data;
  std::optional<std::int32_t> stream_id;
  std::optional<std::int32_t> last_stream_id_received;
  std::optional<std::int32_t> ttl;
  std::optional<std::int64_t> sent;
  bool immediate_ack = false;

  /// The value of the first app_data entry named `key` (case-sensitive), or nullptr.
  [[nodiscard]] const std::string* app_data_value(std::string_view key) const noexcept;
};

/// Errors: Errc::bad_message, Errc::missing_field (from, category, an app_data
/// key or value), Errc::bad_value (more than kMaxAppDataEntries entries, a key
/// over kMaxAppDataKeyBytes). An absent persistent_id is not an error (empty).
Result<DataMessage> decode_data_message(std::string_view body);
/// The same message as a server sends it (tests, fuzz corpora, the benchmark).
[[nodiscard]] std::string encode_data_message(const DataMessage& message);

// ---- IqStanza (tag 7): acknowledgements ----------------------------------------

/// Extension ids an IqStanza carries (Chromium's kSelectiveAck / kStreamAck).
inline constexpr std::int32_t kSelectiveAckExtension = 12;
inline constexpr std::int32_t kStreamAckExtension = 13;

struct IqStanza {
  enum class Type : std::int32_t { get = 0, set = 1, result = 2, error = 3 };
  Type type = Type::set;
  std::string id;
  std::optional<std::int32_t> extension_id;
  std::string extension_data;
  std::string persistent_id;
  std::optional<std::int32_t> last_stream_id_received;
};

/// Errors: Errc::bad_message, Errc::missing_field, Errc::bad_value (an unknown type).
Result<IqStanza> decode_iq_stanza(std::string_view body);
/// An IqStanza SET with a SelectiveAck extension listing `ids`.
[[nodiscard]] std::string encode_selective_ack(std::span<const std::string> ids,
                                               std::optional<std::int32_t> last_stream_id_received);
/// An IqStanza SET with an (empty) StreamAck extension.
[[nodiscard]] std::string encode_stream_ack(std::int32_t last_stream_id_received);
/// The ids of a SelectiveAck extension's data. Errors: Errc::bad_message.
Result<std::vector<std::string>> decode_selective_ack(std::string_view data);

// ---- StreamErrorStanza (tag 10) ------------------------------------------------

/// "<type>: <text>" (or "<type>"). Errors: Errc::bad_message, Errc::missing_field.
Result<std::string> decode_stream_error(std::string_view body);

}  // namespace webpush::fcm
