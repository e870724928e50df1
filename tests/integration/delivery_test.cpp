// Storage and delivery (docs/protocol.md §1.10, §5.3): stored messages flushed in
// batches that wait for acks, redelivery of what was not acked, topic
// replacement, TTL 0, TTL expiry and the stored-message limit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "fixture.h"

namespace webpush::testing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class Delivery : public ServiceTest {
 protected:
  std::vector<std::string> post_n(const std::string& endpoint, int n, int ttl = 600) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      const auto r = push(endpoint, ttl);
      if (r.status != 201) throw SupportError("POST: " + r.body);
      ids.push_back(message_id(r));
    }
    return ids;
  }

  static std::vector<std::string> versions(const std::vector<protocol::Notification>& ns) {
    std::vector<std::string> out;
    for (const auto& n : ns) out.push_back(n.version);
    return out;
  }

  static void ack_all(PushClient& ua, const std::vector<protocol::Notification>& ns) {
    for (const auto& n : ns) ua.ack(n.channel_id, n.version);
  }
};

TEST_F(Delivery, StoredMessagesArriveInOrderAfterHello) {
  auto s = offline_subscriber();
  const auto ids = post_n(s.endpoint, 3);
  EXPECT_EQ(stats()["messages_stored"], 3);

  auto ua = connect();
  ASSERT_EQ(ua.hello(s.uaid), s.uaid);
  const auto got = ua.barrier();
  EXPECT_THAT(versions(got), ElementsAreArray(ids));
  for (const auto& n : got) EXPECT_EQ(n.channel_id, s.channel_id);
}

TEST_F(Delivery, FlushSendsBatchesOfTenAndWaitsForEveryAck) {
  auto s = offline_subscriber();
  const auto ids = post_n(s.endpoint, 25);

  auto ua = connect();
  ua.hello(s.uaid);
  auto batch1 = ua.barrier();
  ASSERT_THAT(batch1, SizeIs(10));
  EXPECT_THAT(versions(batch1), ElementsAreArray(ids.begin(), ids.begin() + 10));

  // Nine acks (one with an error code, which counts as well): still nothing new.
  ack_all(ua, std::vector<protocol::Notification>(batch1.begin(), batch1.begin() + 9));
  ua.ack(s.channel_id, "unknown-version");
  EXPECT_THAT(ua.barrier(), IsEmpty());

  ua.ack(batch1[9].channel_id, batch1[9].version, 101);
  auto batch2 = ua.barrier();
  ASSERT_THAT(batch2, SizeIs(10));
  EXPECT_THAT(versions(batch2), ElementsAreArray(ids.begin() + 10, ids.begin() + 20));

  ack_all(ua, batch2);
  auto batch3 = ua.barrier();
  ASSERT_THAT(batch3, SizeIs(5));
  EXPECT_THAT(versions(batch3), ElementsAreArray(ids.begin() + 20, ids.end()));
  ack_all(ua, batch3);
  EXPECT_THAT(ua.barrier(), IsEmpty());
  EXPECT_EQ(stats()["messages_acked"], 25);
  EXPECT_EQ(stats()["store"]["messages"], 0);
}

TEST_F(Delivery, LiveMessagesDoNotWaitForTheFlush) {
  auto s = offline_subscriber();
  post_n(s.endpoint, 12);
  auto ua = connect();
  ua.hello(s.uaid);
  ASSERT_THAT(ua.barrier(), SizeIs(10));
  // A message posted now is sent at once, though the batch is not acked.
  const auto live = push(s.endpoint);
  const auto n = ua.recv_notification();
  EXPECT_EQ(n.version, message_id(live));
}

TEST_F(Delivery, UnackedStoredMessagesAreRedeliveredOnReconnect) {
  auto s = offline_subscriber();
  const auto ids = post_n(s.endpoint, 2);
  for (int round = 0; round < 2; ++round) {
    auto ua = connect();
    ua.hello(s.uaid);
    EXPECT_THAT(versions(ua.barrier()), ElementsAreArray(ids)) << "round " << round;
  }
  auto ua = connect();
  ua.hello(s.uaid);
  auto got = ua.barrier();
  ack_all(ua, got);
  ua.barrier();
  auto last = connect();
  last.hello(s.uaid);
  EXPECT_THAT(last.barrier(), IsEmpty());
}

