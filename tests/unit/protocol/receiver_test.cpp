// The receive path with a scripted inbox: which ack each notification gets,
// what is stored, and that nothing is acked when the store fails.
#include "webpush/protocol/receiver.h"

#include <gtest/gtest.h>

#include "fake_inbox.h"
#include "webpush/core/base64url.h"
#include "webpush/crypto/webpush.h"

namespace webpush::protocol {
namespace protocol_receiver_test {

// RFC 8291 Appendix A: the user agent's keys and the published message.
constexpr const char* kUaPrivate = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
constexpr const char* kAuth = "BTBZMqHH6r4Tts7J_aSIgg";
constexpr const char* kBody =
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_"
    "c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_"
    "yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";
constexpr const char* kChid = "3a2f1c58-8d5e-4b8e-9f3c-2e6a7d1b4c90";

class ReceiverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = crypto::KeyPair::from_private(*base64url_decode(kUaPrivate));
    ASSERT_TRUE(key);
    inbox.channels[kChid] =
        std::make_shared<ChannelKeys>(ChannelKeys{42, "laptop", std::move(*key), to_secret(*base64url_decode(kAuth))});
  }
  static Notification note(std::string version, std::optional<std::string> data = kBody,
                           std::string encoding = "aes128gcm") {
    Notification n{kChid, std::move(version), std::move(data), std::nullopt};
    if (n.data) n.headers = NotificationHeaders{std::move(encoding), "", ""};
    return n;
  }
  std::vector<Received> run(std::vector<Notification> batch) { return receiver.process(batch, 1'700'000'000'000); }

  fakes::FakeInbox inbox;
  Receiver receiver{inbox};
};

TEST_F(ReceiverTest, DecryptsStoresThenAcks100) {
  const auto out = run({note("v1")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, AckCode::delivered);
  ASSERT_TRUE(out[0].message);
  EXPECT_EQ(std::string(as_chars(*out[0].message->payload)), "When I grow up, I want to be a watermelon");
  EXPECT_EQ(out[0].message->subscription_id, 42);
  EXPECT_EQ(out[0].message->encoding, "aes128gcm");
  EXPECT_EQ(out[0].message->id, 1);
  ASSERT_EQ(inbox.stored.size(), 1u);
  EXPECT_EQ(inbox.calls.back(), "put 1");
}

TEST_F(ReceiverTest, UnknownChannelIsAcked102AndNotStored) {
  Notification n = note("v1");
  n.channel_id = "00000000-0000-4000-8000-000000000000";
  const auto out = run({n});
  EXPECT_EQ(out[0].ack, AckCode::not_delivered);
  EXPECT_FALSE(out[0].message);
  EXPECT_TRUE(inbox.stored.empty());
}

TEST_F(ReceiverTest, DuplicateIsAcked102WithoutSecondDispatch) {
  inbox.seen.insert({kChid, "v1"});
  const auto out = run({note("v1")});
  EXPECT_EQ(out[0].ack, AckCode::not_delivered);
  EXPECT_FALSE(out[0].message);
  EXPECT_TRUE(inbox.stored.empty());
}

TEST_F(ReceiverTest, DuplicateWithinOneBatch) {
  const auto out = run({note("v1"), note("v1")});
  EXPECT_EQ(out[0].ack, AckCode::delivered);
  EXPECT_TRUE(out[0].message);
  EXPECT_EQ(out[1].ack, AckCode::not_delivered);
  EXPECT_FALSE(out[1].message);
  EXPECT_EQ(inbox.stored.size(), 1u);
}

TEST_F(ReceiverTest, DataLessPushIsAMessageWithoutPayload) {
  const auto out = run({note("v2", std::nullopt)});
  EXPECT_EQ(out[0].ack, AckCode::delivered);
  ASSERT_TRUE(out[0].message);
  EXPECT_FALSE(out[0].message->payload);
  EXPECT_FALSE(out[0].message->error);
}

struct FailRow {
  const char* desc;
  Notification n;
  const char* error_part;
};

TEST_F(ReceiverTest, UndecryptableIsStoredAsFailedAndAcked101) {
  std::string tampered = kBody;
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
  Notification no_headers{kChid, "v5", std::string(kBody), std::nullopt};
  const FailRow rows[] = {
      {"tampered tag", note("v3", tampered), "decrypt_failed"},
      {"not base64url", note("v4", std::string("!!!!")), "not base64url"},
      {"data without encoding", no_headers, "no Content-Encoding"},
      {"unknown encoding", note("v6", std::string(kBody), "aesgcm128"), "unsupported_encoding"},
      {"aesgcm without headers", note("v7", std::string(kBody), "aesgcm"), "missing_salt"},
  };
  for (const auto& row : rows) {
    const auto out = run({row.n});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].ack, AckCode::decrypt_error) << row.desc;
    ASSERT_TRUE(out[0].message) << row.desc;
    ASSERT_TRUE(out[0].message->error) << row.desc;
    EXPECT_NE(out[0].message->error->find(row.error_part), std::string::npos)
        << row.desc << ": " << *out[0].message->error;
    EXPECT_FALSE(out[0].message->payload) << row.desc;
  }
  EXPECT_EQ(inbox.stored.size(), std::size(rows));
}

