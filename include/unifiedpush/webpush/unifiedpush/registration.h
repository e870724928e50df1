// Validation of what an app sends in Register and Unregister: pure, no I/O,
// fuzzed (tests/fuzz/unifiedpush_register_fuzz.cpp). Nothing from the bus is
// stored or used before it has passed here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/unifiedpush/bus.h"

namespace webpush::unifiedpush {

/// Limits on what an app may send (bytes).
inline constexpr std::size_t kMaxTokenSize = 4096;
inline constexpr std::size_t kMaxDescriptionSize = 1024;

/// A registration that passed validation.
struct Registration {
  ApiVersion version = ApiVersion::v2;
  std::string service;
  std::string token;
  std::string description;
  std::optional<Bytes> vapid;  ///< a 65-byte uncompressed P-256 point

  bool operator==(const Registration&) const = default;
};

/// Whether `name` is a valid D-Bus bus name (well-known "a.b.c" or unique
/// ":1.42"), per the D-Bus specification: at most 255 bytes, two or more
/// elements, [A-Za-z0-9_-], a well-known name's elements not starting with a digit.
[[nodiscard]] bool is_valid_bus_name(std::string_view name) noexcept;

/// Checks a Register call. Errors: bad_request, the message saying what was
/// wrong ("the token is empty", "service 'x' is not a valid D-Bus bus name",
/// "the VAPID key is not a base64url P-256 public key"); FailReason for the
/// reply is internal_error for all of them.
Result<Registration> validate(const RegisterCall& call);

/// Checks a token (Unregister). Errors: bad_request.
Result<void> validate_token(std::string_view token);

}  // namespace webpush::unifiedpush
