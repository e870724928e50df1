// HttpsClient against an HTTP peer on 127.0.0.1 (a thread with blocking
// OpenSSL and a certificate made for the test, or plain TCP); the client runs on
// a real EventLoop, driven with run_until.
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "certificate.h"
#include "peer.h"
#include "support.h"
#include "webpush/event/loop.h"
#include "webpush/transport/http_client.h"
#include "webpush/transport/ws_client.h"

namespace webpush::transport {
namespace {

using ::testing::HasSubstr;
using testing::Peer;
using testing::PeerConnection;
using testing::PeerRequest;
using testing::SilentPort;
using ::testing::StartsWith;

constexpr Duration kLimit{5000};

template <class T>
T must(Result<T> result) {
  if (!result) throw std::runtime_error(result.error().to_string());
  return std::move(*result);
}

std::string response(int status, const std::string& reason, const std::string& body,
                     const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + extra_headers + "Connection: close\r\n\r\n" + body;
}

// Where a request's one callback puts its result.
struct Outcome {
  std::optional<Result<HttpResponse>> result;
  int calls = 0;
  HttpClient::Callback callback() {
    return [this](Result<HttpResponse> r) {
      ++calls;
      result.emplace(std::move(r));
    };
  }
};

class HttpsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_self_signed_certificate(cert_, key_, "IP:127.0.0.1");
    loop_ = must(event::EventLoop::create());
  }

  // An HttpsClient on a ClientVhost that trusts `ca_file` (the fixture keeps the vhost).
  std::unique_ptr<HttpsClient> make_client(std::string ca_file, HttpsOptions options = {}) {
    vhost_ = must(ClientVhost::create(*loop_, ClientOptions{std::move(ca_file), "", true}));
    return must(HttpsClient::create(*vhost_, options));
  }

  static HttpRequest post(std::uint16_t port, std::string path, std::string body = "",
                          const std::string& scheme = "https") {
    HttpRequest r;
    r.url = scheme + "://127.0.0.1:" + std::to_string(port) + path;
    r.body = std::move(body);
    r.timeout = kLimit;
    return r;
  }

  // Runs the loop until the request has its answer.
  const Result<HttpResponse>& await(Outcome& outcome) {
    if (!loop_->run_until([&] { return outcome.calls > 0; }, kLimit)) throw std::runtime_error("no answer in time");
    return *outcome.result;
  }

  testing::TempDir dir_{"webpushd-transport"};
  std::filesystem::path cert_ = dir_.path() / "cert.pem";
  std::filesystem::path key_ = dir_.path() / "key.pem";
  std::unique_ptr<event::EventLoop> loop_;
  std::unique_ptr<ClientVhost> vhost_;
};

TEST_F(HttpsClientTest, PostsHeadersAndBodyAndReadsTheResponse) {
  const std::string body("\x08\x01\x12\x00binary\r\n\r\nbody", 18);
  const std::string answer(
      "\x0a\x03"
      "abc\x00\xff",
      7);
  PeerRequest seen;
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    seen = testing::read_http_request(c);
    c.write(response(200, "OK", answer, "Content-Type: application/x-protobuf\r\n"));
  });
  auto client = make_client(cert_);
  HttpRequest request = post(peer.port(), "/checkin?x=1", body);
  request.headers = {{"Content-Type", "application/x-protobuf"}, {"Authorization", "AidLogin 1:2"}};
  Outcome outcome;
  client->request(request, outcome.callback());
  EXPECT_EQ(outcome.calls, 0);  // never from inside request()
  EXPECT_EQ(client->in_flight(), 1u);

  const auto& result = await(outcome);
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->status, 200);
  EXPECT_TRUE(result->body == answer);
  EXPECT_EQ(result->content_type, "application/x-protobuf");
  peer.join();
  EXPECT_EQ(peer.failure(), "");
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/checkin?x=1");
  EXPECT_EQ(seen.headers["content-type"], "application/x-protobuf");
  EXPECT_EQ(seen.headers["authorization"], "AidLogin 1:2");
  EXPECT_EQ(seen.headers["content-length"], std::to_string(body.size()));
  EXPECT_THAT(seen.headers["user-agent"], StartsWith("webpushd/"));
  EXPECT_EQ(seen.headers["host"], "127.0.0.1:" + std::to_string(peer.port()));
  EXPECT_TRUE(seen.body == body);
  EXPECT_TRUE(loop_->run_until([&] { return client->in_flight() == 0; }, kLimit));
  EXPECT_EQ(outcome.calls, 1);
}

