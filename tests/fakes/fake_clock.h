// Fakes for time: a clock moved by hand (with suspend), and fixed jitter.
#pragma once

#include "webpush/core/clock.h"

namespace webpush::fakes {

class FakeClock final : public Clock {
 public:
  [[nodiscard]] Instant now() const override { return now_; }
  /// Time passes while awake: both clocks move.
  void advance(Duration d) { now_ = now_ + d; }
  /// The machine sleeps: only the boot and wall clocks move.
  void suspend(Duration d) {
    now_.boot += d;
    now_.wall_ms += d.count();
  }

 private:
  Instant now_{Duration{1'000'000}, Duration{1'000'000}, 1'700'000'000'000};
};

class FixedJitter final : public Jitter {
 public:
  explicit FixedJitter(double value = 0.0) : value_(value) {}
  double next() override { return value_; }

 private:
  double value_;
};

}  // namespace webpush::fakes
