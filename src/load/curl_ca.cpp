#include "webpush/load/curl_ca.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>

namespace webpush::load {

CURLcode add_ca_file(CURL* /*easy*/, void* ssl_ctx, void* path) {
  X509_STORE* store = SSL_CTX_get_cert_store(static_cast<SSL_CTX*>(ssl_ctx));
  return X509_STORE_load_file(store, static_cast<const std::string*>(path)->c_str()) == 1 ? CURLE_OK
                                                                                          : CURLE_SSL_CACERT_BADFILE;
}

}  // namespace webpush::load