TEST_F(HttpsClientTest, ClientErrorStatusIsAResponse) {
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    (void)testing::read_http_request(c);
    c.write(response(404, "Not Found", "Error=NOT_FOUND", "Content-Type: text/plain\r\n"));
  });
  auto client = make_client(cert_);
  Outcome outcome;
  client->request(post(peer.port(), "/c2dm/register3", "app=x"), outcome.callback());
  const auto& result = await(outcome);
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->status, 404);
  EXPECT_EQ(result->body, "Error=NOT_FOUND");
  EXPECT_EQ(result->content_type, "text/plain");
}

TEST_F(HttpsClientTest, ReadsAChunkedResponse) {
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    (void)testing::read_http_request(c);
    c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n");
    c.write("7\r\n{\"a\":1,\r\n");
    c.write("6\r\n\"b\":2}\r\n0\r\n\r\n");
  });
  auto client = make_client(cert_);
  Outcome outcome;
  client->request(post(peer.port(), "/v1/registrations", "{}"), outcome.callback());
  const auto& result = await(outcome);
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "{\"a\":1,\"b\":2}");
}

TEST_F(HttpsClientTest, ResponseWithoutLengthEndsWithTheConnection) {
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    (void)testing::read_http_request(c);
    c.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\ntoken=abc");
    c.shutdown();
  });
  auto client = make_client(cert_);
  Outcome outcome;
  client->request(post(peer.port(), "/r", "x=1"), outcome.callback());
  const auto& result = await(outcome);
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(result->body, "token=abc");
}

TEST_F(HttpsClientTest, DeclaredBodyOverTheLimitIsRefused) {
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    (void)testing::read_http_request(c);
    c.write(response(200, "OK", std::string(5000, 'x')));
  });
  auto client = make_client(cert_, HttpsOptions{1000});
  Outcome outcome;
  client->request(post(peer.port(), "/big"), outcome.callback());
  const auto& result = await(outcome);
  ASSERT_FALSE(result);
  EXPECT_TRUE(result.error().is(Errc::too_large)) << result.error();
  EXPECT_THAT(result.error().message(), HasSubstr("1000 bytes"));
}

TEST_F(HttpsClientTest, UndeclaredBodyOverTheLimitIsRefused) {
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    (void)testing::read_http_request(c);
    c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 4; ++i) c.write("400\r\n" + std::string(1024, 'y') + "\r\n");
    c.write("0\r\n\r\n");
    c.wait_for_end();
  });
  auto client = make_client(cert_, HttpsOptions{3000});
  Outcome outcome;
  client->request(post(peer.port(), "/big"), outcome.callback());
  const auto& result = await(outcome);
  ASSERT_FALSE(result);
  EXPECT_TRUE(result.error().is(Errc::too_large)) << result.error();
  EXPECT_THAT(result.error().message(), HasSubstr("3000 bytes"));
}

TEST_F(HttpsClientTest, NoAnswerTimesOut) {
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    (void)testing::read_http_request(c);
    c.wait_for_end();  // until the client gives up
  });
  auto client = make_client(cert_);
  HttpRequest request = post(peer.port(), "/slow", "x");
  request.timeout = Duration{300};
  Outcome outcome;
  client->request(request, outcome.callback());
  const auto& result = await(outcome);
  ASSERT_FALSE(result);
  EXPECT_TRUE(result.error().is(Errc::timeout)) << result.error();
  EXPECT_TRUE(loop_->run_until([&] { return peer.done(); }, kLimit));  // the connection was dropped
}

