// wss:// end to end: the embedded service with a certificate made here, the
// daemon trusting it through --ca-file, and the two refusals a user agent must
// make — a certificate from an unknown CA, and one for another host name.
#include <gtest/gtest.h>

#include "support/certificate.h"
#include "support/daemon_process.h"
#include "support/service_process.h"
#include "support/support.h"

namespace webpush::testing {
namespace {

class TlsTest : public ::testing::Test {
 protected:
  TempDir tmp{"webpushd-tls"};
  std::filesystem::path cert = tmp.path() / "cert.pem";
  std::filesystem::path key = tmp.path() / "key.pem";

  std::string wss_url(const ServiceProcess& s) { return "wss://127.0.0.1:" + std::to_string(s.port()) + "/"; }
};

TEST_F(TlsTest, ConnectsWhenTheCaFileVouchesForTheHost) {
  write_self_signed_certificate(cert, key, "IP:127.0.0.1");
  ServiceProcess service(
      {.state_dir = tmp.path() / "svc", .extra_args = {"--tls-cert", cert.string(), "--tls-key", key.string()}});
  DaemonProcess daemon(
      {.state_dir = tmp.path() / "ua", .server = wss_url(service), .extra_args = {"--ca-file", cert.string()}});
  daemon.wait_log("connected to wss://127.0.0.1");
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(TlsTest, RefusesACertificateFromAnUnknownCa) {
  write_self_signed_certificate(cert, key, "IP:127.0.0.1");
  ServiceProcess service(
      {.state_dir = tmp.path() / "svc", .extra_args = {"--tls-cert", cert.string(), "--tls-key", key.string()}});
  DaemonProcess daemon({.state_dir = tmp.path() / "ua", .server = wss_url(service)});
  daemon.wait_log("disconnected: TLS error");
  EXPECT_EQ(daemon.log().find("connected to"), std::string::npos) << daemon.log();
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(TlsTest, RefusesACertificateForAnotherHost) {
  write_self_signed_certificate(cert, key, "DNS:push.example.com");
  ServiceProcess service(
      {.state_dir = tmp.path() / "svc", .extra_args = {"--tls-cert", cert.string(), "--tls-key", key.string()}});
  DaemonProcess daemon(
      {.state_dir = tmp.path() / "ua", .server = wss_url(service), .extra_args = {"--ca-file", cert.string()}});
  daemon.wait_log("disconnected: TLS error");
  EXPECT_EQ(daemon.log().find("connected to"), std::string::npos) << daemon.log();
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(TlsTest, PlainWsToANonLoopbackHostIsRefused) {
  std::string output;
  const int rc = ServiceProcess::run_once(
      {"--state-dir", (tmp.path() / "ua").string(), "--server", "ws://push.example.com/", "run"}, output);
  EXPECT_EQ(rc, 2) << output;
  EXPECT_NE(output.find("refusing plain ws://"), std::string::npos) << output;
}

}  // namespace
}  // namespace webpush::testing
