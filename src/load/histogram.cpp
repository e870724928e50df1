#include "webpush/load/histogram.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "webpush/core/base64url.h"

namespace webpush::load {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::bad_range: return "bad_range";
    case Errc::bad_encoding: return "bad_encoding";
    case Errc::encrypt: return "encrypt";
    case Errc::setup: return "setup";
    case Errc::bad_log: return "bad_log";
    case Errc::log_too_big: return "log_too_big";
    case Errc::log_io: return "log_io";
  }
  return "unknown";
}

namespace {

// The cookie bases; the 0xf0 nibble carries a word size, which writers set to
// 0x10 (HdrHistogram's getEncodingCookie) and readers mask off.
constexpr std::uint32_t kV2Cookie = 0x1c849303;
constexpr std::uint32_t kV2CompressedCookie = 0x1c849304;
constexpr std::uint32_t kWordSizeBits = 0xf0;
constexpr std::uint32_t kWrittenWordSize = 0x10;

bool is_cookie(std::uint64_t cookie, std::uint32_t base) { return (cookie & ~std::uint64_t{kWordSizeBits}) == base; }
constexpr std::size_t kV2HeaderSize = 40;
constexpr std::int64_t kOneHourMicros = 3'600'000'000;
// A histogram, decoded ones included, may describe any layout; this caps the
// memory one may claim: 4 Mi counts, 32 MiB.
constexpr std::size_t kMaxCounts = std::size_t{1} << 22;
constexpr std::size_t kMaxInflated = 64 << 20;

void put_be(Bytes& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint64_t get_be(ByteView in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | in[at + static_cast<std::size_t>(i)];
  return v;
}

// ZigZag LEB128 as HdrHistogram's ZigZagEncoding: 7 bits a byte for 8 bytes, the 9th takes 8.
void put_zigzag(Bytes& out, std::int64_t value) {
  auto v = (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
  for (int i = 0; i < 8; ++i) {
    if (v < 0x80) {
      out.push_back(static_cast<std::uint8_t>(v));
      return;
    }
    out.push_back(static_cast<std::uint8_t>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

/// Reads one value at `at`; false when the input ends inside it.
bool get_zigzag(ByteView in, std::size_t& at, std::int64_t& value) {
  std::uint64_t v = 0;
  for (int i = 0; i < 9; ++i) {
    if (at >= in.size()) return false;
    const std::uint64_t byte = in[at++];
    if (i == 8) {
      v |= byte << 56;
      break;
    }
    v |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) break;
  }
  value = static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
  return true;
}

Error bad(std::string what) { return Error(Errc::bad_encoding, "histogram: " + std::move(what)); }

std::string standard_base64(ByteView data) {
  std::string s = base64url_encode(data);
  for (auto& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  s.append((4 - s.size() % 4) % 4, '=');
  return s;
}

Result<Bytes> inflate_all(ByteView in) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return fail(Errc::bad_encoding, "histogram: zlib init failed");
  Bytes out;
  z.next_in = const_cast<Bytef*>(in.data());  // zlib's API is not const-correct; it only reads
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (out.size() >= kMaxInflated) break;
    const std::size_t old = out.size();
    out.resize(old + 64 * 1024);
    z.next_out = out.data() + old;
    z.avail_out = 64 * 1024;
    rc = inflate(&z, Z_NO_FLUSH);
    out.resize(old + (64 * 1024 - z.avail_out));
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return tl::unexpected(bad("the compressed payload is not a whole zlib stream"));
  return out;
}

}  // namespace

Histogram Histogram::latency() { return Histogram(1, kOneHourMicros, 3); }

namespace {

struct Layout {
  int unit_magnitude;
  int half_count_magnitude;
  std::size_t counts;
};

// HdrHistogram's sizing (AbstractHistogram's constructor and
// getBucketsNeededToCoverValue), done before anything is allocated; nullopt
// when the range cannot be represented in 64-bit values.
std::optional<Layout> layout_for(std::int64_t lowest, std::int64_t highest, int digits) {
  if (lowest < 1 || highest < 2 || lowest > highest / 2 || digits < 1 || digits > 5) return std::nullopt;
  const auto single_unit = 2 * static_cast<std::int64_t>(std::pow(10, digits));
  const int count_magnitude = static_cast<int>(std::ceil(std::log2(static_cast<double>(single_unit))));
  Layout layout{static_cast<int>(std::floor(std::log2(static_cast<double>(lowest)))), std::max(count_magnitude, 1) - 1,
                0};
  if (layout.unit_magnitude + layout.half_count_magnitude > 61) return std::nullopt;
  const std::int64_t sub_bucket_count = std::int64_t{1} << (layout.half_count_magnitude + 1);
  std::int64_t smallest_untrackable = sub_bucket_count << layout.unit_magnitude;
  std::size_t buckets = 1;
  while (smallest_untrackable <= highest) {
    ++buckets;
    if (smallest_untrackable > INT64_MAX / 2) break;
    smallest_untrackable <<= 1;
  }
  layout.counts = (buckets + 1) * static_cast<std::size_t>(sub_bucket_count / 2);
  return layout;
}

}  // namespace

Result<Histogram> Histogram::create(std::int64_t lowest, std::int64_t highest, int digits) {
  const auto layout = layout_for(lowest, highest, digits);
  if (!layout || layout->counts > kMaxCounts) {
    return fail(Errc::bad_range,
                fmt::format("histogram: cannot track {}..{} with {} significant digits", lowest, highest, digits));
  }
  return Histogram(lowest, highest, digits);
}

Histogram::Histogram(std::int64_t lowest, std::int64_t highest, int digits)
    : lowest_(lowest), highest_(highest), digits_(digits) {
  const Layout layout = *layout_for(lowest, highest, digits);
  sub_bucket_half_count_magnitude_ = layout.half_count_magnitude;
  unit_magnitude_ = layout.unit_magnitude;
  sub_bucket_count_ = std::int64_t{1} << (sub_bucket_half_count_magnitude_ + 1);
  sub_bucket_half_count_ = sub_bucket_count_ / 2;
  sub_bucket_mask_ = (sub_bucket_count_ - 1) << unit_magnitude_;
  leading_zero_count_base_ = 64 - unit_magnitude_ - sub_bucket_half_count_magnitude_ - 1;
  counts_.assign(layout.counts, 0);
}

int Histogram::bucket_of(std::int64_t value) const noexcept {
  return leading_zero_count_base_ - std::countl_zero(static_cast<std::uint64_t>(value | sub_bucket_mask_));
}

std::size_t Histogram::index_of(std::int64_t value) const noexcept {
  const int bucket = bucket_of(value);
  const std::int64_t sub = value >> (bucket + unit_magnitude_);
  const std::int64_t base = static_cast<std::int64_t>(bucket + 1) << sub_bucket_half_count_magnitude_;
  return static_cast<std::size_t>(base + (sub - sub_bucket_half_count_));
}

std::int64_t Histogram::value_at_index(std::size_t index) const noexcept {
  int bucket = static_cast<int>(index >> sub_bucket_half_count_magnitude_) - 1;
  std::int64_t sub =
      static_cast<std::int64_t>(index & static_cast<std::size_t>(sub_bucket_half_count_ - 1)) + sub_bucket_half_count_;
  if (bucket < 0) {
    sub -= sub_bucket_half_count_;
    bucket = 0;
  }
  return sub << (bucket + unit_magnitude_);
}

std::int64_t Histogram::equivalent_range(std::int64_t value) const noexcept {
  const int bucket = bucket_of(value);
  const std::int64_t sub = value >> (bucket + unit_magnitude_);
  return std::int64_t{1} << (unit_magnitude_ + (sub >= sub_bucket_count_ ? bucket + 1 : bucket));
}

std::int64_t Histogram::lowest_equivalent(std::int64_t value) const noexcept {
  const int bucket = bucket_of(value);
  const std::int64_t sub = value >> (bucket + unit_magnitude_);
  return sub << (bucket + unit_magnitude_);
}

std::int64_t Histogram::highest_equivalent(std::int64_t value) const noexcept {
  return lowest_equivalent(value) + equivalent_range(value) - 1;
}

void Histogram::record(std::int64_t value, std::int64_t count) noexcept {
  // Saturating: no count passes INT64_MAX, so neither can one slot.
  count = std::min(count, INT64_MAX - total_);
  if (count <= 0) return;
  value = std::max<std::int64_t>(value, 0);
  if (value > highest_) {
    value = highest_;
    clamped_ += count;
  }
  counts_[std::min(index_of(value), counts_.size() - 1)] += count;
  total_ += count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& other) {
  for (std::size_t i = 0; i < other.counts_.size(); ++i) {
    if (other.counts_[i] != 0) record(other.value_at_index(i), other.counts_[i]);
  }
  clamped_ += std::min(other.clamped_, total_ - clamped_);
}

void Histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = clamped_ = max_ = 0;
  min_ = INT64_MAX;
}

std::int64_t Histogram::min() const noexcept { return total_ == 0 ? 0 : lowest_equivalent(min_); }

std::int64_t Histogram::max() const noexcept { return total_ == 0 ? 0 : highest_equivalent(max_); }

double Histogram::mean() const noexcept {
  if (total_ == 0) return 0;
  double sum = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    const std::int64_t v = value_at_index(i);
    sum += static_cast<double>(counts_[i]) * static_cast<double>(lowest_equivalent(v) + highest_equivalent(v)) / 2;
  }
  return sum / static_cast<double>(total_);
}

std::int64_t Histogram::value_at_percentile(double percentile) const noexcept {
  if (total_ == 0) return 0;
  const double p = std::isnan(percentile) ? 0.0 : percentile;
  // As AbstractHistogram.getValueAtPercentile: one ulp is taken off the
  // percentile before the rank is rounded up, or 99.9 % of 1,000 (0.999 is not
  // exact in binary) would round 999.0000000000001 up to rank 1,000. The rank is
  // computed in double; near INT64_MAX it is not representable, so the top of
  // the range is the total itself.
  const double below = std::clamp(std::nextafter(p, -HUGE_VAL), 0.0, 100.0);
  // 100 % is the total itself: with totals beyond 2^52 the ulp taken off would
  // cost whole ranks (HdrHistogram's arithmetic then misses the max).
  const double rank = p >= 100.0 ? static_cast<double>(total_) : std::ceil(below * static_cast<double>(total_) / 100.0);
  const std::int64_t wanted =
      rank >= static_cast<double>(total_) ? total_ : std::max<std::int64_t>(1, static_cast<std::int64_t>(rank));
  std::int64_t running = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i];
    if (running >= wanted) {
      const std::int64_t v = value_at_index(i);
      return percentile == 0.0 ? lowest_equivalent(v) : highest_equivalent(v);
    }
  }
  return max();
}

