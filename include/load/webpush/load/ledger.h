// The Ledger: every message of a run by sequence number — when it was due on
// the open-loop schedule, when it was posted, how the service answered, how
// often it arrived — and the counts that follow from it (lost, duplicated,
// out of order). The message carries its own identity: its plaintext starts
// with a tag, the sequence number and the subscription it was sent to.
//
// Thread: the sender thread calls posted()/answered(), the loop thread
// received() and the queries; the shared per-message state is atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "webpush/core/bytes.h"

namespace webpush::load {

/// What a loadtest message says about itself.
struct MessageId {
  std::int64_t seq = 0;
  std::int64_t subscription = 0;
};

/// The smallest payload that holds a MessageId.
inline constexpr std::size_t kMinPayloadSize = 20;

/// `size` bytes (at least kMinPayloadSize): the tag "wplt", seq and subscription
/// (8 bytes each, little-endian), then filler.
Bytes encode_payload(const MessageId& id, std::size_t size);
/// nullopt when `plaintext` is not a loadtest message.
std::optional<MessageId> decode_payload(ByteView plaintext);

/// The open-loop schedule: message `seq` is due at start + seq / rate.
class Schedule {
 public:
  Schedule(std::int64_t start_us, double rate) : start_us_(start_us), rate_(rate) {}
  [[nodiscard]] std::int64_t due_us(std::int64_t seq) const noexcept;
  /// How many messages are due at `now_us` (all those with due_us <= now_us).
  [[nodiscard]] std::int64_t due_count(std::int64_t now_us) const noexcept;
  [[nodiscard]] std::int64_t start_us() const noexcept { return start_us_; }

 private:
  std::int64_t start_us_;
  double rate_;
};

class Ledger {
 public:
  /// `messages`: how many the run sends; `subscriptions`: how many it sends to.
  Ledger(std::int64_t messages, std::int64_t subscriptions);

  // ---- sender thread ----------------------------------------------------------------
  void posted(std::int64_t seq, std::int64_t at_us) noexcept;
  void answered(std::int64_t seq, bool accepted) noexcept;

  // ---- loop thread ------------------------------------------------------------------
  struct Arrival {
    bool known = false;          ///< a message of this run, sent to this subscription
    bool first = false;          ///< not received before (else a duplicate)
    bool out_of_order = false;   ///< a later message of its subscription came first
    std::int64_t posted_us = 0;  ///< 0: the sender had not recorded the POST yet
  };
  Arrival received(const MessageId& id, std::int64_t subscription) noexcept;

  [[nodiscard]] std::int64_t messages() const noexcept { return count_; }
  /// Accepted (2xx) and not received yet: at the end of the drain, the lost ones.
  [[nodiscard]] std::int64_t outstanding() const noexcept;
  [[nodiscard]] std::int64_t duplicated() const noexcept { return duplicated_; }
  [[nodiscard]] std::int64_t out_of_order() const noexcept { return out_of_order_; }

 private:
  enum State : std::uint8_t { unsent = 0, in_flight = 1, accepted = 2, refused = 3 };
  struct Slot {
    std::atomic<std::int64_t> posted_us{0};
    std::atomic<std::uint8_t> state{unsent};
    std::uint8_t received = 0;  // loop thread only; saturates at 255
  };
  std::int64_t count_;
  std::unique_ptr<Slot[]> slots_;       // atomics: not movable, so not a vector
  std::vector<std::int64_t> last_seq_;  // per subscription, loop thread only; -1: none yet
  std::int64_t duplicated_ = 0;
  std::int64_t out_of_order_ = 0;
};

}  // namespace webpush::load
