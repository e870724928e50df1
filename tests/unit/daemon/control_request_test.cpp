// daemon::parse_control_request and error_reply: every request line a client
// can send, decoded or refused with the message the daemon replies with.
#include "webpush/daemon/control_request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace webpush::daemon {
namespace control_request_test {

std::string refusal(std::string_view line) {
  const auto req = parse_control_request(line);
  return req ? std::string("(accepted)") : req.error();
}

TEST(ControlRequest, DecodesTheCommandsWithoutArguments) {
  EXPECT_TRUE(std::holds_alternative<StatusRequest>(parse_control_request(R"({"cmd":"status"})").value()));
  EXPECT_TRUE(std::holds_alternative<ListRequest>(parse_control_request(R"({"cmd":"list"})").value()));
  EXPECT_TRUE(std::holds_alternative<WatchRequest>(parse_control_request(R"({"cmd":"watch","extra":1})").value()));
}

TEST(ControlRequest, DecodesSubscribeWithAKeyInEitherAlphabet) {
  const auto plain = parse_control_request(R"({"cmd":"subscribe","name":"laptop"})").value();
  EXPECT_EQ(std::get<SubscribeRequest>(plain).name, "laptop");
  EXPECT_FALSE(std::get<SubscribeRequest>(plain).vapid_key);
  const auto url = parse_control_request(R"({"cmd":"subscribe","name":"k","vapid_key":"_-8"})").value();
  const auto standard = parse_control_request(R"({"cmd":"subscribe","name":"k","vapid_key":"/+8="})").value();
  EXPECT_EQ(std::get<SubscribeRequest>(url).vapid_key, (Bytes{0xff, 0xef}));
  EXPECT_EQ(std::get<SubscribeRequest>(standard).vapid_key, (Bytes{0xff, 0xef}));
}

TEST(ControlRequest, SubscribeTakesAServiceAutopushByDefault) {
  const auto service = [](std::string_view line) {
    return std::get<SubscribeRequest>(parse_control_request(line).value()).service;
  };
  EXPECT_EQ(service(R"({"cmd":"subscribe","name":"a"})"), PushServiceKind::autopush);
  EXPECT_EQ(service(R"({"cmd":"subscribe","name":"a","service":"autopush"})"), PushServiceKind::autopush);
  EXPECT_EQ(service(R"({"cmd":"subscribe","name":"a","service":"fcm"})"), PushServiceKind::fcm);
  const std::string want = R"(subscribe's "service" must be "autopush" or "fcm")";
  EXPECT_EQ(refusal(R"({"cmd":"subscribe","name":"a","service":"FCM"})"), want);
  EXPECT_EQ(refusal(R"({"cmd":"subscribe","name":"a","service":""})"), want);
  EXPECT_EQ(refusal(R"({"cmd":"subscribe","name":"a","service":1})"), want);
  EXPECT_EQ(refusal(R"({"cmd":"subscribe","name":"a","service":null})"), want);
  EXPECT_EQ(refusal(R"({"cmd":"subscribe","name":"a","service":["fcm"]})"), want);
}

TEST(ControlRequest, RefusesASubscribeWithoutAUsableName) {
  const std::string want = R"(subscribe needs a "name" of 1 to 128 characters)";
  EXPECT_EQ(refusal(R"({"cmd":"subscribe"})"), want);
  EXPECT_EQ(refusal(R"({"cmd":"subscribe","name":""})"), want);
  EXPECT_EQ(refusal(R"({"cmd":"subscribe","name":7})"), want);
  EXPECT_EQ(refusal(R"({"cmd":"subscribe","name":")" + std::string(129, 'x') + R"("})"), want);
  EXPECT_EQ(refusal(R"({"cmd":"subscribe","name":")" + std::string(128, 'x') + R"("})"), "(accepted)");
  EXPECT_NE(refusal(R"({"cmd":"subscribe","name":"k","vapid_key":"***"})").find("vapid_key is not base64url"),
            std::string::npos);
}

TEST(ControlRequest, UnsubscribeTakesAnIdOrAName) {
  const auto both = parse_control_request(R"({"cmd":"unsubscribe","id":3,"name":"x"})").value();
  EXPECT_EQ(std::get<UnsubscribeRequest>(both).id, 3);
  const auto by_name = parse_control_request(R"({"cmd":"unsubscribe","name":"x"})").value();
  EXPECT_EQ(std::get<UnsubscribeRequest>(by_name).name, "x");
  EXPECT_EQ(refusal(R"({"cmd":"unsubscribe","id":"3"})"), R"(unsubscribe needs a "name" or an "id")");
}

TEST(ControlRequest, RefusesWhatIsNotARequest) {
  EXPECT_EQ(refusal("not json"), "request is not a JSON object");
  EXPECT_EQ(refusal("[1,2]"), "request is not a JSON object");
  EXPECT_EQ(refusal(R"({"command":"status"})"), R"(request has no "cmd" string)");
  EXPECT_EQ(refusal(R"({"cmd":"reboot"})"), "unknown command 'reboot'");
  EXPECT_LT(refusal(R"({"cmd":")" + std::string(10'000, 'z') + R"("})").size(), 200u) << "the echo is bounded";
}

TEST(ControlRequest, TheErrorReplyIsOneJsonLineEvenForBytesThatAreNotUtf8) {
  const std::string reply = error_reply("bad \xff byte");
  EXPECT_EQ(reply.find('\n'), std::string::npos);
  const auto j = nlohmann::json::parse(reply);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["error"], "bad \xEF\xBF\xBD byte");
}

}  // namespace control_request_test
}  // namespace webpush::daemon
