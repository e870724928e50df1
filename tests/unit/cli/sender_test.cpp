// sender.h's pure parts: parse_push_subscription, and the VAPID key files
// (load_vapid_key, generate_vapid_key_file) in a temporary directory.
#include "sender.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "file_test.h"

#include "webpush/core/base64url.h"

namespace webpush::cli {
namespace {

using ::testing::StartsWith;

std::string b64(const Bytes& bytes) { return base64url_encode(bytes); }

class PushSubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = crypto::KeyPair::generate();
    ASSERT_TRUE(key) << key.error();
    p256dh_ = Bytes(key->public_bytes().begin(), key->public_bytes().end());
    auth_ = Bytes(16, 0xa5);
  }

  std::string json(const std::string& p256dh, const std::string& auth,
                   const std::string& endpoint = "https://push.example.com/wpush/v2/token") const {
    return R"({"endpoint":")" + endpoint + R"(","expirationTime":null,"keys":{"p256dh":")" + p256dh + R"(","auth":")" +
           auth + R"("}})";
  }

  Bytes p256dh_;
  Bytes auth_;
};

TEST_F(PushSubscriptionTest, ParsesAPushSubscription) {
  const auto sub = parse_push_subscription(json(b64(p256dh_), b64(auth_)));
  ASSERT_TRUE(sub) << sub.error();
  EXPECT_EQ(sub->endpoint, "https://push.example.com/wpush/v2/token");
  EXPECT_EQ(sub->p256dh, p256dh_);
  EXPECT_EQ(sub->auth, auth_);
}

TEST_F(PushSubscriptionTest, AcceptsPaddingAndTheStandardAlphabet) {
  // Some servers print keys with a standard base64 encoder.
  std::string p = b64(p256dh_);
  std::string a = b64(auth_) + "==";
  for (auto& c : p) c = c == '-' ? '+' : c == '_' ? '/' : c;
  const auto sub = parse_push_subscription(json(p, a));
  ASSERT_TRUE(sub) << sub.error();
  EXPECT_EQ(sub->p256dh, p256dh_);
  EXPECT_EQ(sub->auth, auth_);
}

