// wss:// end to end: the embedded service with a certificate made here, the
// daemon trusting it through --ca-file, and the two refusals a user agent must
// make — a certificate from an unknown CA, and one for another host name.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "support/certificate.h"
#include "support/daemon_process.h"
#include "support/service_process.h"
#include "support/support.h"

namespace webpush::testing {
namespace {

// OpenSSL's name for a CA in a hashed directory: the subject's hash, ".0".
std::string hash_link_name(const std::filesystem::path& pem) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(pem.c_str(), "r"), &std::fclose);
  if (!f) throw SupportError("cannot read " + pem.string());
  std::unique_ptr<X509, void (*)(X509*)> x(PEM_read_X509(f.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!x) throw SupportError("not a PEM certificate: " + pem.string());
  int ok = 0;
  const unsigned long hash = X509_NAME_hash_ex(X509_get_subject_name(x.get()), nullptr, nullptr, &ok);
  char name[16];
  std::snprintf(name, sizeof name, "%08lx.0", hash);
  return name;
}

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

// The system store is read through its hashed directory (issuers loaded as a
// handshake needs them, not the whole bundle at start-up): a CA hash-linked
// into $SSL_CERT_DIR is trusted without --ca-file.
TEST_F(TlsTest, TrustsTheSystemStoreThroughItsHashedDirectory) {
  write_self_signed_certificate(cert, key, "IP:127.0.0.1");
  const auto store = tmp.path() / "certs";
  std::filesystem::create_directories(store);
  std::filesystem::copy_file(cert, store / "test-ca.pem");
  std::filesystem::create_symlink("test-ca.pem", store / hash_link_name(cert));  // what `openssl rehash` makes
  ServiceProcess service(
      {.state_dir = tmp.path() / "svc", .extra_args = {"--tls-cert", cert.string(), "--tls-key", key.string()}});
  DaemonProcess daemon({.state_dir = tmp.path() / "ua",
                        .server = wss_url(service),
                        .env = {"SSL_CERT_DIR=" + store.string(), "SSL_CERT_FILE=/nonexistent"}});
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