TEST_F(Delivery, UnackedLiveMessagesAreRedeliveredOnReconnect) {
  auto s = subscribe();
  const auto r = push(s.endpoint, 600);
  const auto n = s.ua.recv_notification();
  EXPECT_EQ(n.version, message_id(r));
  s.ua.ws().send_close();  // gone without acking

  auto ua = connect();
  ua.hello(s.uaid);
  EXPECT_THAT(versions(ua.barrier()), ElementsAreArray({n.version}));
}

TEST_F(Delivery, AcksAreConnectionScoped) {
  auto s = offline_subscriber();
  const auto ids = post_n(s.endpoint, 11);
  auto ua = connect();
  ua.hello(s.uaid);
  const auto batch = ua.barrier();
  ASSERT_THAT(batch, SizeIs(10));
  // The 11th message exists, but this connection was not sent it: its ack is ignored.
  ua.ack(s.channel_id, ids[10]);
  ack_all(ua, batch);
  EXPECT_THAT(versions(ua.barrier()), ElementsAreArray({ids[10]}));
}

TEST_F(Delivery, AckWithABadChannelIdCloses) {
  auto s = subscribe();
  s.ua.ws().send_text(R"({"messageType":"ack","updates":[{"channelID":"nope","version":"x"}]})");
  EXPECT_EQ(s.ua.ws().wait_close(), 1011);
}

TEST_F(Delivery, TopicMessageReplacesTheStoredOneAndComesFirst) {
  auto s = offline_subscriber();
  const auto plain = post_n(s.endpoint, 1);
  const auto first = push(s.endpoint, 600, {{"Topic", "weather"}});
  const auto second = push(s.endpoint, 600, {{"Topic", "weather"}});
  const auto other = push(s.endpoint, 600, {{"Topic", "news"}});
  ASSERT_EQ(second.status, 201);
  EXPECT_NE(message_id(first), message_id(second));
  EXPECT_EQ(stats()["messages_replaced"], 1);

  // The replaced message can no longer be cancelled: it is gone.
  auto ua = connect();
  ua.hello(s.uaid);
  const auto got = versions(ua.barrier());
  EXPECT_THAT(got, ElementsAreArray({message_id(second), message_id(other), plain[0]}));
}

TEST_F(Delivery, TopicsDoNotAffectAConnectedUserAgent) {
  auto s = subscribe();
  const auto a = push(s.endpoint, 600, {{"Topic", "t"}});
  const auto b = push(s.endpoint, 600, {{"Topic", "t"}});
  EXPECT_EQ(s.ua.recv_notification().version, message_id(a));
  EXPECT_EQ(s.ua.recv_notification().version, message_id(b));
}

TEST_F(Delivery, TtlZeroIsDeliveredOnlyToAConnectedUserAgent) {
  auto s = subscribe();
  const auto live = push(s.endpoint, 0);
  ASSERT_EQ(live.status, 201);
  EXPECT_EQ(live.header("ttl"), "0");
  const auto n = s.ua.recv_notification();
  EXPECT_EQ(n.version, message_id(live));
  s.ua.ws().send_close();  // not acked: TTL 0 is not kept for later
  s.ua.ws().wait_close();
  wait_disconnected();

  const auto offline = push(s.endpoint, 0);
  EXPECT_EQ(offline.status, 201) << "dropped, but answered 201 as autopush does";
  EXPECT_EQ(stats()["messages_dropped"], 1);

  auto ua = connect();
  ua.hello(s.uaid);
  EXPECT_THAT(ua.barrier(), IsEmpty());
  EXPECT_EQ(stats()["store"]["messages"], 0);
}

