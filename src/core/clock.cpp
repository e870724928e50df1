#include "webpush/core/clock.h"

#include <time.h>

namespace webpush {
namespace {

Duration read(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return Duration(static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000);
}

}  // namespace

Instant SystemClock::now() const {
  return Instant{read(CLOCK_MONOTONIC), read(CLOCK_BOOTTIME), read(CLOCK_REALTIME).count()};
}

RandomJitter::RandomJitter() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  // Seeded per process so that a fleet of daemons does not reconnect in step.
  state_ = static_cast<std::uint64_t>(ts.tv_nsec) ^ (static_cast<std::uint64_t>(ts.tv_sec) << 32) ^
           (reinterpret_cast<std::uintptr_t>(this) << 16) ^ 0x9e3779b97f4a7c15ULL;
}

double RandomJitter::next() {
  // splitmix64: small, fast and good enough for spreading reconnects.
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53);
}

}  // namespace webpush