TEST_F(ReceiverTest, StoreFailureMeansNoAck) {
  inbox.fail_put = true;
  const auto out = run({note("v1"), note("v2", std::nullopt)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(out[0].ack);
  EXPECT_FALSE(out[1].ack);
  EXPECT_FALSE(out[0].message);
  // Each says why, for the daemon's log and status.
  for (const auto& r : out) {
    ASSERT_TRUE(r.failure);
    EXPECT_TRUE(r.failure->is(fakes::FakeErrc::injected)) << *r.failure;
  }
}

TEST_F(ReceiverTest, LookupFailureMeansNoAck) {
  inbox.fail_find = true;
  const auto out = run({note("v1")});
  EXPECT_FALSE(out[0].ack);
  ASSERT_TRUE(out[0].failure);
  EXPECT_TRUE(out[0].failure->is(fakes::FakeErrc::injected)) << *out[0].failure;
  EXPECT_TRUE(inbox.stored.empty());
}

TEST_F(ReceiverTest, OneTransactionPerBatch) {
  run({note("a"), note("b"), note("c", std::nullopt)});
  EXPECT_EQ(std::count(inbox.calls.begin(), inbox.calls.end(), "put 3"), 1);
  EXPECT_EQ(inbox.stored.size(), 3u);
}

// ---- a UnifiedPush app's channel: kept encrypted, for the app -----------------

class ReceiverAppTest : public ReceiverTest {
 protected:
  void SetUp() override {
    auto key = crypto::KeyPair::from_private(*base64url_decode(kUaPrivate));
    ASSERT_TRUE(key);
    inbox.channels[kChid] = std::make_shared<ChannelKeys>(ChannelKeys{
        42, "up/org.example.Chat/t", std::move(*key), to_secret(*base64url_decode(kAuth)), "org.example.Chat"});
  }
};

TEST_F(ReceiverAppTest, AnAes128gcmBodyIsStoredAsSentAndAcked100) {
  const auto out = run({note("v1")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ack, AckCode::delivered);
  ASSERT_TRUE(out[0].message);
  EXPECT_EQ(out[0].message->payload, *base64url_decode(kBody));
  EXPECT_EQ(out[0].message->app, "org.example.Chat");
  EXPECT_EQ(out[0].message->encoding, "aes128gcm");
  EXPECT_FALSE(out[0].message->error);
  ASSERT_EQ(inbox.stored.size(), 1u);
}

TEST_F(ReceiverAppTest, AnAesgcmMessageIsRecordedAsFailedAndAcked101) {
  const auto out = run({note("v1", kBody, "aesgcm")});
  EXPECT_EQ(out[0].ack, AckCode::decrypt_error);
  ASSERT_TRUE(out[0].message);
  EXPECT_FALSE(out[0].message->payload);
  ASSERT_TRUE(out[0].message->error);
  EXPECT_NE(out[0].message->error->find("takes aes128gcm only"), std::string::npos) << *out[0].message->error;
  EXPECT_EQ(inbox.stored.size(), 1u);
}

TEST_F(ReceiverAppTest, ABodyThatIsNotAes128gcmIsNeverForwarded) {
  const auto out = run({note("v1", "AAAA"), note("v2", "not base64!")});
  for (const auto& r : out) {
    EXPECT_EQ(r.ack, AckCode::decrypt_error);
    ASSERT_TRUE(r.message);
    EXPECT_FALSE(r.message->payload);
    EXPECT_TRUE(r.message->error);
  }
}

TEST_F(ReceiverAppTest, APushWithoutDataIsForwardedEmpty) {
  const auto out = run({note("v1", std::nullopt)});
  EXPECT_EQ(out[0].ack, AckCode::delivered);
  ASSERT_TRUE(out[0].message);
  EXPECT_FALSE(out[0].message->payload);
  EXPECT_EQ(out[0].message->app, "org.example.Chat");
}

}  // namespace protocol_receiver_test
}  // namespace webpush::protocol
