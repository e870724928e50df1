// Byte buffers and views used across every layer.
#pragma once

#include <string.h>  // explicit_bzero

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace webpush {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

/// An allocator that overwrites memory before it gives it back, so key material
/// does not linger in freed heap blocks (explicit_bzero: the compiler may not
/// drop the write as dead). Growth is covered too: the old block is freed
/// through deallocate().
template <class T>
struct CleansingAllocator {
  using value_type = T;
  CleansingAllocator() noexcept = default;
  template <class U>
  CleansingAllocator(const CleansingAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit by design
  T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    explicit_bzero(p, n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const CleansingAllocator<U>&) const noexcept {
    return true;
  }
};

/// Private keys and auth secrets: cleansed when freed.
using SecretBytes = std::vector<std::uint8_t, CleansingAllocator<std::uint8_t>>;

inline SecretBytes to_secret(std::span<const std::uint8_t> b) { return {b.begin(), b.end()}; }

/// Views the characters of a string as bytes (no copy; the string must outlive the view).
inline ByteView as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Views bytes as characters (no copy; the bytes must outlive the view).
inline std::string_view as_chars(ByteView b) noexcept { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

inline Bytes to_bytes(std::string_view s) { return {s.begin(), s.end()}; }

/// Lower-case hex, two characters per byte.
std::string to_hex(ByteView b);

/// Appends `tail` to `out`.
inline void append(Bytes& out, ByteView tail) { out.insert(out.end(), tail.begin(), tail.end()); }

}  // namespace webpush
