// The application server's request for one push (RFC 8030 §5): the payload
// encrypted for the subscription (RFC 8291 aes128gcm, or legacy aesgcm), the
// TTL / Urgency / Topic headers, and a VAPID signature (RFC 8292). Pure: no
// I/O; the caller gives the time the VAPID claims start from. Used by `send`
// and by loadtest's sender.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/vapid.h"

namespace webpush::load {

/// Where a push goes and the user agent's public keys (a PushSubscription).
struct PushTarget {
  std::string endpoint;
  Bytes p256dh;  ///< 65-byte uncompressed point
  Bytes auth;    ///< 16 bytes
};

struct PushOptions {
  std::string encoding = "aes128gcm";  ///< "aesgcm", or "none" for a push without data
  int ttl = 60;
  std::string urgency;                     ///< empty: not sent
  std::string topic;                       ///< empty: not sent
  const crypto::KeyPair* vapid = nullptr;  ///< borrowed; nullptr: no VAPID
  std::string vapid_subject = "mailto:webpushd@localhost";
  crypto::VapidScheme vapid_scheme = crypto::VapidScheme::vapid;
};

/// What one POST carries: the body and its header lines ("Name: value").
struct PushRequest {
  std::vector<std::string> headers;
  Bytes body;
};

/// Encrypts `payload` for `target` and signs for its endpoint's origin, the
/// claims valid from `now_unix_s`. Errors: Errc::encrypt (a key the
/// subscription gave is unusable, the payload is too large, signing failed).
Result<PushRequest> build_push_request(const PushTarget& target, ByteView payload, const PushOptions& options,
                                       std::int64_t now_unix_s);

}  // namespace webpush::load