TEST_F(PushSubscriptionTest, ErrorsNameTheField) {
  const std::string p = b64(p256dh_);
  const std::string a = b64(auth_);
  Bytes not_on_curve(65, 0);
  not_on_curve[0] = 0x04;
  struct Row {
    std::string text;
    std::string message;  // exact, or a prefix when it ends in ": "
  };
  const std::vector<Row> rows = {
      {"", "subscription is not a JSON object"},
      {"not json", "subscription is not a JSON object"},
      {"[1, 2]", "subscription is not a JSON object"},
      {R"("endpoint")", "subscription is not a JSON object"},
      {"{}", R"(subscription has no "endpoint" string)"},
      {R"({"endpoint": 5})", R"(subscription has no "endpoint" string)"},
      {R"({"endpoint": "https://e/"})", R"(subscription has no "keys" object)"},
      {R"({"endpoint": "https://e/", "keys": []})", R"(subscription has no "keys" object)"},
      {R"({"endpoint": "https://e/", "keys": {}})", "subscription has no keys.p256dh string"},
      {R"({"endpoint": "https://e/", "keys": {"p256dh": 1, "auth": "x"}})", "subscription has no keys.p256dh string"},
      {R"({"endpoint": "https://e/", "keys": {"p256dh": ")" + p + R"("}})", "subscription has no keys.auth string"},
      {json("!!!", a), "keys.p256dh: "},
      {json(p, "a b"), "keys.auth: "},
      {json(b64(Bytes(64, 4)), a), "keys.p256dh must be 65 bytes, got 64"},
      {json(p, b64(Bytes(15, 1))), "keys.auth must be 16 bytes, got 15"},
      {json(p, ""), "keys.auth must be 16 bytes, got 0"},
      {json(b64(not_on_curve), a), "keys.p256dh is not a P-256 public key"},
  };
  for (const auto& row : rows) {
    const auto sub = parse_push_subscription(row.text);
    ASSERT_FALSE(sub) << row.text;
    EXPECT_TRUE(sub.error().is(SendErrc::bad_subscription)) << row.text << "\n-> " << sub.error();
    if (row.message.ends_with(": ")) {
      EXPECT_THAT(sub.error().message(), StartsWith(row.message)) << row.text;
    } else {
      EXPECT_EQ(sub.error().message(), row.message) << row.text;
    }
  }
}

// ---- VAPID key files ------------------------------------------------------------------

using VapidKeyFileTest = test::FileTest;

TEST_F(VapidKeyFileTest, AGeneratedKeyLoadsBack) {
  const std::string path = (dir_ / "vapid.pem").string();
  const auto generated = generate_vapid_key_file(path);
  ASSERT_TRUE(generated) << generated.error();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const auto loaded = load_vapid_key(path);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(Bytes(loaded->public_bytes().begin(), loaded->public_bytes().end()),
            Bytes(generated->public_bytes().begin(), generated->public_bytes().end()));
}

TEST_F(VapidKeyFileTest, GenerateRefusesAnExistingFile) {
  const std::string path = write("vapid.pem", "keep me");
  const auto generated = generate_vapid_key_file(path);
  ASSERT_FALSE(generated);
  EXPECT_TRUE(generated.error().is(SendErrc::bad_key));
  EXPECT_THAT(generated.error().message(), StartsWith("cannot create " + path + ": "));
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "keep me");
}

TEST_F(VapidKeyFileTest, LoadsARawBase64urlScalar) {
  auto key = crypto::KeyPair::generate();
  ASSERT_TRUE(key) << key.error();
  const SecretBytes scalar = key->private_bytes();
  for (const char* suffix : {"", "\n", "\r\n", "  \n"}) {
    const std::string path = write("raw.key", base64url_encode(scalar) + suffix);
    const auto loaded = load_vapid_key(path);
    ASSERT_TRUE(loaded) << loaded.error();
    EXPECT_EQ(loaded->private_bytes(), scalar);
  }
}

TEST_F(VapidKeyFileTest, ErrorsNameTheFile) {
  struct Row {
    std::string name;
    std::string text;
    std::string message_after_path;  // "<path>: " + this, exact
  };
  const std::vector<Row> rows = {
      {"garbage", "not a key", "expected a PEM key or a base64url 32-byte private key"},
      {"empty", "", "expected a PEM key or a base64url 32-byte private key"},
      {"short", base64url_encode(Bytes(31, 7)), "expected a PEM key or a base64url 32-byte private key"},
      {"long", base64url_encode(Bytes(33, 7)), "expected a PEM key or a base64url 32-byte private key"},
      {"pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a PEM private key"},
  };
  for (const auto& row : rows) {
    const std::string path = write(row.name, row.text);
    const auto loaded = load_vapid_key(path);
    ASSERT_FALSE(loaded) << row.name;
    EXPECT_TRUE(loaded.error().is(SendErrc::bad_key)) << row.name << ": " << loaded.error();
    EXPECT_EQ(loaded.error().message(), path + ": " + row.message_after_path) << row.name;
  }
}

TEST_F(VapidKeyFileTest, AScalarThatIsNoKeyIsABadKey) {
  const std::string path = write("zero", base64url_encode(Bytes(32, 0)));
  const auto loaded = load_vapid_key(path);
  ASSERT_FALSE(loaded);
  EXPECT_TRUE(loaded.error().is(SendErrc::bad_key)) << loaded.error();
  EXPECT_THAT(loaded.error().message(), StartsWith(path + ": "));
}

TEST_F(VapidKeyFileTest, AMissingFileIsABadKey) {
  const std::string path = (dir_ / "absent.pem").string();
  const auto loaded = load_vapid_key(path);
  ASSERT_FALSE(loaded);
  EXPECT_TRUE(loaded.error().is(SendErrc::bad_key));
  EXPECT_EQ(loaded.error().message(), "cannot read VAPID key file " + path);
}

}  // namespace
}  // namespace webpush::cli
