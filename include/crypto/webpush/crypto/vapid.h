// VAPID (RFC 8292): an application server identifies itself to the push service
// with an ES256 JWT signed by its P-256 key.
//
//   Authorization: vapid t=<JWT>, k=<public key, base64url>          (RFC 8292)
//   Authorization: WebPush <JWT>  +  Crypto-Key: p256ecdsa=<key>      (draft-01, legacy)
//
// JWT = base64url(header) "." base64url(claims) "." base64url(r || s), with
// header {"typ":"JWT","alg":"ES256"} and claims aud (origin of the push
// resource), exp (NumericDate, at most 24 h ahead) and sub (contact URI).
// The signature is the raw 64-byte r || s, not DER.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/crypto/errc.h"
#include "webpush/crypto/keys.h"

namespace webpush::crypto {

inline constexpr std::int64_t kVapidMaxLifetime = 24 * 60 * 60;

struct VapidClaims {
  std::string aud;  ///< e.g. "https://updates.push.services.mozilla.com"
  std::int64_t exp = 0;
  std::string sub;  ///< "mailto:…" or "https:…"; may be empty (not enforced by services)
};

/// Claims for a push endpoint: aud = the endpoint's origin, exp = now + lifetime.
/// Errors: core bad_url for an endpoint that is not an absolute URL;
/// token_expiry_too_far if lifetime exceeds 24 h.
Result<VapidClaims> vapid_claims_for(std::string_view endpoint, std::string_view sub, std::int64_t now,
                                     std::int64_t lifetime = 12 * 60 * 60);

/// Signs the claims into a compact JWT. Errors: internal (also for aud or sub
/// that are not valid UTF-8, which JSON cannot carry).
Result<std::string> vapid_sign(const KeyPair& key, const VapidClaims& claims);

enum class VapidScheme {
  vapid,   ///< RFC 8292 "vapid t=…, k=…"
  webpush  ///< draft "WebPush <jwt>" with Crypto-Key p256ecdsa
};

/// Header values for a request. `crypto_key` is empty for the vapid scheme; for
/// the webpush scheme it is "p256ecdsa=<key>" (to be joined with any aesgcm dh by ",").
struct VapidHeaders {
  std::string authorization;
  std::string crypto_key;
};

Result<VapidHeaders> vapid_headers(const KeyPair& key, const VapidClaims& claims, VapidScheme scheme);

/// What a push service extracts from a request before verifying.
struct VapidCredentials {
  VapidScheme scheme = VapidScheme::vapid;
  std::string jwt;
  Bytes key;  ///< 65-byte public key from k= or p256ecdsa=
};

/// Parses Authorization (and Crypto-Key for the legacy scheme). Scheme names are
/// case-insensitive; keys may be padded or use the standard base64 alphabet.
/// Errors: invalid_vapid_header naming what is missing or malformed.
Result<VapidCredentials> parse_vapid_headers(std::string_view authorization, std::string_view crypto_key);

struct VapidExpectations {
  std::string_view audience;               ///< the endpoint origin the token must name
  std::int64_t now = 0;                    ///< seconds since the epoch
  std::optional<ByteView> registered_key;  ///< the subscription's applicationServerKey, if bound
};

/// Verifies a token: key valid, signature (ES256, raw r||s), exp present and in
/// the future and no more than 24 h ahead, aud equal to the audience, key equal
/// to the registered one. Errors: invalid_key, invalid_jwt, missing_claim,
/// bad_signature, token_expired, token_expiry_too_far, wrong_audience, key_mismatch;
/// internal if OpenSSL fails.
Result<VapidClaims> vapid_verify(const VapidCredentials& credentials, const VapidExpectations& expect);

}  // namespace webpush::crypto
