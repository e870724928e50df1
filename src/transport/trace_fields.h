// Internal to the transport layer: the parts of the connection-level trace
// lines (docs/cli.md "Trace lines") that the WebSocket client and the TLS
// stream share, so that both write the same events with the same fields.
//
// Thread: any (the connection counter is atomic; the rest reads only its
// arguments).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/core/error.h"
#include "webpush/event/trace.h"

struct ssl_st;

namespace webpush::transport::detail {

/// The next connection number (`conn=`): from 1, unique in the process across
/// every kind of client connection.
[[nodiscard]] std::uint64_t next_trace_conn() noexcept;

/// Time from `t` to now.
[[nodiscard]] std::chrono::nanoseconds since(std::chrono::steady_clock::time_point t) noexcept;

/// "address:port" ("[address]:port" for IPv6) of the local or the peer's end
/// of a connected socket; "?" when it cannot be told.
[[nodiscard]] std::string socket_end(int fd, bool peer);

/// `dns.answer` for a host that is an IP literal (nothing to resolve).
void trace_dns_literal(std::uint64_t conn, std::string_view host) noexcept;

/// `dns.answer` (source=resolver) or `dns.failed` for a resolution that took `elapsed`.
void trace_dns_result(std::uint64_t conn, std::string_view host, const Result<std::vector<std::string>>& addresses,
                      std::chrono::nanoseconds elapsed) noexcept;

/// Adds `local` and `remote` of the connected socket `fd` (tcp.connected).
void add_socket_ends(event::TraceFields& f, int fd);

/// Adds what `ssl` knows of its handshake (tls.handshake, tls.failed):
/// `version`, `cipher`, `sni`, the peer certificate's `subject` and `issuer`
/// (RFC 2253), `verify` (`ok` or why it is not trusted). `ssl` is borrowed.
void add_tls_fields(event::TraceFields& f, const ssl_st* ssl);

/// A TLS alert from an info callback's `where` and `value`, for the `alert`
/// field: "sent unknown CA", "received handshake failure".
[[nodiscard]] std::string alert_text(int where, int value);

/// `name`, the end of a connection (`ws.closed`, `tls.closed`): `reason`, then `code`
/// and `status` when not 0, `detail` when not empty, `after_ms` since `start`.
void trace_closed(std::string_view name, std::uint64_t conn, std::string_view reason, int code, int status,
                  std::string_view detail, std::chrono::steady_clock::time_point start) noexcept;

}  // namespace webpush::transport::detail
