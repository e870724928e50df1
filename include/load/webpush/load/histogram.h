// load::Histogram — a latency histogram with HdrHistogram's layout: values
// (microseconds) from 1 to a highest trackable value, kept to a number of
// significant decimal digits, in log-linear buckets; merging two is adding
// their counts. It encodes to and decodes from HdrHistogram's V2 form (and its
// zlib-compressed, base64 variant used in interval logs), so a histogram
// written here is read by HdrHistogram's own tools (Java, hdr-histogram-js) and
// the other way round: runs on several machines combine without a coordinator.
//
// Layout and encoding as HdrHistogram defines them (AbstractHistogram,
// AbstractHistogram.encodeIntoByteBuffer, ZigZagEncoding): counts index =
// (bucket + 1) · half-bucket-count + (sub-bucket − half-bucket-count); V2 header
// big-endian {cookie 0x1c849313, payload length, normalizing offset 0,
// significant digits, lowest value, highest value, conversion ratio 1.0}, then
// the counts up to the highest recorded one as ZigZag LEB128, a run of n > 1
// zeros written as −n. Compressed: {cookie 0x1c849314, length} + zlib(V2), which
// base64 makes the "HISTF…" of interval logs. Reading ignores the normalizing
// offset and the conversion ratio, as HdrHistogram's readers do for integer
// histograms (hdr-histogram-js writes 1 for both).
//
// Thread: not thread-safe; one per thread, merged afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"

namespace webpush::load {

enum class Errc {
  bad_range,     ///< lowest/highest/digits outside what the layout supports
  bad_encoding,  ///< an encoded histogram that cannot be read
  encrypt,       ///< a push could not be encrypted or signed
  setup,         ///< the run could not be set up (service, descriptors, threads)
  bad_log,       ///< an interval log line that cannot be read (or an interval that cannot be written)
  log_too_big,   ///< an interval log beyond the reader's limits (line length, intervals, memory)
  log_io,        ///< an interval log file that cannot be opened, read or written
};

std::string_view to_string(Errc e) noexcept;

class Histogram {
 public:
  /// 1 µs to 1 h with 3 significant digits: what every latency here uses.
  static Histogram latency();
  /// Errors: bad_range (lowest < 1, highest < 2 · lowest, digits outside 1..5,
  /// or a layout of more than 4 Mi counts).
  static Result<Histogram> create(std::int64_t lowest, std::int64_t highest, int digits);

  /// Counts `value` once (or `count` times). Values above the highest
  /// trackable one are clamped to it and counted in clamped().
  void record(std::int64_t value, std::int64_t count = 1) noexcept;
  /// Adds every count of `other`, value by value; values beyond this one's
  /// range are clamped (and counted in clamped()).
  void merge(const Histogram& other);
  void reset() noexcept;

  [[nodiscard]] std::int64_t total() const noexcept { return total_; }
  [[nodiscard]] std::int64_t clamped() const noexcept { return clamped_; }
  [[nodiscard]] std::int64_t min() const noexcept;
  [[nodiscard]] std::int64_t max() const noexcept;
  [[nodiscard]] double mean() const noexcept;
  /// The value at `percentile` (0–100): the highest value equivalent to the
  /// one where the running count reaches ceil(percentile/100 · total), as
  /// HdrHistogram reports it (the percentile one ulp lower first, so binary
  /// rounding never adds a rank: 99.9 % of 1,000 is rank 999); 0 when empty.
  [[nodiscard]] std::int64_t value_at_percentile(double percentile) const noexcept;
  /// Values this histogram cannot tell apart from `value` end here (inclusive).
  [[nodiscard]] std::int64_t highest_equivalent(std::int64_t value) const noexcept;

  [[nodiscard]] std::int64_t lowest_trackable() const noexcept { return lowest_; }
  [[nodiscard]] std::int64_t highest_trackable() const noexcept { return highest_; }
  [[nodiscard]] int significant_digits() const noexcept { return digits_; }

  /// The V2 encoding (uncompressed).
  [[nodiscard]] Bytes encode() const;
  /// The V2 compressed encoding, base64 (standard alphabet, padded): the last
  /// column of an interval log line.
  [[nodiscard]] std::string encode_compressed_base64() const;
  /// Errors: bad_encoding (wrong cookie, truncated, a count index outside the
  /// layout its own header describes, a negative total), bad_range.
  static Result<Histogram> decode(ByteView bytes);
  static Result<Histogram> decode_compressed_base64(std::string_view text);

 private:
  Histogram(std::int64_t lowest, std::int64_t highest, int digits);
  [[nodiscard]] std::size_t index_of(std::int64_t value) const noexcept;
  [[nodiscard]] std::int64_t value_at_index(std::size_t index) const noexcept;
  [[nodiscard]] std::int64_t lowest_equivalent(std::int64_t value) const noexcept;
  [[nodiscard]] std::int64_t equivalent_range(std::int64_t value) const noexcept;
  [[nodiscard]] int bucket_of(std::int64_t value) const noexcept;

  std::int64_t lowest_;
  std::int64_t highest_;
  int digits_;
  int unit_magnitude_ = 0;
  int sub_bucket_half_count_magnitude_ = 0;
  std::int64_t sub_bucket_count_ = 0;
  std::int64_t sub_bucket_half_count_ = 0;
  std::int64_t sub_bucket_mask_ = 0;
  int leading_zero_count_base_ = 0;
  std::vector<std::int64_t> counts_;
  std::int64_t total_ = 0;
  std::int64_t clamped_ = 0;
  std::int64_t min_ = INT64_MAX;
  std::int64_t max_ = 0;
};

}  // namespace webpush::load

WEBPUSH_ERROR_DOMAIN(webpush::load::Errc, webpush::Domain::load, webpush::load::to_string);
