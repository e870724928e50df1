// The floor for tests/bench/footprint.sh: the libraries any daemon of this
// design needs, used the least it can, and nothing else — a libwebsockets client
// context with TLS (OpenSSL's init, the system trust store as libwebsockets loads
// it), one P-256 key pair and ECDH, an SQLite database in WAL mode, libstdc++.
// It prints "ready" and sleeps until killed; footprint.sh reads its memory as it
// reads the daemon's. What the daemon weighs above this is its own.
//
//   footprint-floor DIR
#include <unistd.h>

#include <cstdio>
#include <string>

#include <libwebsockets.h>
#include <openssl/evp.h>
#include <sqlite3.h>

namespace {

bool p256_ecdh() {
  EVP_PKEY* ours = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  EVP_PKEY* theirs = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(ours, nullptr);
  unsigned char secret[32];
  std::size_t n = sizeof secret;
  const bool ok = ctx != nullptr && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, theirs) == 1 &&
                  EVP_PKEY_derive(ctx, secret, &n) == 1;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(theirs);
  EVP_PKEY_free(ours);
  return ok;
}

bool sqlite_wal(const std::string& dir) {
  sqlite3* db = nullptr;
  const bool ok = sqlite3_open((dir + "/floor.db").c_str(), &db) == SQLITE_OK &&
                  sqlite3_exec(db,
                               "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t(k TEXT PRIMARY KEY, v BLOB);"
                               "INSERT OR REPLACE INTO t VALUES('k', x'00');",
                               nullptr, nullptr, nullptr) == SQLITE_OK;
  return ok;  // the connection stays open, as the daemon's does
}

lws_context* tls_client_context() {
  lws_set_log_level(0, nullptr);
  static const lws_protocols kProtocols[] = {{"floor", lws_callback_http_dummy, 0, 0, 0, nullptr, 0},
                                             {nullptr, nullptr, 0, 0, 0, nullptr, 0}};
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.protocols = kProtocols;
  return lws_create_context(&info);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("usage: footprint-floor DIR\n", stderr);
    return 2;
  }
  lws_context* context = tls_client_context();
  if (context == nullptr || !p256_ecdh() || !sqlite_wal(argv[1])) {
    std::fputs("footprint-floor: set-up failed\n", stderr);
    return 1;
  }
  std::puts("ready");
  std::fflush(stdout);
  for (;;) ::pause();
}
