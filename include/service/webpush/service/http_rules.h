// The application-server side rules of the push service (RFC 8030 as autopush
// applies them, docs/protocol.md §5): header validation and the JSON error body.
//
// Pure: no I/O, no clock. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace webpush::service {

/// An HTTP error answer in autopush's shape:
///   {"code":400,"errno":111,"error":"Bad Request","message":"Missing TTL value","more_info":"…"}
struct ApiError {
  int status = 500;
  std::optional<int> errnum;  ///< autopush errno; null in the body when absent
  std::string message;
};

template <class T>
using ApiResult = tl::expected<T, ApiError>;

inline tl::unexpected<ApiError> api_error(int status, std::optional<int> errnum, std::string message) {
  return tl::unexpected<ApiError>(ApiError{status, errnum, std::move(message)});
}

/// The reason phrase of a status code ("Bad Request"); "Unknown" for others.
std::string_view reason_phrase(int status) noexcept;

/// The JSON body of an error.
std::string error_body(const ApiError& error);

/// The request headers a push message is judged by; absent headers are nullopt.
struct PushHeaders {
  std::optional<std::string> ttl;
  std::optional<std::string> topic;
  std::optional<std::string> urgency;
  std::optional<std::string> content_encoding;
  std::optional<std::string> encryption;
  std::optional<std::string> crypto_key;
  std::optional<std::string> encryption_key;
};

/// What a valid push request turns into.
struct PushMeta {
  std::int64_t ttl = 0;  ///< capped at max_ttl
  std::optional<std::string> topic;
  std::string encoding;  ///< forwarded only with a body
  std::string encryption;
  std::string crypto_key;
};

/// Validates the headers in autopush's order (ARS NotificationHeaders):
///   TTL missing or not an integer          → 400 errno 111
///   with a body: Content-Encoding missing or not aes128gcm/aesgcm, aesgcm without
///   Encryption salt, Crypto-Key without dh, Encryption-Key with aesgcm, aes128gcm
///   with salt/dh parameters                → 400 errno 110
///   TTL negative                            → 400 errno 114
///   Topic longer than 32 or not base64url   → 400 errno 113
///   Urgency not very-low|low|normal|high    → 400, no errno (RFC 8030 §5.3; autopush ignores Urgency)
/// Body-less requests skip the encryption checks and forward no crypto header.
ApiResult<PushMeta> validate_push_headers(const PushHeaders& headers, bool has_body, std::int64_t max_ttl);

/// Removes double quotes and the base64 '=' padding before ',', ';' or the end,
/// as autopush does before forwarding Encryption / Crypto-Key (ARS strip_header).
std::string strip_crypto_header(std::string_view value);

/// The value of `key` in a Crypto-Key-style header: comma-separated sections of
/// ';'-separated name=value items, first match wins, value trimmed of spaces and
/// quotes (ARS CryptoKeyHeader). nullopt if absent; an item without '=' makes the
/// whole header invalid, reported as `invalid`.
struct CryptoParam {
  bool invalid = false;
  std::optional<std::string> value;
};
CryptoParam find_crypto_param(std::string_view header, std::string_view key);

/// Whether `s` matches ^[0-9A-Za-z_-]+=*$ (autopush's base64url check).
bool is_base64url_token(std::string_view s) noexcept;

}  // namespace webpush::service
