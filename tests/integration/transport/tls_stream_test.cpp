// TlsStream against a TLS peer on 127.0.0.1 (a thread with blocking OpenSSL and
// a certificate made for the test); the stream runs on a real EventLoop, which
// the tests drive with run_until (its limit is a deadline for a broken build,
// not a timing assertion).
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "certificate.h"
#include "peer.h"
#include "support.h"
#include "webpush/event/loop.h"
#include "webpush/transport/tls_stream.h"
#include "webpush/transport/ws_client.h"

namespace webpush::transport {
namespace {

using protocol::DisconnectReason;
using ::testing::HasSubstr;
using testing::Peer;
using testing::PeerConnection;
using testing::SilentPort;

constexpr Duration kLimit{5000};

template <class T>
T must(Result<T> result) {
  if (!result) throw std::runtime_error(result.error().to_string());
  return std::move(*result);
}

// `n` bytes of a pattern that differs with `seed` and does not repeat every 256 bytes.
std::string pattern(std::size_t n, unsigned seed) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 31 + i / 251 + seed) & 0xff);
  return out;
}

struct Recorder final : StreamListener {
  int opened = 0;
  int pieces = 0;
  std::string data;
  int closes = 0;
  std::optional<DisconnectReason> reason;
  std::string detail;

  void on_open() override { ++opened; }
  void on_data(std::string_view bytes) override {
    ++pieces;
    data += bytes;
  }
  void on_closed(DisconnectReason r, std::string d) override {
    ++closes;
    reason = r;
    detail = std::move(d);
  }
};

class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_self_signed_certificate(cert_, key_, "IP:127.0.0.1");
    loop_ = must(event::EventLoop::create());
  }

  std::unique_ptr<ClientVhost> client(std::string ca_file) {
    return must(ClientVhost::create(*loop_, ClientOptions{std::move(ca_file), "", true}));
  }

  static std::unique_ptr<TlsStreamFactory> factory(ClientVhost& client, std::uint16_t port, Duration timeout = kLimit,
                                                   std::size_t max_queued = 1024 * 1024) {
    return must(TlsStreamFactory::create(client, TlsStreamOptions{"127.0.0.1", port, timeout, max_queued}));
  }

  bool run_until(const std::function<bool()>& done) { return loop_->run_until(done, kLimit); }

  testing::TempDir dir_{"webpushd-transport"};
  std::filesystem::path cert_ = dir_.path() / "cert.pem";
  std::filesystem::path key_ = dir_.path() / "key.pem";
  std::unique_ptr<event::EventLoop> loop_;
};

TEST_F(TlsStreamTest, CarriesBytesBothWaysInPieces) {
  std::string server_got;
  bool server_saw_end = false;
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    server_got = c.read_exact(18);
    c.write("pong-");
    c.write("done");
    server_saw_end = c.wait_for_end();
  });
  auto vhost = client(cert_);
  auto streams = factory(*vhost, peer.port());
  Recorder rec;
  auto stream = must(streams->connect(rec));
  stream->send("ping-1");  // queued until the stream is open
  ASSERT_TRUE(run_until([&] { return rec.opened == 1; }));
  stream->send("ping-2");
  stream->send("ping-3");
  ASSERT_TRUE(run_until([&] { return rec.data.size() >= 9; }));
  EXPECT_EQ(rec.data, "pong-done");

  stream->close();
  stream->send("after close");  // dropped
  ASSERT_TRUE(run_until([&] { return peer.done(); }));
  peer.join();
  EXPECT_EQ(peer.failure(), "");
  EXPECT_EQ(server_got, "ping-1ping-2ping-3");
  EXPECT_TRUE(server_saw_end);
  EXPECT_EQ(rec.closes, 0);  // nothing after close()
}

TEST_F(TlsStreamTest, CarriesLargeTransfersBothWays) {
  const std::string up = pattern(600 * 1024, 1);
  const std::string down = pattern(700 * 1024, 2);
  std::string server_got;
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    server_got = c.read_exact(up.size());
    c.write(down);
    c.wait_for_end();
  });
  auto vhost = client(cert_);
  auto streams = factory(*vhost, peer.port());
  Recorder rec;
  auto stream = must(streams->connect(rec));
  for (std::size_t at = 0; at < up.size(); at += 200 * 1024) stream->send(up.substr(at, 200 * 1024));
  ASSERT_TRUE(run_until([&] { return rec.data.size() >= down.size() || rec.closes > 0; }));
  EXPECT_EQ(rec.closes, 0) << rec.detail;
  EXPECT_TRUE(rec.data == down) << "received " << rec.data.size() << " bytes in " << rec.pieces << " pieces";
  EXPECT_GT(rec.pieces, 1);

  stream->close();
  ASSERT_TRUE(run_until([&] { return peer.done(); }));
  peer.join();
  EXPECT_EQ(peer.failure(), "");
  EXPECT_TRUE(server_got == up) << "the server read " << server_got.size() << " bytes";
}

