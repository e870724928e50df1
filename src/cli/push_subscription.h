// The PushSubscription JSON that `send` reads (and `demo` passes on), and the
// error codes of the sending side. Pure: no I/O, so that a fuzz build
// (tests/fuzz) can build it without the rest of the command line.
#pragma once

#include <string>
#include <string_view>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"

namespace webpush::cli {

enum class SendErrc {
  bad_subscription,  ///< the PushSubscription JSON is unusable
  bad_key,           ///< the VAPID key file is unusable
  encrypt,           ///< the payload could not be encrypted
  http,              ///< the request could not be made (connection, TLS, timeout)
};

std::string_view to_string(SendErrc e) noexcept;

struct PushSubscription {
  std::string endpoint;
  Bytes p256dh;  ///< 65-byte point
  Bytes auth;    ///< 16 bytes
};

/// Parses {"endpoint":…, "keys":{"p256dh":…, "auth":…}}. Errors: bad_subscription naming the field.
Result<PushSubscription> parse_push_subscription(std::string_view json_text);

}  // namespace webpush::cli

WEBPUSH_ERROR_DOMAIN(webpush::cli::SendErrc, webpush::Domain::cli, webpush::cli::to_string);
