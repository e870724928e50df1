// The fcm layer's error codes (Chrome's push service: MCS, checkin, registration).
#pragma once

#include <string_view>

#include "webpush/core/error.h"

namespace webpush::fcm {

enum class Errc {
  bad_version,      ///< the server's version byte is neither 41 and later nor 38
  varint_too_long,  ///< a length varint of more than 5 bytes, or over 32 bits
  frame_too_large,  ///< a body over the configured maximum frame size
  bad_message,      ///< an MCS body that does not parse as its tag's message
  missing_field,    ///< a message or response without a field it must have
  bad_value,        ///< a field whose value is out of range or badly formed
  bad_response,     ///< a checkin or registration answer that cannot be used
  refused,          ///< the service refused (an error status or error value)
  no_codec,         ///< no protobuf codec is in use (codec.h): the FCM module was not loaded
};

[[nodiscard]] std::string_view to_string(Errc e) noexcept;

}  // namespace webpush::fcm

WEBPUSH_ERROR_DOMAIN(webpush::fcm::Errc, webpush::Domain::fcm, webpush::fcm::to_string);
