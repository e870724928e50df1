// Internal to the transport layer: the libwebsockets protocol callbacks and
// the layer's logger.
#pragma once

#include <cstddef>

#include <libwebsockets.h>
#include <spdlog/spdlog.h>

namespace webpush::transport::detail {

inline constexpr const char* kWsProtocol = "push-notification";

int ws_client_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) noexcept;

/// The "transport" logger (created on first use).
spdlog::logger& log();

}  // namespace webpush::transport::detail
