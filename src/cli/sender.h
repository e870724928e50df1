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
#include "webpush/load/push_request.h"

namespace webpush::cli {

/// Reads a VAPID private key: PEM (SEC1 "EC PRIVATE KEY" or PKCS#8) or a raw
/// base64url 32-byte scalar. Errors: bad_key.
Result<crypto::KeyPair> load_vapid_key(const std::string& path);

/// Writes a new VAPID key as PEM (PKCS#8), mode 0600. Errors: bad_key.
Result<crypto::KeyPair> generate_vapid_key_file(const std::string& path);

struct SendOptions {
  load::PushOptions push;  ///< what the request carries (encoding, TTL, VAPID…)
  long timeout_ms = 30000;
  std::string ca_file;  ///< extra CA certificates (PEM), next to the system store
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
