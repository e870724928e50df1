// load::Ledger and what it rests on: the payload that carries a message's
// identity (round trip, layout, and every refusal), the open-loop Schedule
// (when message i is due, how many are due at a given time, exactly at the
// boundaries and for rates that do not divide a second), and the Ledger's
// bookkeeping (first arrival, duplicates, order per subscription, messages
// that reached the wrong subscription, and what counts as lost).
#include "webpush/load/ledger.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace webpush::load {
namespace ledger_test {

// ---- the payload ---------------------------------------------------------------------

TEST(Payload, RoundTripsTheIdentityAtEverySize) {
  const std::vector<MessageId> ids = {{0, 0}, {1, 2}, {123'456'789, 42}, {std::numeric_limits<std::int64_t>::max(), 7}};
  for (const std::size_t size : {kMinPayloadSize, std::size_t{21}, std::size_t{128}, std::size_t{4000}}) {
    for (const auto& id : ids) {
      const Bytes payload = encode_payload(id, size);
      ASSERT_EQ(payload.size(), size);
      const auto back = decode_payload(payload);
      ASSERT_TRUE(back.has_value()) << "seq " << id.seq << ", size " << size;
      EXPECT_EQ(back->seq, id.seq);
      EXPECT_EQ(back->subscription, id.subscription);
    }
  }
}

TEST(Payload, IsTheTagThenLittleEndianNumbersThenFiller) {
  const Bytes payload = encode_payload({0x0102030405060708, 0x1122}, 24);
  const Bytes expected = {'w',  'p',  'l',  't',                           // tag
                          0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // seq
                          0x22, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // subscription
                          '.',  '.',  '.',  '.'};                          // filler
  EXPECT_EQ(payload, expected);
}

TEST(Payload, ASizeBelowTheMinimumStillHoldsTheIdentity) {
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, kMinPayloadSize - 1}) {
    const Bytes payload = encode_payload({9, 3}, size);
    EXPECT_EQ(payload.size(), kMinPayloadSize) << size;
    const auto back = decode_payload(payload);
    ASSERT_TRUE(back.has_value()) << size;
    EXPECT_EQ(back->seq, 9);
    EXPECT_EQ(back->subscription, 3);
  }
}

struct RefusedRow {
  const char* desc;
  Bytes plaintext;
};

Bytes with_byte(Bytes b, std::size_t at, std::uint8_t value) {
  b.at(at) = value;
  return b;
}

Bytes truncated(Bytes b, std::size_t size) {
  b.resize(size);
  return b;
}

TEST(Payload, RefusesWhatIsNotALoadtestMessage) {
  const Bytes good = encode_payload({5, 1}, 64);
  const std::vector<RefusedRow> rows = {
      {"empty", {}},
      {"one byte short of the minimum", truncated(good, kMinPayloadSize - 1)},
      {"only the tag", truncated(good, 4)},
      {"wrong first tag byte", with_byte(good, 0, 'W')},
      {"wrong last tag byte", with_byte(good, 3, 'x')},
      {"a person's text", Bytes{'h', 'e', 'l', 'l', 'o', ',', ' ', 'w', 'o', 'r', 'l',
                                'd', ' ', 'o', 'f', ' ', 'p', 'u', 's', 'h', '!', '!'}},
      {"negative seq", encode_payload({-1, 1}, 32)},
      {"most negative seq", encode_payload({std::numeric_limits<std::int64_t>::min(), 1}, 32)},
      {"negative subscription", encode_payload({1, -1}, 32)},
      {"seq with only its sign bit flipped", with_byte(good, 11, 0x80)},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(decode_payload(row.plaintext), std::nullopt) << row.desc;
  }
  // The control: the unmodified message is accepted.
  ASSERT_TRUE(decode_payload(good).has_value());
}

// ---- the schedule --------------------------------------------------------------------

constexpr std::int64_t kStart = 5'000'000;

