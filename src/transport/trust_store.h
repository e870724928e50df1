// Internal: the client trust store of the transport layer — the system's CA
// certificates plus ClientOptions::ca_file — and the client TLS context the
// TLS stream and the HTTPS client verify servers with (the WebSocket client
// fills libwebsockets' context through trust_system_store()).
//
// Thread: any (OpenSSL contexts are not tied to a thread).
#pragma once

#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "webpush/core/error.h"

namespace webpush::transport::detail {

/// Adds the system trust store to `ctx`: the hashed directory (/etc/ssl/certs,
/// or $SSL_CERT_DIR), whose certificates OpenSSL reads only when a handshake
/// needs them, else OpenSSL's default paths; $SSL_CERT_FILE is honoured either way.
void trust_system_store(SSL_CTX* ctx) noexcept;

/// A client TLS context: TLS 1.2 or later, the server's certificate verified
/// against the system store plus `ca_file` (PEM; empty for none). Each SSL made
/// from it still needs the expected host name (SSL_set1_host / set1_ip_asc).
/// While one lives, a call with the same `ca_file` shares it (each holds a
/// copy of the trust store's index, and more with $SSL_CERT_FILE).
/// Errors: Errc::setup (OpenSSL refused; `ca_file` is not readable PEM certificates).
Result<std::shared_ptr<SSL_CTX>> client_tls_context(const std::string& ca_file);

}  // namespace webpush::transport::detail
