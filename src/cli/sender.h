// The application-server side: encrypt a message for a subscription (RFC 8291
// aes128gcm or legacy aesgcm), sign it (RFC 8292 VAPID) and POST it to the
// endpoint (RFC 8030) with libcurl. Shared by `send` and `demo`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "push_subscription.h"
#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/vapid.h"

namespace webpush::cli {

/// Reads a VAPID private key: PEM (SEC1 "EC PRIVATE KEY" or PKCS#8) or a raw
/// base64url 32-byte scalar. Errors: bad_key.
Result<crypto::KeyPair> load_vapid_key(const std::string& path);

/// Writes a new VAPID key as PEM (PKCS#8), mode 0600. Errors: bad_key.
Result<crypto::KeyPair> generate_vapid_key_file(const std::string& path);

struct SendOptions {
  std::string encoding = "aes128gcm";  ///< "aesgcm", or "none" for a push without data
  int ttl = 60;
  std::string urgency;                     ///< empty: not sent
  std::string topic;                       ///< empty: not sent
  const crypto::KeyPair* vapid = nullptr;  ///< borrowed; nullptr: no VAPID
  std::string vapid_subject = "mailto:webpushd@localhost";
  crypto::VapidScheme vapid_scheme = crypto::VapidScheme::vapid;
  long timeout_ms = 30000;
};

struct SendResponse {
  long status = 0;
  std::string location;
  std::string ttl;
  std::string body;
  double seconds = 0;
};

/// Sends one message; a reused Sender keeps its connection open between sends.
class Sender {
 public:
  Sender();
  ~Sender();
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  /// Encrypts, signs and POSTs. A non-2xx status is a response, not an error.
  /// Errors: encrypt, http.
  Result<SendResponse> send(const PushSubscription& sub, ByteView payload, const SendOptions& options);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webpush::cli
