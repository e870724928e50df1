// `webpushd serve` as a process: its first stdout line, signals, restarts with
// the state it keeps in SQLite, and its errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fixture.h"

namespace webpush::testing {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class Lifecycle : public ServiceTest {};

// A socket listening on an ephemeral loopback port, to provoke "address in use".
class Occupied {
 public:
  Occupied() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 1) != 0) {
      throw SupportError("cannot occupy a port");
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Occupied() { ::close(fd_); }
  Occupied(const Occupied&) = delete;
  Occupied& operator=(const Occupied&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TEST_F(Lifecycle, FirstLineIsTheBoundWebSocketUrl) {
  start();
  EXPECT_EQ(service().ws_url(), "ws://127.0.0.1:" + std::to_string(port()) + "/");
  EXPECT_NE(port(), 0);
  // Logs follow the URL line; once a request was answered, the start-up line is written.
  EXPECT_EQ(http_request(port(), "GET", "/health").status, 200);
  EXPECT_THAT(service().log(), HasSubstr("push service: WebSocket " + service().ws_url()));
}

TEST_F(Lifecycle, SigtermAndSigintExitCleanly) {
  start();
  EXPECT_EQ(service().stop(SIGTERM), 0);
  start();
  auto ua = connect();
  ua.hello();
  EXPECT_EQ(service().stop(SIGINT), 0);
}

TEST_F(Lifecycle, RegistrationsAndStoredMessagesSurviveARestart) {
  const auto key = make_key();
  auto v1 = offline_subscriber();
  const std::string v2_endpoint = [&] {
    auto ua = connect();
    ua.hello(v1.uaid);
    ua.barrier();
    return ua.subscribe(new_channel_id(), padded_public_key(key));
  }();
  wait_disconnected();
  std::vector<std::string> stored;
  for (int i = 0; i < 3; ++i) {
    stored.push_back(message_id(push(v1.endpoint, 600, {{"Topic", "topic" + std::to_string(i)}})));
  }
  stored.push_back(message_id(push(v1.endpoint, 600, {{"Content-Encoding", "aes128gcm"}}, "payload")));

  service().restart();

  auto ua = connect();
  ASSERT_EQ(ua.hello(v1.uaid), v1.uaid) << "the uaid is remembered";
  const auto got = ua.barrier();
  std::vector<std::string> versions;
  for (const auto& n : got) versions.push_back(n.version);
  EXPECT_THAT(versions, ElementsAreArray(stored));
  ASSERT_TRUE(got.back().data);
  EXPECT_EQ(got.back().headers->encoding, "aes128gcm");
  for (const auto& n : got) ua.ack(n.channel_id, n.version);
  ua.barrier();

  // Both endpoints still work, the v2 one still with its key only.
  EXPECT_EQ(push(v1.endpoint).status, 201);
  EXPECT_EQ(ua.recv_notification().channel_id, v1.channel_id);
  const auto r = post(v2_endpoint, [&] {
    auto h = vapid(key, v2_endpoint, crypto::VapidScheme::vapid);
    h.emplace_back("TTL", "60");
    return h;
  }());
  EXPECT_EQ(r.status, 201) << r.body;
  expect_error(post(v2_endpoint, {{"TTL", "60"}}), 401, 109);
}

TEST_F(Lifecycle, UnregisteredEndpointsStayGoneAfterARestart) {
  auto s = subscribe();
  ASSERT_EQ(s.ua.unregister(s.channel_id).status, 200);
  s.ua.ws().send_close();
  service().restart();
  expect_error(push(s.endpoint), 410, 106);
}

TEST_F(Lifecycle, AcceptedMessagesSurviveSigkill) {
  auto s = offline_subscriber();
  const auto id = message_id(push(s.endpoint, 600));
  service().kill();
  service().restart();
  auto ua = connect();
  ua.hello(s.uaid);
  const auto got = ua.barrier();
  ASSERT_THAT(got, SizeIs(1));
  EXPECT_EQ(got[0].version, id);
}

TEST_F(Lifecycle, PortInUseIsAOneLineErrorAndExit1) {
  Occupied busy;
  std::string out;
  const int status = ServiceProcess::run_once(
      {"serve", "--listen", "127.0.0.1:" + std::to_string(busy.port()), "--state-dir", (tmp_.path() / "s").string()},
      out);
  EXPECT_EQ(status, 1) << out;
  EXPECT_THAT(out, HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(busy.port())));
  EXPECT_THAT(out, HasSubstr("in use"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

TEST_F(Lifecycle, BadOptionValuesAreUsageErrors) {
  const std::string dir = (tmp_.path() / "s").string();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--listen", "127.0.0.1"},
           {"--listen", "127.0.0.1:99999"},
           {"--listen", "nohost.example:80"},
           {"--listen", "127.0.0.1:0", "--public-url", "ftp://x"},
           {"--listen", "127.0.0.1:0", "--ws-ping-interval", "0"},
           {"--listen", "127.0.0.1:0", "--max-data-bytes", "100"},
           {"--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent"},
       }) {
    std::vector<std::string> full = {"serve", "--state-dir", dir};
    full.insert(full.end(), args.begin(), args.end());
    std::string out;
    EXPECT_EQ(ServiceProcess::run_once(full, out), 2) << args.back() << ": " << out;
    EXPECT_THAT(out, HasSubstr("webpushd: ")) << out;
  }
}

TEST_F(Lifecycle, OneServicePerStateDirectory) {
  start();
  std::string out;
  const int status = ServiceProcess::run_once(
      {"serve", "--listen", "127.0.0.1:0", "--state-dir", (tmp_.path() / "state").string()}, out);
  EXPECT_EQ(status, 1) << out;
  EXPECT_THAT(out, HasSubstr("another webpushd serve"));
}

TEST_F(Lifecycle, PublicUrlNamesTheEndpoints) {
  start({"--public-url", "https://push.example.test/"});
  auto ua = connect();
  ua.hello();
  const auto e = ua.subscribe(new_channel_id());
  EXPECT_EQ(e.rfind("https://push.example.test/wpush/v1/", 0), 0u) << e;
  EXPECT_EQ(post(e, {{"TTL", "5"}}).status, 201);
  const auto r = push(e);
  EXPECT_EQ(r.header("location")->rfind("https://push.example.test/m/", 0), 0u);
}

}  // namespace
}  // namespace webpush::testing
