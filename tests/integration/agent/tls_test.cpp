// wss:// end to end: the embedded service with a certificate made here, the
// daemon trusting it through --ca-file, and the two refusals a user agent must
// make — a certificate from an unknown CA, and one for another host name.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <fstream>

#include "support/daemon_process.h"
#include "support/service_process.h"
#include "support/support.h"

namespace webpush::testing {
namespace {

// Writes a self-signed P-256 certificate with the given subjectAltName and its key.
void make_certificate(const std::filesystem::path& cert, const std::filesystem::path& key, const std::string& san) {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, pkey);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("webpushd test"), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (const auto& [nid, value] :
       {std::pair{NID_subject_alt_name, san}, std::pair{NID_basic_constraints, std::string("critical,CA:TRUE")}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    ASSERT_NE(ext, nullptr);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  ASSERT_GT(X509_sign(x, pkey, EVP_sha256()), 0);
  FILE* f = std::fopen(cert.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key.c_str(), "w");
  PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(pkey);
}

class TlsTest : public ::testing::Test {
 protected:
  TempDir tmp{"webpushd-tls"};
  std::filesystem::path cert = tmp.path() / "cert.pem";
  std::filesystem::path key = tmp.path() / "key.pem";

  std::string wss_url(const ServiceProcess& s) { return "wss://127.0.0.1:" + std::to_string(s.port()) + "/"; }
};

TEST_F(TlsTest, ConnectsWhenTheCaFileVouchesForTheHost) {
  make_certificate(cert, key, "IP:127.0.0.1");
  ServiceProcess service(
      {.state_dir = tmp.path() / "svc", .extra_args = {"--tls-cert", cert.string(), "--tls-key", key.string()}});
  DaemonProcess daemon(
      {.state_dir = tmp.path() / "ua", .server = wss_url(service), .extra_args = {"--ca-file", cert.string()}});
  daemon.wait_log("connected to wss://127.0.0.1");
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(TlsTest, RefusesACertificateFromAnUnknownCa) {
  make_certificate(cert, key, "IP:127.0.0.1");
  ServiceProcess service(
      {.state_dir = tmp.path() / "svc", .extra_args = {"--tls-cert", cert.string(), "--tls-key", key.string()}});
  DaemonProcess daemon({.state_dir = tmp.path() / "ua", .server = wss_url(service)});
  daemon.wait_log("disconnected: TLS error");
  EXPECT_EQ(daemon.log().find("connected to"), std::string::npos) << daemon.log();
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(TlsTest, RefusesACertificateForAnotherHost) {
  make_certificate(cert, key, "DNS:push.example.com");
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
