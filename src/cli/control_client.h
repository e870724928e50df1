// The CLI's side of the control socket: one request line, one reply line.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "webpush/core/error.h"

namespace webpush::cli {

enum class ControlErrc {
  io,       ///< the daemon did not answer properly
  refused,  ///< the daemon answered {"ok":false}
};

std::string_view to_string(ControlErrc e) noexcept;

class ControlClient {
 public:
  /// Connects to the daemon's socket in `state_dir`; nullopt when no daemon listens.
  static std::optional<ControlClient> connect(const std::filesystem::path& state_dir);
  ~ControlClient();
  ControlClient(ControlClient&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ControlClient& operator=(ControlClient&&) = delete;
  ControlClient(const ControlClient&) = delete;

  /// Sends `request` and returns the reply object. {"ok":false,…} becomes
  /// ControlErrc::refused with the daemon's error text.
  Result<nlohmann::ordered_json> request(const nlohmann::json& request,
                                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  explicit ControlClient(int fd) : fd_(fd) {}
  int fd_;
  std::string buffer_;
};

}  // namespace webpush::cli

WEBPUSH_ERROR_DOMAIN(webpush::cli::ControlErrc, webpush::Domain::cli, webpush::cli::to_string);
