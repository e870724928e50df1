// Error codes of the core layer.
#pragma once

#include <string_view>

#include "webpush/core/error.h"

namespace webpush::core {

enum class Errc {
  bad_base64,  ///< a character outside the base64url alphabet, or an impossible length
  bad_url,     ///< not an absolute http(s)/ws(s) URL
};

std::string_view to_string(Errc e) noexcept;

}  // namespace webpush::core

WEBPUSH_ERROR_DOMAIN(webpush::core::Errc, webpush::Domain::core, webpush::core::to_string);