TEST_F(HttpsClientTest, UntrustedCertificateIsATlsError) {
  Peer peer(cert_, key_, [](PeerConnection&) {});
  auto client = make_client("");  // the system store alone
  Outcome outcome;
  client->request(post(peer.port(), "/"), outcome.callback());
  const auto& result = await(outcome);
  ASSERT_FALSE(result);
  EXPECT_TRUE(result.error().is(Errc::tls)) << result.error();
  EXPECT_THAT(result.error().message(), HasSubstr("not trusted"));
}

TEST_F(HttpsClientTest, RefusedConnectionIsAConnectError) {
  SilentPort closed(false);
  auto client = make_client(cert_);
  Outcome outcome;
  client->request(post(closed.port(), "/"), outcome.callback());
  const auto& result = await(outcome);
  ASSERT_FALSE(result);
  EXPECT_TRUE(result.error().is(Errc::connect)) << result.error();
}

TEST_F(HttpsClientTest, PlainHttpOnlyToLoopback) {
  Peer peer("", "", [&](PeerConnection& c) {
    (void)testing::read_http_request(c);
    c.write(response(200, "OK", "plain"));
  });
  auto client = make_client(cert_);
  Outcome loopback;
  client->request(post(peer.port(), "/", "", "http"), loopback.callback());
  const auto& ok = await(loopback);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->body, "plain");

  Outcome remote;
  HttpRequest request;
  request.url = "http://push.example.net/register";
  client->request(request, remote.callback());
  EXPECT_EQ(remote.calls, 0);  // never from inside request()
  const auto& refused = await(remote);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().is(Errc::bad_url)) << refused.error();
}

TEST_F(HttpsClientTest, RefusesUnusableRequests) {
  auto client = make_client(cert_);
  struct Row {
    std::string name;
    std::function<void(HttpRequest&)> change;
    Errc code;
  };
  const Row rows[] = {
      {"wss scheme", [](HttpRequest& r) { r.url = "wss://127.0.0.1/"; }, Errc::bad_url},
      {"no URL", [](HttpRequest& r) { r.url = ""; }, Errc::bad_url},
      {"line break in a value",
       [](HttpRequest& r) {
         r.headers = {{"X-A", "1\r\nX-B: 2"}};
       },
       Errc::bad_request},
      {"space in a name",
       [](HttpRequest& r) {
         r.headers = {{"X A", "1"}};
       },
       Errc::bad_request},
      {"Content-Length given",
       [](HttpRequest& r) {
         r.headers = {{"content-length", "3"}};
       },
       Errc::bad_request},
      {"Host given",
       [](HttpRequest& r) {
         r.headers = {{"Host", "evil"}};
       },
       Errc::bad_request},
      {"method with a space", [](HttpRequest& r) { r.method = "PO ST"; }, Errc::bad_request},
  };
  for (const auto& row : rows) {
    HttpRequest request = post(443, "/");
    row.change(request);
    Outcome outcome;
    client->request(request, outcome.callback());
    const auto& result = await(outcome);
    ASSERT_FALSE(result) << row.name;
    EXPECT_TRUE(result.error().is(row.code)) << row.name << ": " << result.error();
  }
}

TEST_F(HttpsClientTest, DestroyingTheClientCancelsWithoutCallingBack) {
  std::atomic<bool> asked{false};
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    (void)testing::read_http_request(c);
    asked = true;
    c.wait_for_end();
  });
  auto client = make_client(cert_);
  Outcome outcome;
  client->request(post(peer.port(), "/", "x"), outcome.callback());
  ASSERT_TRUE(loop_->run_until([&] { return asked.load(); }, kLimit));  // in flight: the peer has the request
  client.reset();
  ASSERT_TRUE(loop_->run_until([&] { return peer.done(); }, kLimit));  // its connection went away
  peer.join();
  EXPECT_EQ(peer.failure(), "");
  EXPECT_EQ(outcome.calls, 0);
}

}  // namespace
}  // namespace webpush::transport