TEST_F(Delivery, ExpiredMessagesAreNeverDelivered) {
  start({"--purge-interval", "0.2"});
  auto s = offline_subscriber();
  const auto keep = post_n(s.endpoint, 1, 600);
  post_n(s.endpoint, 2, 1);
  // The one wait this test needs: the 1 s TTL, counted from after the last answer.
  std::this_thread::sleep_until(Clock::now() + Millis(1050));

  auto ua = connect();
  ua.hello(s.uaid);
  EXPECT_THAT(versions(ua.barrier()), ElementsAreArray(keep));
  EXPECT_EQ(stats()["messages_expired"], 2);
  EXPECT_EQ(stats()["store"]["messages"], 1);
}

TEST_F(Delivery, PeriodicPurgeDeletesExpiredMessages) {
  start({"--purge-interval", "0.1"});
  auto s = offline_subscriber();
  post_n(s.endpoint, 3, 1);
  const auto deadline = Clock::now() + Millis(5000);
  while (stats()["messages_expired"] != 3) {
    ASSERT_LT(Clock::now(), deadline) << "expired messages were not purged";
    std::this_thread::sleep_for(Millis(50));
  }
  EXPECT_EQ(stats()["store"]["messages"], 0);
}

TEST_F(Delivery, TooManyStoredMessagesResetTheUaid) {
  start({"--msg-limit", "5"});
  auto s = offline_subscriber();
  post_n(s.endpoint, 8);

  auto ua = connect();
  ASSERT_EQ(ua.hello(s.uaid), s.uaid);
  // ARS counts the batch before sending it: past the limit nothing is sent.
  EXPECT_EQ(ua.ws().wait_close(), 1000);
  EXPECT_EQ(stats()["uaid_resets"], 1);

  auto again = connect();
  EXPECT_NE(again.hello(s.uaid), s.uaid) << "the uaid was dropped";
  expect_error(push(s.endpoint), 410, 106);
}

TEST_F(Delivery, StoredMessageLimitCountsAcrossBatches) {
  start({"--msg-limit", "12"});
  auto s = offline_subscriber();
  post_n(s.endpoint, 15);
  auto ua = connect();
  ua.hello(s.uaid);
  const auto batch = ua.barrier();
  ASSERT_THAT(batch, SizeIs(10));
  ack_all(ua, batch);
  EXPECT_EQ(ua.ws().wait_close(), 1000);

  // Exactly at the limit is fine.
  auto t = offline_subscriber();
  post_n(t.endpoint, 12);
  auto ub = connect();
  ub.hello(t.uaid);
  auto b1 = ub.barrier();
  ack_all(ub, b1);
  auto b2 = ub.barrier();
  EXPECT_THAT(b2, SizeIs(2));
  ack_all(ub, b2);
  EXPECT_THAT(ub.barrier(), IsEmpty());
}

TEST_F(Delivery, ChannelsOfOneUserAgentShareTheFlush) {
  auto ua = connect();
  const std::string uaid = ua.hello();
  const std::string c1 = new_channel_id();
  const std::string c2 = new_channel_id();
  const std::string e1 = ua.subscribe(c1);
  const std::string e2 = ua.subscribe(c2);
  ua.ws().send_close();
  ua.ws().wait_close();
  wait_disconnected();
  const auto m1 = post_n(e1, 1);
  const auto m2 = post_n(e2, 1);

  auto back = connect();
  back.hello(uaid);
  const auto got = back.barrier();
  ASSERT_THAT(got, SizeIs(2));
  EXPECT_EQ(got[0].channel_id, c1);
  EXPECT_EQ(got[0].version, m1[0]);
  EXPECT_EQ(got[1].channel_id, c2);
  EXPECT_EQ(got[1].version, m2[0]);

  // Unregistering a channel drops its stored messages, acked or not.
  back.unregister(c1);
  ack_all(back, {got[1]});
  back.barrier();
  back.ws().send_close();
  back.ws().wait_close();
  wait_disconnected();
  auto last = connect();
  last.hello(uaid);
  EXPECT_THAT(last.barrier(), IsEmpty());
}

}  // namespace
}  // namespace webpush::testing
