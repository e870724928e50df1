// Reconnect backoff: a small pure class.
//
//   delay(n) = min(cap, initial * multiplier^n) * (1 - jitter * u),  u in [0, 1)
//
// The jitter source is injected (zero-jitter in tests). What counts as a
// failure and when to reset is the Session's business: it resets only after a
// hello that lived longer than the reset window, so a service that accepts and
// drops at once cannot cause a tight reconnect loop.
#pragma once

#include "webpush/core/clock.h"

namespace webpush::protocol {

struct BackoffPolicy {
  Duration initial{1000};
  double multiplier = 2.0;
  Duration cap{5 * 60 * 1000};
  double jitter = 0.2;  ///< fraction of the delay removed at random, 0..1
};

class Backoff {
 public:
  /// `jitter` is borrowed and must outlive the Backoff.
  Backoff(const BackoffPolicy& policy, Jitter& jitter) : policy_(policy), jitter_(&jitter) {}

  /// The delay before the next attempt; counts one more failure.
  Duration next();
  /// Forgets past failures.
  void reset() noexcept { failures_ = 0; }
  [[nodiscard]] int failures() const noexcept { return failures_; }
  [[nodiscard]] const BackoffPolicy& policy() const noexcept { return policy_; }

 private:
  BackoffPolicy policy_;
  Jitter* jitter_;  // not owned
  int failures_ = 0;
};

}  // namespace webpush::protocol