TEST_F(TlsStreamTest, ServerCloseEndsTheStream) {
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    c.write("bye");
    c.shutdown();
  });
  auto vhost = client(cert_);
  auto streams = factory(*vhost, peer.port());
  Recorder rec;
  auto stream = must(streams->connect(rec));
  ASSERT_TRUE(run_until([&] { return rec.closes == 1; }));
  EXPECT_EQ(rec.opened, 1);
  EXPECT_EQ(rec.data, "bye");
  EXPECT_EQ(rec.reason, DisconnectReason::server_close);
  EXPECT_THAT(rec.detail, HasSubstr("127.0.0.1"));
  peer.join();
  EXPECT_EQ(peer.failure(), "");
}

TEST_F(TlsStreamTest, UntrustedCertificateIsATlsError) {
  Peer peer(cert_, key_, [](PeerConnection&) {});  // its handshake fails: the client refuses it
  auto vhost = client("");                         // the system store alone
  auto streams = factory(*vhost, peer.port());
  Recorder rec;
  auto stream = must(streams->connect(rec));
  ASSERT_TRUE(run_until([&] { return rec.closes == 1; }));
  EXPECT_EQ(rec.opened, 0);
  EXPECT_EQ(rec.reason, DisconnectReason::tls_error);
  EXPECT_THAT(rec.detail, HasSubstr("not trusted"));
  EXPECT_THAT(rec.detail, HasSubstr("self-signed"));
}

TEST_F(TlsStreamTest, CertificateForAnotherHostIsATlsError) {
  const auto other_cert = dir_.path() / "other.pem";
  const auto other_key = dir_.path() / "other.key";
  testing::write_self_signed_certificate(other_cert, other_key, "DNS:push.example.invalid");
  Peer peer(other_cert, other_key, [](PeerConnection&) {});
  auto vhost = client(other_cert);  // trusted, but not for 127.0.0.1
  auto streams = factory(*vhost, peer.port());
  Recorder rec;
  auto stream = must(streams->connect(rec));
  ASSERT_TRUE(run_until([&] { return rec.closes == 1; }));
  EXPECT_EQ(rec.reason, DisconnectReason::tls_error);
  EXPECT_THAT(rec.detail, HasSubstr("mismatch"));
}

TEST_F(TlsStreamTest, RefusedConnection) {
  SilentPort closed(false);
  auto vhost = client(cert_);
  auto streams = factory(*vhost, closed.port());
  Recorder rec;
  auto stream = must(streams->connect(rec));
  ASSERT_TRUE(run_until([&] { return rec.closes == 1; }));
  EXPECT_EQ(rec.opened, 0);
  EXPECT_EQ(rec.reason, DisconnectReason::connect_refused);
  EXPECT_THAT(rec.detail, HasSubstr("refused"));
}

TEST_F(TlsStreamTest, HandshakeWithoutAnswerTimesOut) {
  SilentPort silent(true);
  auto vhost = client(cert_);
  auto streams = factory(*vhost, silent.port(), Duration{300});
  Recorder rec;
  auto stream = must(streams->connect(rec));
  ASSERT_TRUE(run_until([&] { return rec.closes == 1; }));
  EXPECT_EQ(rec.reason, DisconnectReason::connect_timeout);
  EXPECT_THAT(rec.detail, HasSubstr("TLS handshake"));
}

TEST_F(TlsStreamTest, SendQueueOverTheLimitEndsTheStreamOnALaterTurn) {
  SilentPort silent(true);  // never opens: nothing is written
  auto vhost = client(cert_);
  auto streams = factory(*vhost, silent.port(), kLimit, 1000);
  Recorder rec;
  auto stream = must(streams->connect(rec));
  stream->send(std::string(600, 'a'));
  stream->send(std::string(600, 'b'));
  EXPECT_EQ(rec.closes, 0);  // not from inside send()
  ASSERT_TRUE(run_until([&] { return rec.closes == 1; }));
  EXPECT_EQ(rec.reason, DisconnectReason::io_error);
  EXPECT_THAT(rec.detail, HasSubstr("more than 1000 bytes"));
}

TEST_F(TlsStreamTest, FactoryRefusesWhatCannotWork) {
  auto vhost = client(cert_);
  auto no_port = TlsStreamFactory::create(*vhost, TlsStreamOptions{"127.0.0.1", 0});
  ASSERT_FALSE(no_port);
  EXPECT_TRUE(no_port.error().is(Errc::bad_url));
  auto no_host = TlsStreamFactory::create(*vhost, TlsStreamOptions{"", 5228});
  ASSERT_FALSE(no_host);
  EXPECT_TRUE(no_host.error().is(Errc::bad_url));
  auto bad_ca = client((dir_.path() / "missing.pem").string());
  auto unreadable = TlsStreamFactory::create(*bad_ca, TlsStreamOptions{"127.0.0.1", 5228});
  ASSERT_FALSE(unreadable);
  EXPECT_TRUE(unreadable.error().is(Errc::setup));
  EXPECT_THAT(unreadable.error().message(), HasSubstr("missing.pem"));
}

}  // namespace
}  // namespace webpush::transport
