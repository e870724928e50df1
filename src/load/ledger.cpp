#include "webpush/load/ledger.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace webpush::load {

namespace {

constexpr std::uint8_t kTag[4] = {'w', 'p', 'l', 't'};

void put_le(std::uint8_t* at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t get_le(const std::uint8_t* at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | at[i];
  return v;
}

}  // namespace

Bytes encode_payload(const MessageId& id, std::size_t size) {
  Bytes out(std::max(size, kMinPayloadSize), static_cast<std::uint8_t>('.'));
  std::memcpy(out.data(), kTag, sizeof kTag);
  put_le(out.data() + 4, static_cast<std::uint64_t>(id.seq));
  put_le(out.data() + 12, static_cast<std::uint64_t>(id.subscription));
  return out;
}

std::optional<MessageId> decode_payload(ByteView plaintext) {
  if (plaintext.size() < kMinPayloadSize || std::memcmp(plaintext.data(), kTag, sizeof kTag) != 0) return std::nullopt;
  MessageId id{static_cast<std::int64_t>(get_le(plaintext.data() + 4)),
               static_cast<std::int64_t>(get_le(plaintext.data() + 12))};
  if (id.seq < 0 || id.subscription < 0) return std::nullopt;
  return id;
}

std::int64_t Schedule::due_us(std::int64_t seq) const noexcept {
  return start_us_ + static_cast<std::int64_t>(std::llround(static_cast<double>(seq) * 1e6 / rate_));
}

std::int64_t Schedule::due_count(std::int64_t now_us) const noexcept {
  if (now_us < start_us_ || rate_ <= 0) return 0;
  // floor(elapsed · rate) + 1, corrected for rounding at the boundary.
  auto n = static_cast<std::int64_t>(std::floor(static_cast<double>(now_us - start_us_) * rate_ / 1e6)) + 1;
  while (n > 0 && due_us(n - 1) > now_us) --n;
  while (due_us(n) <= now_us) ++n;
  return n;
}

Ledger::Ledger(std::int64_t messages, std::int64_t subscriptions)
    : count_(std::max<std::int64_t>(messages, 0)),
      slots_(std::make_unique<Slot[]>(static_cast<std::size_t>(count_))),
      last_seq_(static_cast<std::size_t>(std::max<std::int64_t>(subscriptions, 0)), -1) {}

void Ledger::posted(std::int64_t seq, std::int64_t at_us) noexcept {
  if (seq < 0 || seq >= count_) return;
  slots_[seq].posted_us.store(at_us, std::memory_order_release);
  slots_[seq].state.store(in_flight, std::memory_order_release);
}

void Ledger::answered(std::int64_t seq, bool ok) noexcept {
  if (seq < 0 || seq >= count_) return;
  slots_[seq].state.store(ok ? accepted : refused, std::memory_order_release);
}

Ledger::Arrival Ledger::received(const MessageId& id, std::int64_t subscription) noexcept {
  Arrival a;
  if (id.seq < 0 || id.seq >= count_ || subscription < 0 || id.subscription != subscription ||
      subscription >= static_cast<std::int64_t>(last_seq_.size())) {
    return a;
  }
  Slot& slot = slots_[id.seq];
  a.known = true;
  a.posted_us = slot.posted_us.load(std::memory_order_acquire);
  a.first = slot.received == 0;
  if (slot.received < 255) ++slot.received;
  if (!a.first) {
    ++duplicated_;
    return a;
  }
  auto& last = last_seq_[static_cast<std::size_t>(subscription)];
  a.out_of_order = id.seq < last;
  if (a.out_of_order) ++out_of_order_;
  last = std::max(last, id.seq);
  return a;
}

std::int64_t Ledger::outstanding() const noexcept {
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < count_; ++i) {
    if (slots_[i].state.load(std::memory_order_acquire) == accepted && slots_[i].received == 0) ++n;
  }
  return n;
}

}  // namespace webpush::load
