// `--trace` end to end: `webpushd serve` on loopback, `run --trace`, a
// subscription made through the daemon and messages sent with `webpushd send`;
// the trace must show every layer of the round trip in order (name, TCP, no
// TLS for ws://, upgrade, hello both ways, register, the notification, decrypt,
// inbox commit, ack, sink), and never an auth secret, a private key or a whole
// ciphertext. Then `subscribe --trace` over wss:// for the TLS handshake, with a
// trusted certificate and with one from an unknown CA.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/certificate.h"
#include "support/daemon_process.h"
#include "support/secrets.h"
#include "support/service_process.h"
#include "support/support.h"
#include "support/trace_lines.h"
#include "support/web_push.h"
#include "webpush/core/base64url.h"
#include "webpush/core/bytes.h"

namespace webpush::testing {
namespace trace_test {

using nlohmann::json;

// Expects, after line `from`, a line of `event` for which `pred` holds; returns
// its index (or lines.size() after reporting the failure).
std::size_t expect_next(const std::vector<TraceLine>& lines, std::size_t from, const std::string& event,
                        const std::function<bool(const TraceLine&)>& pred, const std::string& what) {
  for (std::size_t i = from == std::string::npos ? 0 : from + 1; i < lines.size(); ++i) {
    if (lines[i].event == event && pred(lines[i])) return i;
  }
  std::string all;
  for (const auto& l : lines) all += l.text + "\n";
  ADD_FAILURE() << "no " << event << " line (" << what << ") after line " << from << " of the trace:\n" << all;
  return lines.size();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

auto frame_with(std::string needle) {
  return [needle = std::move(needle)](const TraceLine& l) { return contains(l.at("frame"), needle); };
}

// ---- what must never be in a trace ------------------------------------------------------

// No secret in any spelling, and no run of base64url long enough to be a whole
// ciphertext, key or endpoint token (channel IDs and versions are 36 and 32).
void expect_nothing_secret(const std::vector<TraceLine>& lines, const std::vector<Bytes>& secrets) {
  static const std::regex kLongRun("[A-Za-z0-9_-]{40,}");
  for (const auto& l : lines) {
    for (const auto& secret : secrets) {
      for (const auto& spelling : spellings(secret)) {
        EXPECT_FALSE(contains(l.text, spelling)) << "a secret, as '" << spelling << "', in: " << l.text;
      }
    }
    EXPECT_FALSE(std::regex_search(l.text, kLongRun)) << "a long base64url run in: " << l.text;
  }
}

// The length a shortened frame gives for `"key":"prefix…(N)"`, or -1.
long shortened_length(const std::string& frame, const std::string& key) {
  const std::regex re("\"" + key + "\":\"[A-Za-z0-9_-]{0,8}…\\(([0-9]+)\\)\"");
  std::smatch m;
  return std::regex_search(frame, m, re) ? std::stol(m[1].str()) : -1;
}

std::string write_subscription(const std::filesystem::path& file, const PushSubscription& sub) {
  std::ofstream(file)
      << json{{"endpoint", sub.endpoint}, {"keys", {{"p256dh", sub.p256dh}, {"auth", sub.auth}}}}.dump();
  return file.string();
}

// ---- run --trace over ws:// ------------------------------------------------------------

// The lines of one message, from the frame that brought it to the sink that took it.
void expect_message_path(const std::vector<TraceLine>& lines, std::size_t from, const std::string& version,
                         const std::string& encoding, std::size_t plaintext) {
  const auto is = [&](const TraceLine& l) { return l.at("id") == version; };
  const auto in = expect_next(lines, from, "ws.in", is, "the notification");
  const auto dec = expect_next(lines, in, "decrypt.ok", is, "its decrypt step");
  if (in < lines.size() && dec < lines.size()) {
    const TraceLine& d = lines[dec];
    EXPECT_EQ(d.at("encoding"), encoding);
    EXPECT_EQ(d.at("plaintext"), std::to_string(plaintext));
    EXPECT_EQ(d.at("records"), "1");
    EXPECT_EQ(d.at("padding"), "0");
    EXPECT_EQ(d.at("rs"), "4096");
    EXPECT_EQ(d.at("subscription"), "traced");
    // The frame's shortened data and the decrypt step agree on the body's size.
    const long data_chars = shortened_length(lines[in].at("frame"), "data");
    ASSERT_GT(data_chars, 0) << lines[in].text;
    const std::size_t body = std::stoul(d.at("body"));
    EXPECT_EQ(static_cast<std::size_t>(data_chars), (body * 4 + 2) / 3) << lines[in].text << "\n" << d.text;
    EXPECT_FALSE(d.has("payload")) << "the plaintext is never traced";
  }
  const auto committed = expect_next(lines, dec, "inbox.committed", is, "the inbox commit");
  const auto ack = expect_next(
      lines, committed, "ack.sent", [&](const TraceLine& l) { return is(l) && l.at("code") == "100"; }, "the ack");
  expect_next(lines, ack, "ws.out", frame_with("\"version\":\"" + version + "\""), "the ack frame");
  expect_next(
      lines, committed, "sink.delivered", [&](const TraceLine& l) { return is(l) && l.at("sink") == "jsonl"; },
      "the JSON-lines sink");
}

TEST(Trace, RunShowsEveryLayerOfARoundTripAndNoSecret) {
  TempDir tmp{"webpushd-trace"};
  const auto ua_dir = tmp.path() / "ua";
  ServiceProcess service({.state_dir = tmp.path() / "svc"});
  DaemonProcess daemon({.state_dir = ua_dir, .server = service.ws_url(), .extra_args = {"--no-notify", "--trace"}});
  daemon.wait_log("http.upgrade");

  const auto sub = subscribe(ua_dir, service.ws_url(), "traced");  // through the running daemon
  const std::string sub_file = write_subscription(tmp.path() / "sub.json", sub);
  const std::vector<std::pair<std::string, std::string>> sends = {{"aes128gcm", "what crosses the wire"},
                                                                  {"aesgcm", "and the legacy coding"}};
  std::vector<std::string> versions;
  for (const auto& [encoding, text] : sends) {
    std::string output;
    ASSERT_EQ(ServiceProcess::run_once({"send", sub_file, "--payload", text, "--encoding", encoding}, output), 0)
        << output;
    const json event = daemon.wait_event([&](const json& j) { return j.value("payload", "") == text; });
    versions.push_back(event.at("version").get<std::string>());
    daemon.wait_log("ack.sent id=" + versions.back());
  }
  daemon.wait_log(versions.back() + "\"}]}");  // the last ack frame written; stop() reads the rest
  const Secrets stored = read_secrets(ua_dir / "webpushd.db", "traced");
  EXPECT_EQ(daemon.stop(), 0);

  const auto lines = trace_lines(daemon.log());
  const std::string host_port = service.ws_url().substr(5, service.ws_url().size() - 6);  // ws://H:P/ → H:P
  auto i = expect_next(
      lines, std::string::npos, "connect.start", [&](const TraceLine& l) { return l.at("url") == service.ws_url(); },
      "the attempt");
  const std::string conn = i < lines.size() ? lines[i].at("conn") : "?";
  const auto same_conn = [&](const TraceLine& l) { return l.at("conn") == conn; };
  i = expect_next(
      lines, i, "dns.answer",
      [&](const TraceLine& l) {
        return same_conn(l) && l.at("host") == "127.0.0.1" && l.at("addresses") == "127.0.0.1";
      },
      "the address");
  i = expect_next(
      lines, i, "tcp.connected",
      [&](const TraceLine& l) {
        return same_conn(l) && l.at("remote") == host_port && l.at("local").rfind("127.0.0.1:", 0) == 0 && l.has("ms");
      },
      "local and remote address");
  i = expect_next(lines, i, "tls.none", same_conn, "ws:// has no TLS");
  i = expect_next(
      lines, i, "http.upgrade",
      [&](const TraceLine& l) {
        return same_conn(l) && l.at("status") == "101" && l.at("protocol") == "push-notification";
      },
      "101 with the sub-protocol");
  i = expect_next(lines, i, "ws.out", frame_with(R"("messageType":"hello")"), "the hello");
  i = expect_next(
      lines, i, "ws.in",
      [](const TraceLine& l) {
        return contains(l.at("frame"), R"("messageType":"hello")") && contains(l.at("frame"), R"("status":200)") &&
               shortened_length(l.at("frame"), "uaid") == 32;
      },
      "the hello reply, uaid shortened");
  i = expect_next(lines, i, "ws.out", frame_with(R"("messageType":"register")"), "the register request");
  i = expect_next(
      lines, i, "ws.in",
      [](const TraceLine& l) {
        return contains(l.at("frame"), R"("messageType":"register")") && contains(l.at("frame"), "/wpush/") &&
               contains(l.at("frame"), "…(");
      },
      "the register reply, endpoint shortened");
  for (std::size_t k = 0; k < versions.size(); ++k) {
    expect_message_path(lines, i, versions[k], sends[k].first, sends[k].second.size());
  }
  expect_next(
      lines, i, "ws.closed", [&](const TraceLine& l) { return same_conn(l) && l.at("code") == "1000"; },
      "the close at SIGTERM");
  for (const auto& l : lines) EXPECT_NE(l.event, "tls.handshake") << l.text;

  const auto auth = base64url_decode(sub.auth);
  ASSERT_TRUE(auth && auth->size() == 16u);
  ASSERT_EQ(stored.private_key.size(), 32u);
  expect_nothing_secret(lines, {*auth, stored.auth_secret, stored.private_key});
  std::printf("[ measure  ] %zu trace lines for a subscription and two messages; every layer in order, no secret\n",
              lines.size());
}

// ---- subscribe --trace over wss:// --------------------------------------------------------

class TraceTls : public ::testing::Test {
 protected:
  TempDir tmp{"webpushd-trace-tls"};
  std::filesystem::path cert = tmp.path() / "cert.pem";
  std::filesystem::path key = tmp.path() / "key.pem";

  std::string wss_url(const ServiceProcess& s) { return "wss://127.0.0.1:" + std::to_string(s.port()) + "/"; }
};

TEST_F(TraceTls, SubscribeShowsTheHandshakeWithATrustedCertificate) {
  write_self_signed_certificate(cert, key, "IP:127.0.0.1");
  ServiceProcess service(
      {.state_dir = tmp.path() / "svc", .extra_args = {"--tls-cert", cert.string(), "--tls-key", key.string()}});
  std::string output;
  const int rc = ServiceProcess::run_once({"--state-dir", (tmp.path() / "ua").string(), "--server", wss_url(service),
                                           "subscribe", "--name", "t", "--trace", "--ca-file", cert.string()},
                                          output);
  ASSERT_EQ(rc, 0) << output;
  const auto lines = trace_lines(output);
  auto i = expect_next(
      lines, std::string::npos, "connect.start", [](const TraceLine&) { return true; }, "");
  i = expect_next(
      lines, i, "dns.answer", [](const TraceLine&) { return true; }, "");
  i = expect_next(
      lines, i, "tcp.connected", [](const TraceLine&) { return true; }, "");
  i = expect_next(
      lines, i, "tls.handshake",
      [](const TraceLine& l) {
        return l.at("verify") == "ok" && l.at("version").rfind("TLSv1.", 0) == 0 && !l.at("cipher").empty() &&
               l.at("subject") == "CN=webpushd test" && l.has("ms");
      },
      "version, cipher, subject, verified");
  i = expect_next(
      lines, i, "http.upgrade", [](const TraceLine& l) { return l.at("status") == "101"; }, "the upgrade");
  i = expect_next(lines, i, "ws.out", frame_with(R"("messageType":"hello")"), "the hello");
  i = expect_next(lines, i, "ws.in", frame_with(R"("messageType":"hello")"), "the hello reply");
  i = expect_next(lines, i, "ws.out", frame_with(R"("messageType":"register")"), "the register request");
  i = expect_next(lines, i, "ws.in", frame_with(R"("pushEndpoint":"https://127.0.0.1:)"), "the register reply");
  expect_next(
      lines, i, "ws.closed", [](const TraceLine& l) { return l.at("reason") == "client close"; }, "done");

  // The subscription JSON on stdout carries the auth secret; no trace line does.
  std::string sub_line;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() == '{') sub_line = line;
  }
  ASSERT_FALSE(sub_line.empty()) << output;
  const auto auth = base64url_decode(parse_subscription(json::parse(sub_line)).auth);
  ASSERT_TRUE(auth);
  expect_nothing_secret(lines, {*auth});
}

TEST_F(TraceTls, SubscribeShowsWhyAnUnknownCaIsRefused) {
  write_self_signed_certificate(cert, key, "IP:127.0.0.1");
  ServiceProcess service(
      {.state_dir = tmp.path() / "svc", .extra_args = {"--tls-cert", cert.string(), "--tls-key", key.string()}});
  std::string output;
  const int rc = ServiceProcess::run_once({"--state-dir", (tmp.path() / "ua").string(), "--server", wss_url(service),
                                           "subscribe", "--name", "t", "--trace", "--timeout", "1"},
                                          output);
  EXPECT_EQ(rc, 1) << output;
  const auto lines = trace_lines(output);
  auto i = expect_next(
      lines, std::string::npos, "tcp.connected", [](const TraceLine&) { return true; }, "");
  i = expect_next(
      lines, i, "tls.failed",
      [](const TraceLine& l) { return contains(l.at("verify"), "self-signed") && contains(l.at("alert"), "sent"); },
      "the verification result and the alert sent");
  i = expect_next(
      lines, i, "ws.closed", [](const TraceLine& l) { return l.at("reason") == "TLS error"; }, "the failure");
  expect_next(
      lines, i, "reconnect.scheduled", [](const TraceLine& l) { return std::stol(l.at("delay_ms")) > 0; }, "the retry");
  for (const auto& l : lines) EXPECT_NE(l.event, "http.upgrade") << l.text;
}

}  // namespace trace_test
}  // namespace webpush::testing
