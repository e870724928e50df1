// Error codes of the protocol layer (autopush WebSocket messages).
#pragma once

#include <string_view>

#include "webpush/core/error.h"

namespace webpush::protocol {

enum class Errc {
  not_json,              ///< the frame is not a JSON object
  missing_field,         ///< a required field is absent
  wrong_type,            ///< a field has the wrong JSON type
  invalid_value,         ///< a field's value is malformed (UUID, status, URL, …)
  unknown_message_type,  ///< messageType not part of the protocol (server side only; clients ignore)
};

std::string_view to_string(Errc e) noexcept;

}  // namespace webpush::protocol

WEBPUSH_ERROR_DOMAIN(webpush::protocol::Errc, webpush::Domain::protocol, webpush::protocol::to_string);
