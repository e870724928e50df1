// Error values and Result<T>.
//
// Every layer declares a closed `enum class Errc` and makes it known to Error
// with WEBPUSH_ERROR_DOMAIN (see below). An Error then carries the layer, the
// code, the code's name and a message that says what was wrong and where:
//
//   return Error(crypto::Errc::bad_padding, "aes128gcm: record 2 ends without a padding delimiter");
//
// Results are values on every hot path; exceptions are used only at start-up.
#pragma once

#include <concepts>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <tl/expected.hpp>

namespace webpush {

/// The layer an error comes from; one closed code enum per layer.
enum class Domain : std::uint8_t {
  core,
  crypto,
  protocol,
  store,
  transport,
  service,
  sinks,
  daemon,
  cli,
  event,
  load,
  conformance,
  unifiedpush,
  fcm,
};

std::string_view to_string(Domain d) noexcept;

/// Describes a layer's code enum. Specialised through WEBPUSH_ERROR_DOMAIN.
template <class E>
struct ErrorDomain;

template <class E>
concept ErrorCode = std::is_enum_v<E> && requires(E e) {
  { ErrorDomain<E>::domain } -> std::convertible_to<Domain>;
  { ErrorDomain<E>::name(e) } -> std::convertible_to<std::string_view>;
};

class Error {
 public:
  template <ErrorCode E>
  Error(E code, std::string message)
      : domain_(ErrorDomain<E>::domain),
        value_(static_cast<int>(code)),
        code_name_(ErrorDomain<E>::name(code)),
        message_(std::move(message)) {}

  [[nodiscard]] Domain domain() const noexcept { return domain_; }
  [[nodiscard]] int value() const noexcept { return value_; }
  /// The code's identifier, e.g. "bad_padding" (a static string).
  [[nodiscard]] std::string_view code_name() const noexcept { return code_name_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

  template <ErrorCode E>
  [[nodiscard]] bool is(E code) const noexcept {
    return domain_ == ErrorDomain<E>::domain && value_ == static_cast<int>(code);
  }

  /// "crypto.bad_padding: aes128gcm: record 2 ends without a padding delimiter"
  [[nodiscard]] std::string to_string() const;

  /// Prefixes the message with context, keeping the code: "subscription x: " + message.
  [[nodiscard]] Error with_context(std::string_view context) const&;

 private:
  Domain domain_;
  int value_;
  std::string_view code_name_;
  std::string message_;
};

template <ErrorCode E>
bool operator==(const Error& err, E code) noexcept {
  return err.is(code);
}

std::ostream& operator<<(std::ostream& os, const Error& err);

/// A value or an Error. [[nodiscard]]: the compiler refuses to let a caller drop
/// one (the build turns -Wunused-result into an error); a caller that truly has
/// nothing to do with a failure says why, e.g. by logging it.
template <class T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using Base = tl::expected<T, Error>;
  using Base::Base;
  Result(const Base& other) : Base(other) {}  // NOLINT(google-explicit-constructor): and_then/map results
  Result(Base&& other) noexcept : Base(std::move(other)) {}  // NOLINT(google-explicit-constructor)
};

/// Shorthand for returning an error from a function that returns Result<T>.
template <ErrorCode E>
tl::unexpected<Error> fail(E code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}

}  // namespace webpush

/// Registers a layer's code enum with Error. `NameFn` maps a code to its identifier.
#define WEBPUSH_ERROR_DOMAIN(Enum, DomainValue, NameFn)                 \
  template <>                                                           \
  struct webpush::ErrorDomain<Enum> {                                   \
    static constexpr ::webpush::Domain domain = DomainValue;            \
    static std::string_view name(Enum e) noexcept { return NameFn(e); } \
  }
