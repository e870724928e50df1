#include "trace_fields.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fmt/format.h>

namespace webpush::transport::detail {

namespace {

std::atomic<std::uint64_t> g_next_trace_conn{1};

// An X.509 name as RFC 2253 text ("CN=push.example.net,O=…").
std::string name_text(const X509_NAME* name) {
  if (name == nullptr) return "";
  const std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

}  // namespace

std::uint64_t next_trace_conn() noexcept { return g_next_trace_conn.fetch_add(1, std::memory_order_relaxed); }

std::chrono::nanoseconds since(std::chrono::steady_clock::time_point t) noexcept {
  return std::chrono::steady_clock::now() - t;
}

std::string socket_end(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((peer ? getpeername(fd, sa, &len) : getsockname(fd, sa, &len)) != 0) return "?";
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    return fmt::format("[{}]:{}", text, ntohs(in6->sin6_port));
  }
  if (ss.ss_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in4->sin_addr, text, sizeof text);
    return fmt::format("{}:{}", text, ntohs(in4->sin_port));
  }
  return "?";
}

void trace_dns_literal(std::uint64_t conn, std::string_view host) noexcept {
  event::trace("dns.answer", [&](event::TraceFields& f) {
    f.add("conn", conn).add("host", host).add("addresses", host).add("source", "literal");
  });
}

void trace_dns_result(std::uint64_t conn, std::string_view host, const Result<std::vector<std::string>>& addresses,
                      std::chrono::nanoseconds elapsed) noexcept {
  event::trace(addresses ? "dns.answer" : "dns.failed", [&](event::TraceFields& f) {
    f.add("conn", conn).add("host", host);
    if (addresses) {
      f.add("addresses", joined(*addresses)).add("source", "resolver");
    } else {
      f.add("error", addresses.error().message());
    }
    f.add_ms("ms", elapsed);
  });
}

void add_socket_ends(event::TraceFields& f, int fd) {
  f.add("local", socket_end(fd, false)).add("remote", socket_end(fd, true));
}

void add_tls_fields(event::TraceFields& f, const ssl_st* ssl) {
  f.add("version", SSL_get_version(ssl));
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) f.add("cipher", SSL_CIPHER_get_name(cipher));
  if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) f.add("sni", sni);
  if (const X509* cert = SSL_get0_peer_certificate(ssl)) {
    f.add("subject", name_text(X509_get_subject_name(cert))).add("issuer", name_text(X509_get_issuer_name(cert)));
  }
  const long verify = SSL_get_verify_result(ssl);
  f.add("verify", verify == X509_V_OK ? "ok" : X509_verify_cert_error_string(verify));
}

std::string alert_text(int where, int value) {
  return fmt::format("{} {}", (where & SSL_CB_READ) != 0 ? "received" : "sent", SSL_alert_desc_string_long(value));
}

void trace_closed(std::string_view name, std::uint64_t conn, std::string_view reason, int code, int status,
                  std::string_view detail, std::chrono::steady_clock::time_point start) noexcept {
  event::trace(name, [&](event::TraceFields& f) {
    f.add("conn", conn).add("reason", reason);
    if (code != 0) f.add("code", code);
    if (status != 0) f.add("status", status);
    if (!detail.empty()) f.add("detail", detail);
    f.add_ms("after_ms", since(start));
  });
}

}  // namespace webpush::transport::detail
