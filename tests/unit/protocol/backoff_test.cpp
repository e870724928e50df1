#include "webpush/protocol/backoff.h"

#include <gtest/gtest.h>

#include "fake_clock.h"

namespace webpush::protocol {
namespace protocol_backoff_test {

using std::chrono::milliseconds;

TEST(Backoff, DoublesUpToTheCapWithoutJitter) {
  fakes::FixedJitter zero(0.0);
  Backoff b({.initial = milliseconds(1000), .multiplier = 2.0, .cap = milliseconds(10'000), .jitter = 0.2}, zero);
  const std::int64_t expected[] = {1000, 2000, 4000, 8000, 10'000, 10'000};
  for (const auto e : expected) EXPECT_EQ(b.next().count(), e);
  EXPECT_EQ(b.failures(), 6);
  b.reset();
  EXPECT_EQ(b.next().count(), 1000);
}

TEST(Backoff, JitterRemovesAFractionOfTheDelay) {
  fakes::FixedJitter half(0.5);
  Backoff b({.initial = milliseconds(1000), .multiplier = 2.0, .cap = milliseconds(300'000), .jitter = 0.2}, half);
  EXPECT_EQ(b.next().count(), 900);   // 1000 * (1 - 0.2 * 0.5)
  EXPECT_EQ(b.next().count(), 1800);  // 2000 * 0.9
}

TEST(Backoff, SurvivesManyFailuresWithoutOverflow) {
  fakes::FixedJitter zero;
  Backoff b({.initial = milliseconds(1000), .multiplier = 2.0, .cap = milliseconds(300'000)}, zero);
  Duration last{};
  for (int i = 0; i < 500; ++i) last = b.next();
  EXPECT_EQ(last.count(), 300'000);
}

}  // namespace protocol_backoff_test
}  // namespace webpush::protocol
