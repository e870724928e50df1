// Configuration of the embedded push service (`webpushd serve`).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "webpush/core/error.h"
#include "webpush/service/errc.h"

namespace webpush::service {

/// autopush's defaults (ARS autoconnect-settings, autoendpoint settings).
inline constexpr std::chrono::milliseconds kDefaultHandshakeTimeout{5'000};
inline constexpr std::chrono::milliseconds kDefaultPingInterval{300'000};
inline constexpr std::chrono::milliseconds kDefaultPongTimeout{4'000};
inline constexpr std::chrono::milliseconds kDefaultMinClientPing{45'000};
inline constexpr std::size_t kDefaultMsgLimit = 150;
inline constexpr std::size_t kDefaultMaxDataBytes = 5630;
/// TTLs above 30 days are cut to it (RFC 8030 §5.2 lets the service shorten them).
inline constexpr std::int64_t kMaxTtlSeconds = 30 * 24 * 60 * 60;
/// Largest WebSocket message accepted from a user agent (as actix-ws's default).
inline constexpr std::size_t kMaxFrameBytes = 64 * 1024;
/// Stored messages are sent in batches of this many; the next batch waits for all acks.
inline constexpr std::size_t kFlushBatch = 10;

/// Faults `serve --fault NAME` injects, for check-service's tests only
/// (tests/conformance): each breaks exactly one rule, where that rule lives, so
/// that the test can show the check for it fails and says what it saw.
enum class Fault {
  uaid_dashed,             ///< "uaid-dashed": a new uaid is sent in the dashed UUID form (8-4-4-4-12)
  keep_unregistered,       ///< "keep-unregistered": unregister answers 200 and the channel keeps working
  corrupt_data,            ///< "corrupt-data": one ciphertext byte of every notification's data is flipped
  vapid_ignore_signature,  ///< "vapid-ignore-signature": the VAPID JWT's signature is not verified
  no_ping_reply,           ///< "no-ping-reply": `{}` pings get no answer
  hang_on_big_frame,       ///< "hang-on-big-frame": text messages over 16 KiB are dropped without a word
};

/// Every fault, in declaration order.
inline constexpr Fault kAllFaults[] = {Fault::uaid_dashed,   Fault::keep_unregistered,
                                       Fault::corrupt_data,  Fault::vapid_ignore_signature,
                                       Fault::no_ping_reply, Fault::hang_on_big_frame};

/// The fault's name on the command line, "uaid-dashed".
[[nodiscard]] std::string_view fault_name(Fault fault) noexcept;

/// The fault named `name`. Error invalid_config naming the faults there are.
Result<Fault> parse_fault(std::string_view name);

/// Text messages above this size are dropped under Fault::hang_on_big_frame.
inline constexpr std::size_t kFaultFrameBytes = 16 * 1024;

struct ServiceConfig {
  std::string listen_host = "127.0.0.1";  ///< an IP literal (IPv6 without brackets) or "localhost"
  std::uint16_t listen_port = 8080;       ///< 0: an ephemeral port
  /// Base of every endpoint and the VAPID audience, e.g. "http://127.0.0.1:8080";
  /// no trailing slash. Derived from the listen address when empty.
  std::string public_url;
  std::filesystem::path state_dir;  ///< holds the service database; empty: state in memory only
  std::filesystem::path tls_cert;   ///< PEM; with tls_key, serve wss:// and https://
  std::filesystem::path tls_key;

  std::chrono::milliseconds handshake_timeout = kDefaultHandshakeTimeout;  ///< first frame must be a hello
  std::chrono::milliseconds ws_ping_interval = kDefaultPingInterval;       ///< WebSocket Ping frames
  std::chrono::milliseconds ws_pong_timeout = kDefaultPongTimeout;         ///< close 1011 without a Pong
  std::chrono::milliseconds min_client_ping = kDefaultMinClientPing;       ///< `{}` pings closer than this: 1011
  std::chrono::milliseconds purge_interval{60'000};                        ///< expired-message sweep

  std::size_t msg_limit = kDefaultMsgLimit;           ///< messages sent from storage in one session before reset
  std::size_t max_data_bytes = kDefaultMaxDataBytes;  ///< body limit (413 above)
  std::size_t max_frame_bytes = kMaxFrameBytes;

  /// Megaphone broadcasts the service announces: id → current version. Empty by default.
  std::map<std::string, std::string> broadcasts;

  /// Injected faults (tests only, see Fault). Empty: the service follows every rule.
  std::set<Fault> faults;
  [[nodiscard]] bool has(Fault fault) const noexcept { return faults.contains(fault); }
};

/// A parsed `--listen` value.
struct ListenAddress {
  std::string host;  ///< without brackets
  std::uint16_t port = 0;
};

/// Parses "HOST:PORT", "[V6]:PORT" or ":PORT" (host 127.0.0.1). Error invalid_config
/// naming what is wrong.
Result<ListenAddress> parse_listen(std::string_view text);

/// Whether `host` is a loopback address or "localhost".
bool is_loopback_host(std::string_view host);

/// Fills public_url when empty ("http(s)://host:port", IPv6 in brackets) and
/// validates it otherwise (absolute http/https URL; a trailing slash is removed).
/// `bound_port` is the port actually listened on (matters for port 0).
/// Error invalid_config.
Result<std::string> effective_public_url(const ServiceConfig& config, std::uint16_t bound_port);

}  // namespace webpush::service
