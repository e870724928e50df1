#include "webpush/fcm/registration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "pb_wire.h"
#include "webpush/core/base64url.h"
#include "webpush/crypto/keys.h"

namespace webpush::fcm {
// Named: the unity build puts this file in one unit with the layer's other tests.
namespace fcm_registration_test {

using ::testing::HasSubstr;
using Json = nlohmann::json;

// ---- protobuf wire format, written and read here without the generated code ----

using namespace pb_wire;  // NOLINT(google-build-using-namespace): test helpers

template <class T>
std::optional<Errc> code_of(const Result<T>& result) {
  if (result) return std::nullopt;
  for (Errc c : {Errc::bad_message, Errc::missing_field, Errc::bad_value, Errc::bad_response, Errc::refused}) {
    if (result.error().is(c)) return c;
  }
  ADD_FAILURE() << "unexpected error " << result.error();
  return std::nullopt;
}

// ---- checkin -------------------------------------------------------------------

TEST(FcmCheckin, AFirstCheckinRequestIsAChromeBrowserOnLinux) {
  const std::vector<Field> fields = walk(encode_checkin_request({}));
  const std::vector<Field> checkin = walk(one(fields, 4).bytes);
  EXPECT_EQ(one(checkin, 12).number, 3u);  // DEVICE_CHROME_BROWSER
  const std::vector<Field> build = walk(one(checkin, 13).bytes);
  EXPECT_EQ(one(build, 1).number, 3u);  // PLATFORM_LINUX
  EXPECT_EQ(one(build, 2).bytes, "63.0.3234.0");
  EXPECT_EQ(one(build, 3).number, 1u);  // CHANNEL_STABLE
  EXPECT_EQ(one(fields, 14).number, 3u);
  EXPECT_EQ(one(fields, 22).number, 0u);
  EXPECT_FALSE(find(fields, 2).has_value());   // id
  EXPECT_FALSE(find(fields, 13).has_value());  // security_token
}

TEST(FcmCheckin, AReCheckinCarriesTheStoredIdentity) {
  const CheckinParams params{.known = DeviceIdentity{.android_id = 0xfedcba9876543210, .security_token = 42},
                             .chrome_version = "131.0.6778.85"};
  const std::vector<Field> fields = walk(encode_checkin_request(params));
  const Field id = one(fields, 2);
  EXPECT_EQ(id.wire_type, 0);
  EXPECT_EQ(id.number, 0xfedcba9876543210u);  // an int64 varint: the same 64 bits
  const Field token = one(fields, 13);
  EXPECT_EQ(token.wire_type, 1);  // fixed64
  EXPECT_EQ(token.number, 42u);
  EXPECT_EQ(one(walk(one(walk(one(fields, 4).bytes), 13).bytes), 2).bytes, "131.0.6778.85");
}

TEST(FcmCheckin, ReadsTheIdentityFromAResponse) {
  const std::string body = pb_varint(1, 1) + pb_varint(3, 1700000000000) + pb_bytes(4, "digest") +
                           pb_bytes(5, pb_bytes(1, "n") + pb_bytes(2, "v")) + pb_fixed64(7, 0xfedcba9876543210) +
                           pb_fixed64(8, 0x0123456789abcdef) + pb_bytes(11, "v1");
  auto identity = decode_checkin_response(200, body);
  ASSERT_TRUE(identity.has_value()) << identity.error();
  EXPECT_EQ(identity->android_id, 0xfedcba9876543210u);
  EXPECT_EQ(identity->security_token, 0x0123456789abcdefu);
}

TEST(FcmCheckin, ErrorRows) {
  const std::string ok = pb_varint(1, 0);
  const std::string id = pb_fixed64(7, 5);
  const std::string token = pb_fixed64(8, 6);
  struct Row {
    std::string_view name;
    int status;
    std::string body;
    Errc code;
    std::string_view message;
  };
  const std::vector<Row> rows = {
      {"server error", 500, ok + id + token, Errc::refused, "checkin: HTTP status 500"},
      {"redirect", 302, "", Errc::refused, "HTTP status 302"},
      {"not protobuf", 200, "<html>", Errc::bad_message, "checkin: the 6-byte answer is not"},
      {"truncated", 200, ok + id.substr(0, 5), Errc::bad_message, "AndroidCheckinResponse"},
      {"no stats_ok", 200, id + token, Errc::missing_field, "no stats_ok"},
      {"no android_id", 200, ok + token, Errc::missing_field, "no android_id"},
      {"no security_token", 200, ok + id, Errc::missing_field, "no security_token"},
      {"setting without value", 200, ok + id + token + pb_bytes(5, pb_bytes(1, "n")), Errc::missing_field, "setting"},
      {"zero android_id", 200, ok + pb_fixed64(7, 0) + token, Errc::bad_value, "android_id is 0"},
      {"zero security_token", 200, ok + id + pb_fixed64(8, 0), Errc::bad_value, "security_token is 0"},
      {"android_id as a varint", 200, ok + pb_varint(7, 5) + token, Errc::missing_field, "no android_id"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    auto result = decode_checkin_response(row.status, row.body);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(code_of(result), row.code) << result.error();
    EXPECT_THAT(result.error().message(), HasSubstr(row.message));
  }
}

// ---- GCM register3 --------------------------------------------------------------

TEST(FcmGcmRegister, FormHasTheFourFieldsEncoded) {
  const GcmRegisterParams params{
      .device = {.android_id = 5001234567890123456, .security_token = 7},
      .app_id = "wp:laptop#1b4e28ba-2fa1-11d2-883f-0016d3cca427",
      .sender = std::string(default_sender_key()),
  };
  EXPECT_EQ(encode_gcm_register_form(params),
            "app=org.chromium.linux&X-subtype=wp%3Alaptop%231b4e28ba-2fa1-11d2-883f-0016d3cca427"
            "&device=5001234567890123456"
            "&sender=BDOU99-h67HcA6JeFXHbSNMu7e2yNNu3RzoMj8TM4W88jITfq7ZmPvIM1Iv-4_l2LxQcYwhqby2xGpWwzjfAnG4");
}

TEST(FcmGcmRegister, FormPercentEncodesAllButUnreserved) {
  const GcmRegisterParams params{.device = {.android_id = 1}, .app_id = "a b+c/d=e&f~g.h_i-j\xc3\xa9\n", .sender = ""};
  EXPECT_EQ(encode_gcm_register_form(params),
            "app=org.chromium.linux&X-subtype=a%20b%2Bc%2Fd%3De%26f~g.h_i-j%C3%A9%0A&device=1&sender=");
}

TEST(FcmGcmRegister, AuthorizationIsAidLoginWithDecimalNumbers) {
  EXPECT_EQ(gcm_register_authorization({.android_id = 123, .security_token = 456}), "AidLogin 123:456");
  EXPECT_EQ(gcm_register_authorization({.android_id = 18446744073709551615u, .security_token = 1}),
            "AidLogin 18446744073709551615:1");
}

TEST(FcmGcmRegister, DefaultSenderKeyIsAP256Point) {
  auto bytes = base64url_decode(default_sender_key());
  ASSERT_TRUE(bytes.has_value()) << bytes.error();
  ASSERT_EQ(bytes->size(), 65u);
  EXPECT_EQ((*bytes)[0], 0x04);  // uncompressed
  auto key = crypto::PublicKey::from_bytes(*bytes);
  EXPECT_TRUE(key.has_value()) << key.error();
}

TEST(FcmGcmRegister, Answers) {
  const std::string long_token(kMaxTokenLength, 'T');
  struct Row {
    std::string_view name;
    int status;
    std::string body;
    std::optional<std::string> token;
    std::optional<Errc> code;
    std::string_view message;
  };
  const std::vector<Row> rows = {
      {"token", 200, "token=cXy:APA91bH-x_y", "cXy:APA91bH-x_y", {}, ""},
      {"token and line break", 200, "token=abc\r\n", "abc", {}, ""},
      {"longest token", 200, "token=" + long_token, long_token, {}, ""},
      {"error value", 200, "Error=PHONE_REGISTRATION_ERROR", {}, Errc::refused, "Error=\"PHONE_REGISTRATION_ERROR\""},
      {"error value and line break",
       200,
       "Error=PHONE_REGISTRATION_ERROR\n",
       {},
       Errc::refused,
       "PHONE_REGISTRATION_ERROR\""},
      {"error with status", 401, "Error=AUTHENTICATION_FAILED", {}, Errc::refused, "HTTP status 401, Error="},
      {"server error", 500, "", {}, Errc::refused, "GCM register: HTTP status 500"},
      {"token with an error status", 503, "token=abc", {}, Errc::refused, "HTTP status 503"},
      {"html", 200, "<html>oops</html>", {}, Errc::bad_response, "GCM register: the answer \"<html>oops</html>\""},
      {"empty", 200, "", {}, Errc::bad_response, "not token="},
      {"binary garbage", 200, std::string("\x00\xff", 2), {}, Errc::bad_response, "\"\\x00\\xff\""},
      {"empty token", 200, "token=", {}, Errc::bad_value, "GCM register: token is not 1 to 4096"},
      {"token with space", 200, "token=a b", {}, Errc::bad_value, "token is not"},
      {"token with DEL", 200, "token=a\x7f", {}, Errc::bad_value, "token is not"},
      {"token not ASCII", 200, "token=\xc3\xa9", {}, Errc::bad_value, "token is not"},
      {"token too long", 200, "token=" + long_token + "T", {}, Errc::bad_value, "(it has 4097 bytes)"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    auto result = decode_gcm_register_response(row.status, row.body);
    if (row.token) {
      ASSERT_TRUE(result.has_value()) << result.error();
      EXPECT_EQ(*result, *row.token);
      continue;
    }
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(code_of(result), row.code) << result.error();
    EXPECT_THAT(result.error().message(), HasSubstr(row.message));
  }
}

// ---- GCM unregister (register3 delete=true) --------------------------------------

TEST(FcmGcmUnregister, FormIsTheRegistrationFormAndDelete) {
  const GcmRegisterParams params{
      .device = {.android_id = 5001234567890123456, .security_token = 7},
      .app_id = "wp:laptop#1",
      .sender = "BKey",
  };
  EXPECT_EQ(encode_gcm_unregister_form(params),
            "app=org.chromium.linux&X-subtype=wp%3Alaptop%231&device=5001234567890123456&sender=BKey&delete=true");
}

TEST(FcmGcmUnregister, Answers) {
  constexpr std::string_view kApp = "wp:laptop#1";
  struct Row {
    std::string_view name;
    int status;
    std::string body;
    std::optional<Errc> code;  // nullopt: success
    std::string_view message;
  };
  const std::vector<Row> rows = {
      {"deleted", 200, "deleted=wp:laptop#1", {}, ""},
      {"deleted and line break", 200, "deleted=wp:laptop#1\r\n", {}, ""},
      {"another app id", 200, "deleted=wp:other#2", Errc::bad_value,
       "GCM unregister: deleted \"wp:other#2\", not the app id \"wp:laptop#1\""},
      {"nothing deleted", 200, "deleted=", Errc::bad_value, "deleted \"\", not the app id"},
      {"error value", 200, "Error=INVALID_PARAMETERS", Errc::refused,
       "GCM unregister: HTTP status 200, Error=\"INVALID_PARAMETERS\""},
      {"error with status", 401, "Error=AUTHENTICATION_FAILED\n", Errc::refused, "HTTP status 401, Error="},
      {"server error", 500, "", Errc::refused, "GCM unregister: HTTP status 500"},
      {"deleted with an error status", 503, "deleted=wp:laptop#1", Errc::refused, "HTTP status 503"},
      {"a token answer", 200, "token=abc", Errc::bad_response, "is not deleted=<app id>"},
      {"empty", 200, "", Errc::bad_response, "GCM unregister: the answer \"\" is not deleted="},
      {"binary garbage", 200, std::string("\x00\xff", 2), Errc::bad_response, "\"\\x00\\xff\""},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    auto result = decode_gcm_unregister_response(row.status, row.body, kApp);
    if (!row.code) {
      EXPECT_TRUE(result.has_value()) << result.error();
      continue;
    }
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(code_of(result), row.code) << result.error();
    EXPECT_THAT(result.error().message(), HasSubstr(row.message));
  }
}

TEST(FcmGcmUnregister, AnOverlongAnswerIsQuotedShort) {
  auto result = decode_gcm_unregister_response(200, std::string(kMaxAnswerSize + 10, 'x'), "wp:a#1");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(code_of(result), Errc::bad_response);
  EXPECT_LT(result.error().message().size(), 300U);
}

// ---- Firebase installation ---------------------------------------------------------

TEST(FcmInstallation, IdFromFixedBytes) {
  std::vector<std::uint8_t> zeros(17, 0x00);
  std::vector<std::uint8_t> ones(17, 0xff);
  std::vector<std::uint8_t> counting(17);
  for (std::size_t i = 0; i < counting.size(); ++i) counting[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(make_installation_id(zeros).value_or(""), "cAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(make_installation_id(ones).value_or(""), "f_____________________");
  EXPECT_EQ(make_installation_id(counting).value_or(""), "cAECAwQFBgcICQoLDA0ODx");
}

TEST(FcmInstallation, EveryFirstByteGivesAValidId) {
  const std::regex valid("^[cdef][A-Za-z0-9_-]{21}$");
  std::vector<std::uint8_t> bytes(17, 0x5a);
  for (int first = 0; first < 256; ++first) {
    bytes[0] = static_cast<std::uint8_t>(first);
    auto fid = make_installation_id(bytes);
    ASSERT_TRUE(fid.has_value()) << fid.error();
    EXPECT_TRUE(std::regex_match(*fid, valid)) << *fid;
  }
}

TEST(FcmInstallation, IdNeedsSeventeenBytes) {
  for (std::size_t size : {0u, 16u, 18u}) {
    std::vector<std::uint8_t> bytes(size, 1);
    auto fid = make_installation_id(bytes);
    ASSERT_FALSE(fid.has_value());
    EXPECT_TRUE(fid.error().is(Errc::bad_value)) << fid.error();
  }
}

TEST(FcmInstallation, RequestBody) {
  const FirebaseApp app{.project_id = "proj", .app_id = "1:123456789:web:abcdef", .api_key = "AIza-secret"};
  const Json body = Json::parse(encode_installation_request(app, "cAAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_EQ(body, Json({{"appId", "1:123456789:web:abcdef"},
                        {"authVersion", "FIS_v2"},
                        {"fid", "cAAAAAAAAAAAAAAAAAAAAA"},
                        {"sdkVersion", "w:0.6.6"}}));
  // Not UTF-8 in a configured string: still a JSON document, never an exception.
  const FirebaseApp odd{.app_id = "1:\xff:web"};
  EXPECT_FALSE(Json::parse(encode_installation_request(odd, "f"), nullptr, false).is_discarded());
}

std::string installation_body(const Json& auth_token) {
  Json body = {{"name", "projects/proj/installations/cAAAAAAAAAAAAAAAAAAAAA"},
               {"fid", "cAAAAAAAAAAAAAAAAAAAAA"},
               {"refreshToken", "3_AS3qfwL-refresh"},
               {"authToken", auth_token}};
  return body.dump();
}

TEST(FcmInstallation, ReadsAnAnswer) {
  auto installation = decode_installation_response(
      200, installation_body({{"token", "eyJhbGci.eyJhcHBJZCI6.sig"}, {"expiresIn", "604800s"}}));
  ASSERT_TRUE(installation.has_value()) << installation.error();
  EXPECT_EQ(installation->fid, "cAAAAAAAAAAAAAAAAAAAAA");
  EXPECT_EQ(installation->refresh_token, "3_AS3qfwL-refresh");
  EXPECT_EQ(installation->auth_token, "eyJhbGci.eyJhcHBJZCI6.sig");
  EXPECT_EQ(installation->expires_in_s, 604800);
}

struct JsonRow {
  std::string_view name;
  int status;
  std::string body;
  Errc code;
  std::string_view message;
};

std::string blocked() {
  return R"({"error": {"code": 403, "message": "Requests to this API firebaseinstallations.googleapis.com method )"
         R"(google.firebase.installations.v1.FirebaseInstallationsService.CreateInstallation are blocked.", )"
         R"("status": "PERMISSION_DENIED"}})";
}

TEST(FcmInstallation, ErrorRows) {
  const Json good_auth = {{"token", "t"}, {"expiresIn", "604800s"}};
  Json no_fid = Json::parse(installation_body(good_auth));
  no_fid.erase("fid");
  Json fid_number = Json::parse(installation_body(good_auth));
  fid_number["fid"] = 17;
  Json no_auth = Json::parse(installation_body(good_auth));
  no_auth.erase("authToken");
  const std::vector<JsonRow> rows = {
      {"blocked API", 403, blocked(), Errc::refused, "installation: HTTP status 403: \"Requests to this API"},
      {"error status, not JSON", 500, "<html>", Errc::refused, "installation: HTTP status 500"},
      {"error object with 200", 200, R"({"error": {"code": 400, "message": "bad appId"}})", Errc::refused,
       "installation: refused: \"bad appId\""},
      {"error object without message", 400, R"({"error": {"code": 400}})", Errc::refused, "without a message"},
      {"not JSON", 200, "{\"fid\": ", Errc::bad_response, "installation: the 8-byte answer is not JSON"},
      {"not UTF-8", 200, "{\"fid\": \"\xff\"}", Errc::bad_response, "not JSON"},
      {"an array", 200, "[]", Errc::bad_response, "installation: the answer is array, not an object"},
      {"no fid", 200, no_fid.dump(), Errc::bad_response, "installation: no fid"},
      {"fid a number", 200, fid_number.dump(), Errc::bad_response, "installation: fid is number, not a string"},
      {"no authToken", 200, no_auth.dump(), Errc::bad_response, "installation: no authToken"},
      {"authToken a string", 200, installation_body("t"), Errc::bad_response, "authToken is string, not an object"},
      {"token an array", 200, installation_body({{"token", Json::array()}, {"expiresIn", "1s"}}), Errc::bad_response,
       "authToken.token is array"},
      {"no expiresIn", 200, installation_body({{"token", "t"}}), Errc::bad_response, "no authToken.expiresIn"},
      {"expiresIn a number", 200, installation_body({{"token", "t"}, {"expiresIn", 604800}}), Errc::bad_response,
       "authToken.expiresIn is number"},
      {"expiresIn in days", 200, installation_body({{"token", "t"}, {"expiresIn", "7d"}}), Errc::bad_value,
       "authToken.expiresIn \"7d\" is not a whole number of seconds"},
      {"expiresIn negative", 200, installation_body({{"token", "t"}, {"expiresIn", "-5s"}}), Errc::bad_value,
       "expiresIn"},
      {"expiresIn without unit", 200, installation_body({{"token", "t"}, {"expiresIn", "604800"}}), Errc::bad_value,
       "expiresIn"},
      {"expiresIn overflows", 200, installation_body({{"token", "t"}, {"expiresIn", "99999999999999999999s"}}),
       Errc::bad_value, "expiresIn"},
      {"empty token", 200, installation_body({{"token", ""}, {"expiresIn", "1s"}}), Errc::bad_value,
       "authToken.token is not 1 to 4096 printable ASCII characters"},
      {"token too long", 200,
       installation_body({{"token", std::string(kMaxTokenLength + 1, 'x')}, {"expiresIn", "1s"}}), Errc::bad_value,
       "authToken.token is not"},
      {"token with a control character", 200, installation_body({{"token", "a\tb"}, {"expiresIn", "1s"}}),
       Errc::bad_value, "authToken.token is not"},
      {"token not ASCII", 200, installation_body({{"token", "caf\xc3\xa9"}, {"expiresIn", "1s"}}), Errc::bad_value,
       "authToken.token is not"},
      {"over the size limit", 200, std::string(kMaxAnswerSize + 1, ' '), Errc::bad_response, "over the limit"},
  };
  for (const JsonRow& row : rows) {
    SCOPED_TRACE(row.name);
    auto result = decode_installation_response(row.status, row.body);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(code_of(result), row.code) << result.error();
    EXPECT_THAT(result.error().message(), HasSubstr(row.message));
  }
}

// ---- FCM registration ---------------------------------------------------------------

TEST(FcmRegistration, RequestBody) {
  FcmRegistrationParams params{
      .endpoint = "https://fcm.googleapis.com/fcm/send/gcm-token",
      .p256dh = "BPub",
      .auth = "c2VjcmV0",
  };
  EXPECT_EQ(Json::parse(encode_fcm_registration_request(params)),
            Json({{"web",
                   {{"endpoint", "https://fcm.googleapis.com/fcm/send/gcm-token"},
                    {"p256dh", "BPub"},
                    {"auth", "c2VjcmV0"}}}}));
  params.application_pub_key = "BVapid";
  EXPECT_EQ(Json::parse(encode_fcm_registration_request(params))["web"]["applicationPubKey"], "BVapid");
}

TEST(FcmRegistration, ReadsTheToken) {
  const std::string body = R"({"name": "projects/proj/registrations/fcm-token", "token": "dGVzdA:APA91b-fcm_token",)"
                           R"( "web": {"endpoint": "https://fcm.googleapis.com/fcm/send/x"}})";
  auto token = decode_fcm_registration_response(200, body);
  ASSERT_TRUE(token.has_value()) << token.error();
  EXPECT_EQ(*token, "dGVzdA:APA91b-fcm_token");
}

TEST(FcmRegistration, ErrorRows) {
  const std::vector<JsonRow> rows = {
      {"error object", 200, R"({"error": {"code": 400, "message": "Request contains an invalid argument."}})",
       Errc::refused, "FCM registration: refused: \"Request contains an invalid argument.\""},
      {"error status with message", 401, R"({"error": {"code": 401, "message": "missing auth"}})", Errc::refused,
       "FCM registration: HTTP status 401: \"missing auth\""},
      {"error a string", 200, R"({"error": "nope", "token": "t"})", Errc::refused, "error is string"},
      {"error status, empty", 503, "", Errc::refused, "HTTP status 503"},
      {"not JSON", 200, "token=abc", Errc::bad_response, "is not JSON"},
      {"a string", 200, R"("abc")", Errc::bad_response, "the answer is string, not an object"},
      {"no token", 200, R"({"name": "x"})", Errc::bad_response, "FCM registration: no token"},
      {"token null", 200, R"({"token": null})", Errc::bad_response, "token is null, not a string"},
      {"token an object", 200, R"({"token": {}})", Errc::bad_response, "token is object"},
      {"empty token", 200, R"({"token": ""})", Errc::bad_value, "FCM registration: token is not 1 to 4096"},
      {"token with space", 200, R"({"token": "a b"})", Errc::bad_value, "token is not"},
      {"token with NUL", 200, R"({"token": "a\u0000b"})", Errc::bad_value, "token is not"},
      {"token too long", 200, Json({{"token", std::string(kMaxTokenLength + 1, 'x')}}).dump(), Errc::bad_value,
       "(it has 4097 bytes)"},
  };
  for (const JsonRow& row : rows) {
    SCOPED_TRACE(row.name);
    auto result = decode_fcm_registration_response(row.status, row.body);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(code_of(result), row.code) << result.error();
    EXPECT_THAT(result.error().message(), HasSubstr(row.message));
  }
}

TEST(FcmRegistration, TheLongestTokenIsAccepted) {
  const std::string token(kMaxTokenLength, '~');
  auto result = decode_fcm_registration_response(201, Json({{"token", token}}).dump());
  ASSERT_TRUE(result.has_value()) << result.error();
  EXPECT_EQ(*result, token);
}

// ---- FCM unregistration (DELETE) -------------------------------------------------------

TEST(FcmUnregistration, Url) {
  EXPECT_EQ(
      fcm_unregistration_url("https://fcmregistrations.googleapis.com/v1", "my-project", "dGVzdA:APA91b-fcm_token~x.y"),
      "https://fcmregistrations.googleapis.com/v1/projects/my-project/registrations/dGVzdA:APA91b-fcm_token~x.y");
  // Printable ASCII that a path segment may not hold as it is.
  EXPECT_EQ(fcm_unregistration_url("https://r.test/v1", "p/q", "a/b?c#d%e f"),
            "https://r.test/v1/projects/p%2Fq/registrations/a%2Fb%3Fc%23d%25e%20f");
}

TEST(FcmUnregistration, SuccessAnswers) {
  for (const auto& [status, body] : std::vector<std::pair<int, std::string>>{
           {200, "{}"}, {200, ""}, {200, " \r\n"}, {204, ""}, {200, R"({"name": "x"})"}}) {
    SCOPED_TRACE(body);
    auto result = decode_fcm_unregistration_response(status, body);
    EXPECT_TRUE(result.has_value()) << result.error();
  }
}

TEST(FcmUnregistration, ErrorRows) {
  const std::vector<JsonRow> rows = {
      {"not found", 404, R"({"error": {"code": 404, "message": "no such registration", "status": "NOT_FOUND"}})",
       Errc::refused, "FCM unregistration: HTTP status 404: \"no such registration\""},
      {"unauthenticated, empty", 401, "", Errc::refused, "FCM unregistration: HTTP status 401"},
      {"error object", 200, R"({"error": {"code": 400, "message": "bad"}})", Errc::refused,
       "FCM unregistration: refused: \"bad\""},
      {"not JSON", 200, "deleted", Errc::bad_response, "is not JSON"},
      {"an array", 200, "[]", Errc::bad_response, "the answer is array, not an object"},
      {"too large", 200, std::string(kMaxAnswerSize + 1, 'x'), Errc::bad_response, "over the limit"},
  };
  for (const JsonRow& row : rows) {
    SCOPED_TRACE(row.name);
    auto result = decode_fcm_unregistration_response(row.status, row.body);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(code_of(result), row.code) << result.error();
    EXPECT_THAT(result.error().message(), HasSubstr(row.message));
  }
}

}  // namespace fcm_registration_test
}  // namespace webpush::fcm
