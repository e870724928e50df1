// TlsStream against a TLS peer on 127.0.0.1 (a thread with blocking OpenSSL and
// a certificate made for the test); the stream runs on a real EventLoop, which
// the tests drive with run_until (its limit is a deadline for a broken build,
// not a timing assertion). The trace tests read the lines it writes to a
// temporary file.
#include <cstddef>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "certificate.h"
#include "peer.h"
#include "support.h"
#include "trace_lines.h"
#include "webpush/event/loop.h"
#include "webpush/event/trace.h"
#include "webpush/transport/tls_stream.h"
#include "webpush/transport/ws_client.h"

namespace webpush::transport {
namespace {

using protocol::DisconnectReason;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using testing::Peer;
using testing::PeerConnection;
using testing::SilentPort;
using ::testing::StartsWith;

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

  /// A stream to 127.0.0.1:`port` that trusts cert_; what it reports goes to rec_.
  std::unique_ptr<StreamConnection> connect_to(std::uint16_t port, Duration timeout = kLimit,
                                               std::size_t max_queued = 1024 * 1024) {
    vhost_ = client(cert_);
    streams_ = factory(*vhost_, port, timeout, max_queued);
    return must(streams_->connect(rec_));
  }

  testing::TempDir dir_{"webpushd-transport"};
  std::filesystem::path cert_ = dir_.path() / "cert.pem";
  std::filesystem::path key_ = dir_.path() / "key.pem";
  std::unique_ptr<event::EventLoop> loop_;
  std::unique_ptr<ClientVhost> vhost_;         // connect_to's
  std::unique_ptr<TlsStreamFactory> streams_;  // connect_to's
  Recorder rec_;                               // what connect_to's stream reports
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
  auto stream = connect_to(peer.port());
  stream->send("ping-1");  // queued until the stream is open
  ASSERT_TRUE(run_until([&] { return rec_.opened == 1; }));
  stream->send("ping-2");
  stream->send("ping-3");
  ASSERT_TRUE(run_until([&] { return rec_.data.size() >= 9; }));
  EXPECT_EQ(rec_.data, "pong-done");

  stream->close();
  stream->send("after close");  // dropped
  ASSERT_TRUE(run_until([&] { return peer.done(); }));
  peer.join();
  EXPECT_EQ(peer.failure(), "");
  EXPECT_EQ(server_got, "ping-1ping-2ping-3");
  EXPECT_TRUE(server_saw_end);
  EXPECT_EQ(rec_.closes, 0);  // nothing after close()
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
  auto stream = connect_to(peer.port());
  for (std::size_t at = 0; at < up.size(); at += 200 * 1024) stream->send(up.substr(at, 200 * 1024));
  ASSERT_TRUE(run_until([&] { return rec_.data.size() >= down.size() || rec_.closes > 0; }));
  EXPECT_EQ(rec_.closes, 0) << rec_.detail;
  EXPECT_TRUE(rec_.data == down) << "received " << rec_.data.size() << " bytes in " << rec_.pieces << " pieces";
  EXPECT_GT(rec_.pieces, 1);

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
  auto stream = connect_to(peer.port());
  ASSERT_TRUE(run_until([&] { return rec_.closes == 1; }));
  EXPECT_EQ(rec_.opened, 1);
  EXPECT_EQ(rec_.data, "bye");
  EXPECT_EQ(rec_.reason, DisconnectReason::server_close);
  EXPECT_THAT(rec_.detail, HasSubstr("127.0.0.1"));
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
  auto stream = connect_to(closed.port());
  ASSERT_TRUE(run_until([&] { return rec_.closes == 1; }));
  EXPECT_EQ(rec_.opened, 0);
  EXPECT_EQ(rec_.reason, DisconnectReason::connect_refused);
  EXPECT_THAT(rec_.detail, HasSubstr("refused"));
}

TEST_F(TlsStreamTest, HandshakeWithoutAnswerTimesOut) {
  SilentPort silent(true);
  auto stream = connect_to(silent.port(), Duration{300});
  ASSERT_TRUE(run_until([&] { return rec_.closes == 1; }));
  EXPECT_EQ(rec_.reason, DisconnectReason::connect_timeout);
  EXPECT_THAT(rec_.detail, HasSubstr("TLS handshake"));
}

TEST_F(TlsStreamTest, SendQueueOverTheLimitEndsTheStreamOnALaterTurn) {
  SilentPort silent(true);  // never opens: nothing is written
  auto stream = connect_to(silent.port(), kLimit, 1000);
  stream->send(std::string(600, 'a'));
  stream->send(std::string(600, 'b'));
  EXPECT_EQ(rec_.closes, 0);  // not from inside send()
  ASSERT_TRUE(run_until([&] { return rec_.closes == 1; }));
  EXPECT_EQ(rec_.reason, DisconnectReason::io_error);
  EXPECT_THAT(rec_.detail, HasSubstr("more than 1000 bytes"));
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

namespace webpush::transport {
namespace {

// ---- trace lines ------------------------------------------------------------------

using webpush::testing::TraceLine;

// The lines tracing writes while it lives (tracing is off before and after).
class TraceCapture {
 public:
  TraceCapture() : file_(std::tmpfile()) {
    if (file_ == nullptr) throw std::runtime_error("no temporary file for the trace");
    event::Trace::enable(file_);
  }
  ~TraceCapture() {
    event::Trace::enable(nullptr);
    std::fclose(file_);
  }
  TraceCapture(const TraceCapture&) = delete;
  TraceCapture& operator=(const TraceCapture&) = delete;

  std::vector<TraceLine> lines() {
    std::fflush(file_);
    std::rewind(file_);
    std::vector<TraceLine> out;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, file_) != nullptr) {
      std::string line(buf);
      if (!line.empty() && line.back() == '\n') line.pop_back();
      if (auto t = webpush::testing::parse_trace_line(line)) {
        out.push_back(std::move(*t));
      } else {
        ADD_FAILURE() << "not a trace line: " << line;
      }
    }
    std::fseek(file_, 0, SEEK_END);
    return out;
  }

 private:
  std::FILE* file_;
};

std::string all_text(const std::vector<TraceLine>& lines) {
  std::string out;
  for (const auto& l : lines) out += l.text + "\n";
  return out;
}

// The events, in order.
std::vector<std::string> events(const std::vector<TraceLine>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(l.event);
  return out;
}

const TraceLine& only(const std::vector<TraceLine>& lines, const std::string& event) {
  const TraceLine* found = nullptr;
  for (const auto& l : lines) {
    if (l.event != event) continue;
    if (found != nullptr) throw std::runtime_error("more than one " + event + " line in:\n" + all_text(lines));
    found = &l;
  }
  if (found == nullptr) throw std::runtime_error("no " + event + " line in:\n" + all_text(lines));
  return *found;
}

std::size_t bytes_of(const std::vector<TraceLine>& lines, const std::string& event) {
  std::size_t n = 0;
  for (const auto& l : lines) {
    if (l.event == event) n += std::stoul(l.at("bytes"));
  }
  return n;
}

constexpr const char* kMs = "[0-9]+\\.[0-9]{3}";

TEST_F(TlsStreamTest, TracesTheConnectionAndItsBytes) {
  TraceCapture trace;
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    c.read_exact(5);
    c.write("world!");
    c.wait_for_end();
  });
  auto stream = connect_to(peer.port());
  stream->send("hello");
  ASSERT_TRUE(run_until([&] { return rec_.data.size() >= 6 || rec_.closes > 0; }));
  stream->close();  // sends close_notify at once: the peer ends without the loop
  peer.join();
  ASSERT_EQ(peer.failure(), "");

