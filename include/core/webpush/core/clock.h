// Time, injected. Nothing below the daemon reads a clock itself: callers pass
// an Instant in, so tests drive time by hand and never sleep.
//
// A monotonic clock stops while the machine is suspended; CLOCK_BOOTTIME does
// not. Keepalive logic compares the two to notice a resume.
#pragma once

#include <chrono>
#include <cstdint>

namespace webpush {

using Duration = std::chrono::milliseconds;

struct Instant {
  Duration mono{0};          ///< CLOCK_MONOTONIC: stops during suspend
  Duration boot{0};          ///< CLOCK_BOOTTIME: counts through suspend
  std::int64_t wall_ms = 0;  ///< CLOCK_REALTIME in ms since the epoch, for timestamps only

  friend Instant operator+(Instant i, Duration d) { return {i.mono + d, i.boot + d, i.wall_ms + d.count()}; }
};

/// Reads the three clocks. Interface so that tests can substitute a fake.
class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual Instant now() const = 0;
};

/// The real clocks (clock_gettime).
class SystemClock final : public Clock {
 public:
  [[nodiscard]] Instant now() const override;
};

/// A source of jitter in [0, 1). Injected so that tests can use a fixed value.
class Jitter {
 public:
  virtual ~Jitter() = default;
  virtual double next() = 0;
};

/// Uniform jitter from a seeded Mersenne Twister (not for secrets).
class RandomJitter final : public Jitter {
 public:
  RandomJitter();
  double next() override;

 private:
  std::uint64_t state_;
};

}  // namespace webpush
