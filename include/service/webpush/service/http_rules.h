// The application-server side rules of the push service (RFC 8030 as autopush
// applies them, docs/protocol.md §5): header and body validation, the VAPID
// headers read (not yet verified), and the JSON error body.
//
// Pure: no I/O, no clock, no store; a fuzz target (tests/fuzz) drives these
// functions with hostile requests. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

#include "webpush/crypto/vapid.h"

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

/// Request headers by lower-case name, as the HTTP adapter collects them.
using HttpHeaders = std::map<std::string, std::string, std::less<>>;

/// A header's value as autopush sees it: actix's to_str() refuses anything but
/// visible ASCII and tab, and the header then counts as absent (nullopt).
std::optional<std::string> header_value(const HttpHeaders& headers, std::string_view name);

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

/// The PushHeaders of a request, each read with header_value().
PushHeaders push_headers(const HttpHeaders& headers);

/// A push request's body, then its headers, as autopush judges them after the
/// token and VAPID: a body of more than max_data_bytes → 413 errno 104, then
/// validate_push_headers (a body of 0 bytes is no body).
ApiResult<PushMeta> validate_push_request(const HttpHeaders& headers, std::size_t body_size, std::size_t max_data_bytes,
                                          std::int64_t max_ttl);

/// The VAPID credentials of a push, the JWT not yet verified (crypto::vapid_verify
/// does that once the subscription is known); none without an Authorization
/// header. The draft schemes ("WebPush", "Bearer") keep the key in Crypto-Key:
/// absent, unparsable or without p256ecdsa → 400 errno 110. An Authorization
/// that crypto::parse_vapid_headers refuses → 401 errno 109.
ApiResult<std::optional<crypto::VapidCredentials>> parse_push_vapid(const std::optional<std::string>& authorization,
                                                                    const std::optional<std::string>& crypto_key);

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