  auto lines = trace.lines();
  // tls.in may come in more than one piece.
  std::vector<std::string> seen = events(lines);
  std::erase(seen, "tls.in");
  EXPECT_EQ(seen, (std::vector<std::string>{"connect.start", "dns.answer", "tcp.connected", "tls.handshake", "tls.out",
                                            "tls.closed"}))
      << all_text(lines);
  const std::string conn = only(lines, "connect.start").at("conn");
  ASSERT_THAT(conn, MatchesRegex("[1-9][0-9]*"));
  for (const auto& l : lines) {
    EXPECT_EQ(l.at("conn"), conn) << l.text;
    EXPECT_EQ(l.text.find("hello"), std::string::npos) << "content in " << l.text;
    EXPECT_EQ(l.text.find("world"), std::string::npos) << "content in " << l.text;
  }
  const std::string port = std::to_string(peer.port());
  EXPECT_EQ(only(lines, "connect.start").at("url"), "tls://127.0.0.1:" + port);

  const auto& dns = only(lines, "dns.answer");
  EXPECT_EQ(dns.at("host"), "127.0.0.1");
  EXPECT_EQ(dns.at("addresses"), "127.0.0.1");
  EXPECT_EQ(dns.at("source"), "literal");

  const auto& tcp = only(lines, "tcp.connected");
  EXPECT_THAT(tcp.at("local"), MatchesRegex("127\\.0\\.0\\.1:[0-9]+"));
  EXPECT_EQ(tcp.at("remote"), "127.0.0.1:" + port);
  EXPECT_THAT(tcp.at("ms"), MatchesRegex(kMs));

  const auto& tls = only(lines, "tls.handshake");
  EXPECT_THAT(tls.at("version"), StartsWith("TLSv1."));
  EXPECT_TRUE(tls.has("cipher")) << tls.text;
  EXPECT_FALSE(tls.has("sni")) << "no SNI for an IP address: " << tls.text;
  EXPECT_EQ(tls.at("subject"), "CN=webpushd test");
  EXPECT_EQ(tls.at("issuer"), "CN=webpushd test");
  EXPECT_EQ(tls.at("verify"), "ok");
  EXPECT_FALSE(tls.has("alert")) << tls.text;
  EXPECT_THAT(tls.at("ms"), MatchesRegex(kMs));

  EXPECT_EQ(only(lines, "tls.out").at("bytes"), "5");
  EXPECT_EQ(bytes_of(lines, "tls.in"), 6u);
  const auto& closed = only(lines, "tls.closed");
  EXPECT_EQ(closed.at("reason"), "client close");
  EXPECT_FALSE(closed.has("detail")) << closed.text;
  EXPECT_THAT(closed.at("after_ms"), MatchesRegex(kMs));
}

