#include "trust_store.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <system_error>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <fmt/format.h>

#include "webpush/transport/errc.h"

namespace webpush::transport::detail {

namespace {

// Whether `dir` holds OpenSSL's hash links (8 hex digits, '.', a number).
bool has_hash_links(const char* dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto dot = name.find('.');
    const auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (dot == 8 && name.size() > 9 && std::all_of(name.begin(), name.begin() + 8, hex) &&
        std::all_of(name.begin() + 9, name.end(), digit)) {
      return true;
    }
  }
  return false;
}

}  // namespace

// The hashed directory rather than the bundle file: the bundle would parse
// every certificate up front and hold ~1.7 MB of heap for the daemon's life.
void trust_system_store(SSL_CTX* ctx) noexcept {
  const char* dir = std::getenv(X509_get_default_cert_dir_env());
  if (dir == nullptr) dir = X509_get_default_cert_dir();
  const char* file = std::getenv(X509_get_default_cert_file_env());
  bool hashed = false;
  try {
    hashed = has_hash_links(dir);
  } catch (...) {  // out of memory while listing: fall back to the defaults
  }
  if (!hashed || SSL_CTX_load_verify_dir(ctx, dir) != 1) {
    SSL_CTX_set_default_verify_paths(ctx);
  } else if (file != nullptr) {
    SSL_CTX_load_verify_file(ctx, file);  // a missing file leaves the directory's store: nothing to report
  }
  ERR_clear_error();
}

Result<std::shared_ptr<SSL_CTX>> client_tls_context(const std::string& ca_file) {
  static std::mutex mutex;
  static std::map<std::string, std::weak_ptr<SSL_CTX>> live;
  const std::lock_guard<std::mutex> lock(mutex);
  if (auto shared = live[ca_file].lock()) return shared;
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), [](SSL_CTX* c) { SSL_CTX_free(c); });
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) {
    ERR_clear_error();
    return fail(Errc::setup, "OpenSSL cannot make a client TLS context");
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // libwebsockets retries a write with a moved buffer; idle connections give
  // their buffers back.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  trust_system_store(ctx.get());
  if (!ca_file.empty() && SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1) {
    ERR_clear_error();
    return fail(Errc::setup, fmt::format("cannot load CA file {}: not readable PEM certificates", ca_file));
  }
  live[ca_file] = ctx;
  return ctx;
}

}  // namespace webpush::transport::detail