Bytes Histogram::encode() const {
  Bytes payload;
  const std::size_t limit = total_ == 0 ? 0 : index_of(max_) + 1;
  for (std::size_t i = 0; i < limit;) {
    const std::int64_t count = counts_[i++];
    if (count != 0) {
      put_zigzag(payload, count);
      continue;
    }
    std::int64_t zeros = 1;
    while (i < limit && counts_[i] == 0) {
      ++zeros;
      ++i;
    }
    put_zigzag(payload, zeros > 1 ? -zeros : 0);
  }
  Bytes out;
  out.reserve(kV2HeaderSize + payload.size());
  put_be(out, kV2Cookie | kWrittenWordSize, 4);
  put_be(out, payload.size(), 4);
  put_be(out, 0, 4);  // normalizing index offset
  put_be(out, static_cast<std::uint64_t>(digits_), 4);
  put_be(out, static_cast<std::uint64_t>(lowest_), 8);
  put_be(out, static_cast<std::uint64_t>(highest_), 8);
  double ratio = 1.0;
  std::uint64_t ratio_bits = 0;
  std::memcpy(&ratio_bits, &ratio, sizeof ratio);
  put_be(out, ratio_bits, 8);
  append(out, payload);
  return out;
}

std::string Histogram::encode_compressed_base64() const {
  const Bytes plain = encode();
  uLongf size = compressBound(static_cast<uLong>(plain.size()));
  Bytes packed(size);
  // Level 9 as HdrHistogram's Deflater(BEST_COMPRESSION); compress2 cannot fail with a big enough buffer.
  compress2(packed.data(), &size, plain.data(), static_cast<uLong>(plain.size()), Z_BEST_COMPRESSION);
  packed.resize(size);
  Bytes out;
  put_be(out, kV2CompressedCookie | kWrittenWordSize, 4);
  put_be(out, packed.size(), 4);
  append(out, packed);
  return standard_base64(out);
}