TEST_F(TlsStreamTest, TracesTheServerEndingTheStream) {
  TraceCapture trace;
  Peer peer(cert_, key_, [&](PeerConnection& c) {
    c.write("bye");
    c.shutdown();
  });
  auto stream = connect_to(peer.port());
  ASSERT_TRUE(run_until([&] { return rec_.closes == 1; }));
  peer.join();

  const auto lines = trace.lines();
  EXPECT_EQ(bytes_of(lines, "tls.in"), 3u);
  const auto& closed = only(lines, "tls.closed");
  EXPECT_EQ(closed.at("reason"), "server closed the connection");
  EXPECT_EQ(closed.at("detail"), rec_.detail);
  EXPECT_EQ(events(lines).back(), "tls.closed") << all_text(lines);
}

TEST_F(TlsStreamTest, TracesAnUntrustedCertificate) {
  TraceCapture trace;
  Peer peer(cert_, key_, [](PeerConnection&) {});
  auto vhost = client("");  // the system store alone
  auto streams = factory(*vhost, peer.port());
  Recorder rec;
  auto stream = must(streams->connect(rec));
  ASSERT_TRUE(run_until([&] { return rec.closes == 1; }));

  const auto lines = trace.lines();
  EXPECT_EQ(events(lines),
            (std::vector<std::string>{"connect.start", "dns.answer", "tcp.connected", "tls.failed", "tls.closed"}))
      << all_text(lines);
  const auto& failed = only(lines, "tls.failed");
  EXPECT_EQ(failed.at("verify"), "self-signed certificate");
  EXPECT_THAT(failed.at("alert"), StartsWith("sent "));
  EXPECT_THAT(failed.at("ms"), MatchesRegex(kMs));
  const auto& closed = only(lines, "tls.closed");
  EXPECT_EQ(closed.at("reason"), "TLS error");
  EXPECT_THAT(closed.at("detail"), HasSubstr("not trusted"));
}

TEST_F(TlsStreamTest, TracesARefusedConnection) {
  TraceCapture trace;
  SilentPort closed_port(false);
  auto stream = connect_to(closed_port.port());
  ASSERT_TRUE(run_until([&] { return rec_.closes == 1; }));

  const auto lines = trace.lines();
  EXPECT_EQ(events(lines), (std::vector<std::string>{"connect.start", "dns.answer", "tls.closed"})) << all_text(lines);
  EXPECT_EQ(only(lines, "tls.closed").at("reason"), "connection refused or unreachable");
}

TEST_F(TlsStreamTest, TracesACloseBeforeTheHandshake) {
  TraceCapture trace;
  SilentPort silent(true);
  auto stream = connect_to(silent.port());
  stream->close();
  stream.reset();

  const auto lines = trace.lines();
  const auto& closed = only(lines, "tls.closed");
  EXPECT_EQ(closed.at("reason"), "client close");
  EXPECT_EQ(closed.at("detail"), "before the TLS handshake");
}

TEST_F(TlsStreamTest, TracesADestroyedStream) {
  TraceCapture trace;
  SilentPort silent(true);
  auto stream = connect_to(silent.port());
  stream.reset();

  const auto lines = trace.lines();
  const auto& closed = only(lines, "tls.closed");
  EXPECT_EQ(closed.at("reason"), "client close");
  EXPECT_EQ(closed.at("detail"), "the stream was destroyed");
}

struct WsRecorder final : ConnectionListener {
  int closes = 0;
  void on_open() override {}
  void on_text(std::string_view) override {}
  void on_oversized_frame(std::size_t) override {}
  void on_closed(DisconnectReason, int, std::string) override { ++closes; }
};

TEST_F(TlsStreamTest, ConnectionNumbersAreSharedWithTheWebSocketClient) {
  TraceCapture trace;
  SilentPort refused(false);
  auto vhost = client(cert_);
  WsRecorder ws_rec;
  auto ws = must(WsConnection::open(*vhost, ws_rec, WsOptions{"ws://127.0.0.1:" + std::to_string(refused.port())}));
  auto streams = factory(*vhost, refused.port());
  Recorder rec;
  auto stream = must(streams->connect(rec));
  auto ws2 = must(WsConnection::open(*vhost, ws_rec, WsOptions{"ws://127.0.0.1:" + std::to_string(refused.port())}));
  ASSERT_TRUE(run_until([&] { return rec.closes == 1 && ws_rec.closes == 2; }));

  std::vector<std::string> urls;
  std::vector<unsigned long> conns;
  for (const auto& l : trace.lines()) {
    if (l.event != "connect.start") continue;
    urls.push_back(l.at("url").substr(0, 6));
    conns.push_back(std::stoul(l.at("conn")));
  }
  ASSERT_EQ(urls, (std::vector<std::string>{"ws://1", "tls://", "ws://1"}));
  EXPECT_EQ(conns[1], conns[0] + 1);
  EXPECT_EQ(conns[2], conns[1] + 1);
}

}  // namespace
}  // namespace webpush::transport
