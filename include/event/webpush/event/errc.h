// Error codes of the event layer.
#pragma once

#include <string_view>

#include "webpush/core/error.h"

namespace webpush::event {

enum class Errc {
  setup,  ///< the loop, a vhost, a descriptor or a timer could not be set up
  io,     ///< a system call on a watched descriptor or child failed
};

std::string_view to_string(Errc e) noexcept;

}  // namespace webpush::event

WEBPUSH_ERROR_DOMAIN(webpush::event::Errc, webpush::Domain::event, webpush::event::to_string);