Result<Histogram> Histogram::decode(ByteView in) {
  if (in.size() < kV2HeaderSize) return tl::unexpected(bad("shorter than a V2 header"));
  if (!is_cookie(get_be(in, 0, 4), kV2Cookie)) return tl::unexpected(bad("not a V2 encoding (cookie)"));
  const auto length = get_be(in, 4, 4);
  if (length > in.size() - kV2HeaderSize) return tl::unexpected(bad("payload longer than the input"));
  // Bytes 8..11, the normalizing index offset, are skipped as HdrHistogram's
  // readers skip them: it only rotates where Java stores counts, the payload is
  // in value order whatever it says, and hdr-histogram-js always writes 1.
  auto h = create(static_cast<std::int64_t>(get_be(in, 16, 8)), static_cast<std::int64_t>(get_be(in, 24, 8)),
                  static_cast<int>(get_be(in, 12, 4)));
  if (!h) return h;
  const ByteView payload = in.subspan(kV2HeaderSize, length);
  std::size_t at = 0;
  std::size_t index = 0;
  while (at < payload.size()) {
    std::int64_t v = 0;
    if (!get_zigzag(payload, at, v)) return tl::unexpected(bad("payload ends inside a count"));
    if (v < 0) {
      if (v == INT64_MIN || static_cast<std::uint64_t>(-v) > h->counts_.size() - index) {
        return tl::unexpected(bad("a run of zeros beyond the layout"));
      }
      index += static_cast<std::size_t>(-v);
      continue;
    }
    if (index >= h->counts_.size()) return tl::unexpected(bad("more counts than the layout holds"));
    if (v > INT64_MAX - h->total_) return tl::unexpected(bad("total count overflows"));
    if (v > 0) h->record(h->value_at_index(index), v);
    ++index;
  }
  return h;
}

Result<Histogram> Histogram::decode_compressed_base64(std::string_view text) {
  auto raw = base64_any_decode(text);
  if (!raw) return tl::unexpected(bad("not base64: " + raw.error().message()));
  if (raw->size() < 8 || !is_cookie(get_be(*raw, 0, 4), kV2CompressedCookie)) {
    return tl::unexpected(bad("not a V2 compressed encoding (cookie)"));
  }
  if (get_be(*raw, 4, 4) > raw->size() - 8) return tl::unexpected(bad("compressed length longer than the input"));
  auto plain = inflate_all(ByteView(*raw).subspan(8, get_be(*raw, 4, 4)));
  if (!plain) return tl::unexpected(plain.error());
  return decode(*plain);
}

}  // namespace webpush::load