/// How many messages are due at `now`, by looking at each one's due time.
std::int64_t count_due_by_hand(const Schedule& s, std::int64_t now) {
  std::int64_t n = 0;
  while (s.due_us(n) <= now) ++n;
  return n;
}

TEST(Schedule, MessageIIsDueAtStartPlusIOverRate) {
  const Schedule s(kStart, 100);
  EXPECT_EQ(s.start_us(), kStart);
  EXPECT_EQ(s.due_us(0), kStart);
  EXPECT_EQ(s.due_us(1), kStart + 10'000);
  EXPECT_EQ(s.due_us(99), kStart + 990'000);
  EXPECT_EQ(s.due_us(100), kStart + 1'000'000);
  EXPECT_EQ(s.due_us(360'000), kStart + 3'600'000'000);
}

TEST(Schedule, AFractionalIntervalRoundsToTheNearestMicrosecond) {
  const Schedule three(kStart, 3);  // 333,333.3… µs apart
  EXPECT_EQ(three.due_us(1), kStart + 333'333);
  EXPECT_EQ(three.due_us(2), kStart + 666'667);
  EXPECT_EQ(three.due_us(3), kStart + 1'000'000);
  EXPECT_EQ(three.due_us(4), kStart + 1'333'333);

  const Schedule half(kStart, 0.5);  // one every two seconds
  EXPECT_EQ(half.due_us(1), kStart + 2'000'000);
  EXPECT_EQ(half.due_us(7), kStart + 14'000'000);
}

TEST(Schedule, NothingIsDueBeforeTheStartAndTheFirstIsDueAtIt) {
  const Schedule s(kStart, 100);
  EXPECT_EQ(s.due_count(0), 0);
  EXPECT_EQ(s.due_count(kStart - 1), 0);
  EXPECT_EQ(s.due_count(kStart), 1);
}

struct DueRow {
  double rate;
  std::int64_t after_start_us;
  std::int64_t due;
};

TEST(Schedule, DueCountAtAndAroundEachBoundary) {
  const std::vector<DueRow> rows = {
      // 100 msg/s: one every 10 ms.
      {100, 0, 1},
      {100, 9'999, 1},
      {100, 10'000, 2},
      {100, 10'001, 2},
      {100, 999'999, 100},
      {100, 1'000'000, 101},
      // 3 msg/s: due at +0, +333,333, +666,667, +1,000,000.
      {3, 333'332, 1},
      {3, 333'333, 2},
      {3, 666'666, 2},
      {3, 666'667, 3},
      {3, 999'999, 3},
      {3, 1'000'000, 4},
      // 0.5 msg/s: one every two seconds.
      {0.5, 1'999'999, 1},
      {0.5, 2'000'000, 2},
      // A rate above one a microsecond: several share a microsecond.
      {1e6, 0, 1},
      {1e6, 1, 2},
      {2.5e6, 0, 2},  // seq 0 and 1 (+0.4 rounds to +0)
      {2.5e6, 1, 4},  // and 2, 3 (+0.8, +1.2)
      {2.5e6, 2, 7},  // and 4, 5, 6 (+1.6, +2.0, +2.4)
  };
  for (const auto& row : rows) {
    const Schedule s(kStart, row.rate);
    EXPECT_EQ(s.due_count(kStart + row.after_start_us), row.due) << row.rate << " msg/s at +" << row.after_start_us;
  }
}

TEST(Schedule, DueCountAgreesWithDueUsEverywhere) {
  for (const double rate : {1.0, 3.0, 7.0, 100.0, 333.0, 1000.0, 0.3}) {
    const Schedule s(kStart, rate);
    for (std::int64_t seq = 0; seq < 50; ++seq) {
      const std::int64_t due = s.due_us(seq);
      // At its due time message seq is due, a microsecond before it is not.
      EXPECT_GE(s.due_count(due), seq + 1) << rate << " msg/s, seq " << seq;
      EXPECT_LE(s.due_count(due - 1), seq) << rate << " msg/s, seq " << seq;
      EXPECT_EQ(s.due_count(due), count_due_by_hand(s, due)) << rate << " msg/s, seq " << seq;
      EXPECT_EQ(s.due_count(due + 1), count_due_by_hand(s, due + 1)) << rate << " msg/s, seq " << seq;
    }
  }
}

TEST(Schedule, NoRateMeansNothingIsEverDue) {
  EXPECT_EQ(Schedule(kStart, 0).due_count(kStart + 1'000'000'000), 0);
  EXPECT_EQ(Schedule(kStart, -5).due_count(kStart + 1'000'000'000), 0);
}

// ---- the ledger ------------------------------------------------------------------------

TEST(Ledger, TheFirstArrivalIsKnownAndReportsWhenItWasPosted) {
  Ledger ledger(10, 2);
  EXPECT_EQ(ledger.messages(), 10);
  ledger.posted(3, 123'456);
  ledger.answered(3, true);

  const auto a = ledger.received({3, 1}, 1);
  EXPECT_TRUE(a.known);
  EXPECT_TRUE(a.first);
  EXPECT_FALSE(a.out_of_order);
  EXPECT_EQ(a.posted_us, 123'456);
  EXPECT_EQ(ledger.duplicated(), 0);
  EXPECT_EQ(ledger.out_of_order(), 0);
  EXPECT_EQ(ledger.outstanding(), 0);
}

TEST(Ledger, AnArrivalBeforeThePostWasRecordedHasNoPostTime) {
  Ledger ledger(4, 1);
  const auto a = ledger.received({2, 0}, 0);
  EXPECT_TRUE(a.known);
  EXPECT_TRUE(a.first);
  EXPECT_EQ(a.posted_us, 0);
}

TEST(Ledger, ASecondArrivalIsADuplicate) {
  Ledger ledger(4, 1);
  ledger.posted(1, 1000);
  ledger.answered(1, true);
  ASSERT_TRUE(ledger.received({1, 0}, 0).first);

  const auto again = ledger.received({1, 0}, 0);
  EXPECT_TRUE(again.known);
  EXPECT_FALSE(again.first);
  EXPECT_FALSE(again.out_of_order);  // a duplicate is not also out of order
  EXPECT_EQ(again.posted_us, 1000);
  EXPECT_EQ(ledger.duplicated(), 1);
  EXPECT_EQ(ledger.out_of_order(), 0);
  EXPECT_EQ(ledger.outstanding(), 0);
}

TEST(Ledger, EveryExtraArrivalCountsEvenPastTheSaturatedCounter) {
  Ledger ledger(1, 1);
  ASSERT_TRUE(ledger.received({0, 0}, 0).first);
  for (int i = 0; i < 299; ++i) EXPECT_FALSE(ledger.received({0, 0}, 0).first) << i;
  EXPECT_EQ(ledger.duplicated(), 299);
}

TEST(Ledger, AnEarlierMessageAfterALaterOneOfTheSameSubscriptionIsOutOfOrder) {
  Ledger ledger(10, 2);
  EXPECT_FALSE(ledger.received({2, 0}, 0).out_of_order);
  EXPECT_FALSE(ledger.received({6, 0}, 0).out_of_order);
  const auto late = ledger.received({4, 0}, 0);
  EXPECT_TRUE(late.known);
  EXPECT_TRUE(late.first);
  EXPECT_TRUE(late.out_of_order);
  EXPECT_EQ(ledger.out_of_order(), 1);
  // The highest seen stays 6: 5 is out of order too, 8 is not.
  EXPECT_TRUE(ledger.received({5, 0}, 0).out_of_order);
  EXPECT_FALSE(ledger.received({8, 0}, 0).out_of_order);
  EXPECT_EQ(ledger.out_of_order(), 2);
  EXPECT_EQ(ledger.duplicated(), 0);
}

TEST(Ledger, OrderIsPerSubscription) {
  Ledger ledger(10, 2);
  EXPECT_FALSE(ledger.received({7, 0}, 0).out_of_order);
  // Subscription 1 has seen nothing yet: its 3 is in order though 7 came first.
  EXPECT_FALSE(ledger.received({3, 1}, 1).out_of_order);
  EXPECT_FALSE(ledger.received({5, 1}, 1).out_of_order);
  EXPECT_EQ(ledger.out_of_order(), 0);
}

TEST(Ledger, AMessageForAnotherSubscriptionIsNotKnown) {
  Ledger ledger(10, 3);
  ledger.posted(4, 77);
  ledger.answered(4, true);

  const auto wrong = ledger.received({4, 2}, 1);  // sent to 2, arrived at 1
  EXPECT_FALSE(wrong.known);
  EXPECT_FALSE(wrong.first);
  EXPECT_EQ(ledger.duplicated(), 0);
  EXPECT_EQ(ledger.outstanding(), 1);  // still owed to subscription 2

  const auto right = ledger.received({4, 2}, 2);
  EXPECT_TRUE(right.known);
  EXPECT_TRUE(right.first);  // the stray copy did not count as its arrival
  EXPECT_EQ(right.posted_us, 77);
  EXPECT_EQ(ledger.outstanding(), 0);
}

TEST(Ledger, MessagesAndSubscriptionsOutsideTheRunAreNotKnown) {
  Ledger ledger(10, 2);
  EXPECT_FALSE(ledger.received({10, 0}, 0).known);  // one past the last message
  EXPECT_FALSE(ledger.received({1'000'000, 0}, 0).known);
  EXPECT_FALSE(ledger.received({1, 2}, 2).known);  // one past the last subscription
  EXPECT_EQ(ledger.duplicated(), 0);
  EXPECT_EQ(ledger.out_of_order(), 0);
  // The ledger's own range still works.
  EXPECT_TRUE(ledger.received({9, 1}, 1).known);
}

TEST(Ledger, OutstandingCountsOnlyAcceptedMessagesNotYetReceived) {
  Ledger ledger(6, 1);
  ledger.posted(0, 10);  // accepted and received
  ledger.answered(0, true);
  ledger.posted(1, 20);  // accepted, never received: lost
  ledger.answered(1, true);
  ledger.posted(2, 30);  // refused: the service never took it, so it is not lost
  ledger.answered(2, false);
  ledger.posted(3, 40);  // posted, no answer yet
  // 4: never posted.
  ledger.posted(5, 50);  // accepted, received before the sender saw the 2xx
  EXPECT_TRUE(ledger.received({5, 0}, 0).first);
  ledger.answered(5, true);
  EXPECT_TRUE(ledger.received({0, 0}, 0).first);

  EXPECT_EQ(ledger.outstanding(), 1);
  EXPECT_EQ(ledger.received({1, 0}, 0).posted_us, 20);
  EXPECT_EQ(ledger.outstanding(), 0);
}

TEST(Ledger, CallsForMessagesOutsideTheRunAreIgnored) {
  Ledger ledger(2, 1);
  ledger.posted(-1, 10);
  ledger.answered(-1, true);
  ledger.posted(2, 10);
  ledger.answered(2, true);
  EXPECT_EQ(ledger.outstanding(), 0);
  ledger.answered(1, true);
  EXPECT_EQ(ledger.outstanding(), 1);
}

TEST(Ledger, AnEmptyRunOwesNothing) {
  Ledger ledger(0, 0);
  EXPECT_EQ(ledger.messages(), 0);
  EXPECT_EQ(ledger.outstanding(), 0);
  EXPECT_FALSE(ledger.received({0, 0}, 0).known);
  Ledger negative(-3, -1);
  EXPECT_EQ(negative.messages(), 0);
  EXPECT_FALSE(negative.received({0, 0}, 0).known);
}

}  // namespace ledger_test
}  // namespace webpush::load
