#include "fixture.h"

#include <chrono>
#include <functional>

#include "webpush/core/base64url.h"

namespace webpush::testing {

void ServiceTest::start(std::vector<std::string> extra) {
  ServiceOptions options;
  options.state_dir = tmp_.path() / "state";
  options.extra_args = std::move(extra);
  service_ = std::make_unique<ServiceProcess>(std::move(options));
}

void ServiceTest::TearDown() {
  if (HasFailure() && service_) std::fprintf(stderr, "---- webpushd serve log ----\n%s\n", service_->log().c_str());
}

ServiceProcess& ServiceTest::service() {
  if (!service_) start();
  return *service_;
}

PushClient ServiceTest::connect(WsOptions options) { return PushClient::connect(port(), std::move(options)); }

ServiceTest::Subscribed ServiceTest::subscribe(const std::optional<std::string>& key) {
  PushClient ua = connect();
  const std::string uaid = ua.hello();
  const std::string chid = new_channel_id();
  const std::string endpoint = ua.subscribe(chid, key);
  return Subscribed{std::move(ua), uaid, chid, endpoint};
}

ServiceTest::Subscribed ServiceTest::offline_subscriber(const std::optional<std::string>& key) {
  auto s = subscribe(key);
  s.ua.ws().send_close();
  s.ua.ws().wait_close();
  wait_disconnected();
  return s;
}

void ServiceTest::wait_disconnected() {
  const auto deadline = Clock::now() + kDefaultTimeout;
  while (stats()["connections"] != 0) {
    if (Clock::now() > deadline) throw SupportError("the service still counts an open WebSocket");
  }
}

HttpResult ServiceTest::post(const std::string& endpoint, const Headers& headers, std::string_view body,
                             const HttpRequestOptions& options) {
  return http_request(port(), "POST", url_path(endpoint), headers, body, options);
}

HttpResult ServiceTest::push(const std::string& endpoint, int ttl, const Headers& extra, std::string_view body) {
  Headers headers = {{"TTL", std::to_string(ttl)}};
  headers.insert(headers.end(), extra.begin(), extra.end());
  return post(endpoint, headers, body);
}

nlohmann::json ServiceTest::stats() {
  auto r = http_request(port(), "GET", "/stats");
  if (r.status != 200) throw SupportError("GET /stats: " + std::to_string(r.status));
  return r.json();
}

Headers ServiceTest::vapid(const crypto::KeyPair& key, const std::string& endpoint, crypto::VapidScheme scheme,
                           const std::function<void(crypto::VapidClaims&)>& edit) {
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto claims = crypto::vapid_claims_for(endpoint, "mailto:tests@example.com", now);
  if (!claims) throw SupportError(claims.error().to_string());
  if (edit) edit(*claims);
  auto h = crypto::vapid_headers(key, *claims, scheme);
  if (!h) throw SupportError(h.error().to_string());
  Headers out = {{"Authorization", h->authorization}};
  if (!h->crypto_key.empty()) out.emplace_back("Crypto-Key", h->crypto_key);
  return out;
}

std::string ServiceTest::padded_public_key(const crypto::KeyPair& key) {
  std::string s = base64url_encode(key.public_bytes());
  while (s.size() % 4 != 0) s += '=';
  return s;
}

std::string ServiceTest::message_id(const HttpResult& r) {
  const auto location = r.header("location");
  if (!location) throw SupportError("no Location header");
  return location->substr(location->rfind('/') + 1);
}

void expect_error(const HttpResult& r, int status, std::optional<int> errnum) {
  EXPECT_EQ(r.status, status) << r.body;
  const auto j = r.json();
  EXPECT_EQ(j.value("code", 0), status) << r.body;
  if (errnum) {
    ASSERT_TRUE(j.contains("errno") && j["errno"].is_number_integer()) << r.body;
    EXPECT_EQ(j["errno"].get<int>(), *errnum) << r.body;
  } else {
    EXPECT_TRUE(j.contains("errno") && j["errno"].is_null()) << r.body;
  }
  EXPECT_TRUE(j.contains("error") && j["error"].is_string()) << r.body;
  EXPECT_TRUE(j.contains("message") && j["message"].is_string()) << r.body;
  EXPECT_EQ(j.value("more_info", ""), "http://autopush.readthedocs.io/en/latest/http.html#error-codes");
}

crypto::KeyPair make_key() {
  auto k = crypto::KeyPair::generate();
  if (!k) throw SupportError(k.error().to_string());
  return std::move(*k);
}

}  // namespace webpush::testing
