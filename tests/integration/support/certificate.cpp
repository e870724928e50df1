#include "certificate.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <utility>

#include "support.h"

namespace webpush::testing {
namespace {

struct PemWriter {
  FILE* f;
  explicit PemWriter(const std::filesystem::path& path) : f(std::fopen(path.c_str(), "w")) {
    if (f == nullptr) throw SupportError("cannot write " + path.string());
  }
  ~PemWriter() { std::fclose(f); }
  PemWriter(const PemWriter&) = delete;
  PemWriter& operator=(const PemWriter&) = delete;
};

void add_extension(X509* x, X509V3_CTX& ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) throw SupportError("bad certificate extension " + value);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

}  // namespace

void write_self_signed_certificate(const std::filesystem::path& cert, const std::filesystem::path& key,
                                   const std::string& san) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  if (!pkey || !x) throw SupportError("cannot make a key or certificate");
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_set_pubkey(x.get(), pkey.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("webpushd test"), -1, -1,
                             0);
  X509_set_issuer_name(x.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  add_extension(x.get(), ctx, NID_subject_alt_name, san);
  add_extension(x.get(), ctx, NID_basic_constraints, "critical,CA:TRUE");
  if (X509_sign(x.get(), pkey.get(), EVP_sha256()) <= 0) throw SupportError("cannot sign the certificate");
  PEM_write_X509(PemWriter(cert).f, x.get());
  PEM_write_PrivateKey(PemWriter(key).f, pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
}

}  // namespace webpush::testing
