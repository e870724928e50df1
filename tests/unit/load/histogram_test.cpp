// load::Histogram: HdrHistogram's layout (exact below 2,048 with three digits,
// then buckets whose width doubles), percentiles as HdrHistogram reports them,
// merging, clamping, and the V2 encodings read back — including inputs that
// are not histograms at all.
#include "webpush/load/histogram.h"

#include <gtest/gtest.h>

#include <random>

namespace webpush::load {
namespace histogram_test {

TEST(Histogram, ValuesBelowTwiceTenToTheDigitsAreExact) {
  auto h = Histogram::latency();
  for (int v = 1; v <= 1000; ++v) h.record(v);
  EXPECT_EQ(h.total(), 1000);
  EXPECT_EQ(h.min(), 1);
  EXPECT_EQ(h.max(), 1000);
  EXPECT_EQ(h.value_at_percentile(50), 500);
  EXPECT_EQ(h.value_at_percentile(99), 990);
  EXPECT_EQ(h.value_at_percentile(75), 750);
  EXPECT_EQ(h.value_at_percentile(100), 1000);
  EXPECT_DOUBLE_EQ(h.mean(), 500.5);
}

TEST(Histogram, AboveThatEachBucketDoublesTheWidthOfWhatItCannotTellApart) {
  auto h = Histogram::latency();
  EXPECT_EQ(h.highest_equivalent(2047), 2047);
  EXPECT_EQ(h.highest_equivalent(2048), 2049);
  EXPECT_EQ(h.highest_equivalent(2049), 2049);
  EXPECT_EQ(h.highest_equivalent(4096), 4099);
  EXPECT_EQ(h.highest_equivalent(1'000'000), 1'000'447);
}

TEST(Histogram, KeepsThreeSignificantDigitsUpToAnHour) {
  auto h = Histogram::latency();
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> value(1, 3'600'000'000);
  for (int i = 0; i < 10'000; ++i) {
    const std::int64_t v = value(rng);
    const std::int64_t seen = h.highest_equivalent(v);
    ASSERT_GE(seen, v);
    ASSERT_LE(static_cast<double>(seen - v), static_cast<double>(v) / 1000.0) << v;
  }
}

TEST(Histogram, PercentilesFollowTheCountAtCeilOfTheRank) {
  auto h = Histogram::latency();
  h.record(10, 99);
  h.record(5000, 1);
  EXPECT_EQ(h.value_at_percentile(99), 10);
  EXPECT_EQ(h.value_at_percentile(99.5), h.highest_equivalent(5000));
  EXPECT_EQ(h.value_at_percentile(0), 10);
  auto empty = Histogram::latency();
  EXPECT_EQ(empty.value_at_percentile(99), 0);
  EXPECT_EQ(empty.max(), 0);
}

TEST(Histogram, ValuesBeyondTheRangeAreClampedAndCounted) {
  auto h = Histogram::latency();
  h.record(7'200'000'000);
  h.record(-5);
  EXPECT_EQ(h.total(), 2);
  EXPECT_EQ(h.clamped(), 1);
  EXPECT_EQ(h.max(), h.highest_equivalent(3'600'000'000));
  EXPECT_EQ(h.min(), 0);
}

TEST(Histogram, MergingIsRecordingEverythingInOne) {
  auto a = Histogram::latency();
  auto b = Histogram::latency();
  auto both = Histogram::latency();
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> latency(7.0, 1.5);
  for (int i = 0; i < 20'000; ++i) {
    const auto v = static_cast<std::int64_t>(latency(rng));
    (i % 3 == 0 ? a : b).record(v);
    both.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.total(), both.total());
  for (double p : {0.0, 50.0, 90.0, 99.0, 99.9, 100.0})
    EXPECT_EQ(a.value_at_percentile(p), both.value_at_percentile(p));
}

TEST(Histogram, CreateRefusesLayoutsItCannotHold) {
  EXPECT_TRUE(Histogram::create(0, 100, 3).error().is(Errc::bad_range));
  EXPECT_TRUE(Histogram::create(10, 15, 3).error().is(Errc::bad_range));
  EXPECT_TRUE(Histogram::create(1, 100, 6).error().is(Errc::bad_range));
  EXPECT_TRUE(Histogram::create(1, 1000, 2));
  // Ranges whose arithmetic would leave 64 bits, and layouts too large to hold.
  EXPECT_TRUE(Histogram::create(INT64_MAX / 2 + 1, INT64_MAX, 3).error().is(Errc::bad_range));
  EXPECT_TRUE(Histogram::create(std::int64_t{1} << 55, INT64_MAX, 5).error().is(Errc::bad_range));
  EXPECT_TRUE(Histogram::create(1, INT64_MAX, 5).error().is(Errc::bad_range));
  EXPECT_TRUE(Histogram::create(1, INT64_MAX, 3));
}

TEST(Histogram, CountsSaturateInsteadOfOverflowing) {
  auto h = Histogram::latency();
  h.record(5, INT64_MAX - 1);
  h.record(7, 10);
  EXPECT_EQ(h.total(), INT64_MAX);
  EXPECT_EQ(h.value_at_percentile(100), 7);
  auto other = Histogram::latency();
  other.record(9, 100);
  h.merge(other);
  EXPECT_EQ(h.total(), INT64_MAX);
}

Histogram sample() {
  auto h = Histogram::latency();
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> latency(6.0, 2.0);
  for (int i = 0; i < 5'000; ++i) h.record(static_cast<std::int64_t>(latency(rng)));
  h.record(3'000'000'000);
  return h;
}

void expect_same(const Histogram& a, const Histogram& b) {
  EXPECT_EQ(a.total(), b.total());
  EXPECT_EQ(a.max(), b.max());
  EXPECT_EQ(a.min(), b.min());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99})
    EXPECT_EQ(a.value_at_percentile(p), b.value_at_percentile(p)) << p;
}

TEST(Histogram, TheV2EncodingReadsBack) {
  const auto h = sample();
  const Bytes bytes = h.encode();
  // The header as HdrHistogram writes it: cookie base 0x1c849303 with word size 0x10.
  ASSERT_GE(bytes.size(), 40u);
  EXPECT_EQ(to_hex(ByteView(bytes).first(4)), "1c849313");
  auto back = Histogram::decode(bytes);
  ASSERT_TRUE(back) << back.error();
  expect_same(h, *back);
  EXPECT_EQ(back->significant_digits(), 3);
  EXPECT_EQ(back->highest_trackable(), 3'600'000'000);
}

TEST(Histogram, TheCompressedBase64EncodingReadsBack) {
  const auto h = sample();
  const std::string text = h.encode_compressed_base64();
  EXPECT_EQ(text.substr(0, 5), "HISTF") << "the prefix every interval log line's histogram has";
  auto back = Histogram::decode_compressed_base64(text);
  ASSERT_TRUE(back) << back.error();
  expect_same(h, *back);
  auto empty = Histogram::decode_compressed_base64(Histogram::latency().encode_compressed_base64());
  ASSERT_TRUE(empty) << empty.error();
  EXPECT_EQ(empty->total(), 0);
}

TEST(Histogram, DecodeRefusesWhatIsNotAHistogram) {
  const Bytes good = sample().encode();
  EXPECT_TRUE(Histogram::decode(ByteView(good).first(39)).error().is(Errc::bad_encoding));
  EXPECT_TRUE(Histogram::decode(ByteView(good).first(good.size() - 1)).error().is(Errc::bad_encoding));
  Bytes wrong_cookie = good;
  wrong_cookie[3] = 0x07;
  EXPECT_TRUE(Histogram::decode(wrong_cookie).error().is(Errc::bad_encoding));
  // A run of zeros longer than the layout: -(2^40) as ZigZag LEB128.
  Bytes zeros(good.begin(), good.begin() + 40);
  const Bytes run = {0xff, 0xff, 0xff, 0xff, 0xff, 0x3f};
  zeros[7] = static_cast<std::uint8_t>(run.size());
  zeros[4] = zeros[5] = zeros[6] = 0;
  append(zeros, run);
  EXPECT_TRUE(Histogram::decode(zeros).error().is(Errc::bad_encoding));
  EXPECT_FALSE(Histogram::decode_compressed_base64("not base64!"));
  EXPECT_FALSE(Histogram::decode_compressed_base64("HISTFAAAAAA="));
}

}  // namespace histogram_test
}  // namespace webpush::load
