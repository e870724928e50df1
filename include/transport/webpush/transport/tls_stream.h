// The TLS byte stream (for MCS, mtalk.google.com:5228): TlsStreamFactory opens
// one stream per connect(), on the process's event loop.
//
//  - The host name is resolved off the loop thread (as the WebSocket client
//    does), the first address answered is connected to, without a proxy
//    (ClientOptions::proxy is not used), with TCP_NODELAY and, when
//    ClientOptions::tcp_keepalive, the same TCP keepalive as WebSocket clients.
//  - TLS 1.2 or later; the server's certificate is verified against the system
//    trust store plus ClientOptions::ca_file, and must be for `host` (its DNS
//    name, or its IP address for an IP literal). There is no way to skip this.
//  - An attempt that is not open (TLS handshake done) within connect_timeout
//    ends with connect_timeout; a refused connection with connect_refused; a
//    failed handshake or an untrusted certificate with tls_error; a name that
//    does not resolve with dns_failure. Once open: server_close when the server
//    ends the stream (close_notify or end of stream), io_error on a reset, a
//    write failure or a send queue over max_queued.
//  - with event::Trace on, traces the connection as the WebSocket client does
//    (connect.start with url=tls://host:port, the name, TCP, the TLS handshake,
//    tls.closed) and the bytes of each read and write (tls.in, tls.out: counts,
//    never content); off, each step costs one branch (docs/cli.md "Trace lines").
//
// libwebsockets 4.1 cannot make raw TLS client connections (its raw client
// starts TLS before the socket exists), so the stream drives its own socket and
// OpenSSL through event::FdWatch.
//
// Thread: the loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/event/loop.h"
#include "webpush/transport/errc.h"
#include "webpush/transport/stream.h"
#include "webpush/transport/ws_client.h"

struct ssl_ctx_st;

namespace webpush::transport {

struct TlsStreamOptions {
  std::string host;        ///< a DNS name or an IP literal; the certificate must be for it
  std::uint16_t port = 0;  ///< 1–65535
  /// From the start of an attempt (name resolution included) to the end of the
  /// TLS handshake; past it the attempt ends as connect_timeout.
  Duration connect_timeout{20 * 1000};
  /// Bytes queued by send() and not yet written; one more send() over it ends
  /// the stream with io_error (reported on a later turn of the loop).
  std::size_t max_queued = 1024 * 1024;
};

class TlsStreamFactory final : public StreamConnectionFactory {
 public:
  /// `client` is borrowed (its loop and options); it and its loop must outlive
  /// the factory and its streams. Errors: Errc::bad_url (empty host, port 0),
  /// Errc::setup (no TLS context; ca_file not readable PEM certificates).
  static Result<std::unique_ptr<TlsStreamFactory>> create(ClientVhost& client, TlsStreamOptions options);
  ~TlsStreamFactory() override;
  TlsStreamFactory(const TlsStreamFactory&) = delete;
  TlsStreamFactory& operator=(const TlsStreamFactory&) = delete;

  /// Starts one stream to host:port (see StreamConnectionFactory::connect). A
  /// stream may outlive the factory. Errors: Errc::connect (no socket could be made).
  Result<std::unique_ptr<StreamConnection>> connect(StreamListener& listener) override;

  [[nodiscard]] const TlsStreamOptions& options() const noexcept { return options_; }

 private:
  TlsStreamFactory(ClientVhost& client, TlsStreamOptions options) : client_(&client), options_(std::move(options)) {}

  ClientVhost* client_;
  TlsStreamOptions options_;
  std::shared_ptr<ssl_ctx_st> tls_;  // shared with the streams
};

}  // namespace webpush::transport
