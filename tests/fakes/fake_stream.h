// A scripted byte stream (transport/stream.h): FakeStreamFactory records every
// connect() and hands out FakeStreams; the test drives each one through its
// FakeStreamLink (open, push bytes in, end it with a reason) and inspects what
// was sent and whether it was closed. A FakeStreamLink is shared with its stream
// and outlives it, so a test can still assert on a stream the code under test
// has destroyed.
//
// Contract the fake enforces (transport/stream.h): the listener hears nothing
// from a stream after close(), after it ended, or after its destruction;
// scripting such a stream, or opening one twice, throws std::logic_error (a
// test bug). Bytes sent after close() are dropped, as the real stream drops
// them, and kept apart in `sent_after_close` so that a test can assert there
// were none. Unlike the real stream, the fake calls the listener at once, from
// inside the test's scripting call.
//
// Thread: the test thread only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "fake_link_factory.h"
#include "webpush/protocol/session.h"
#include "webpush/transport/stream.h"

namespace webpush::fakes {

/// The byte stream's types and words for fake_link_factory.h.
struct StreamKind {
  using Factory = transport::StreamConnectionFactory;
  using Connection = transport::StreamConnection;
  using Listener = transport::StreamListener;
  static constexpr std::string_view kNoun = "stream";
  static constexpr std::string_view kRefused = "fake: cannot make a socket";
};

/// The test's end of one fake stream. Inherited: open() (the TLS handshake
/// done), the inspection (sent(), one entry per send() call; sent_after_close(),
/// opened(), closed(), dropped(), destroyed(), clear_sent()) and
/// on_close()/on_destroy().
class FakeStreamLink : public FakeLinkState<StreamKind> {
 public:
  explicit FakeStreamLink(transport::StreamListener& listener) : FakeLinkState(listener) {}

  // ---- scripting: each calls the listener as the real stream would ----------------
  /// Bytes arrived (any split the test likes; not empty).
  void receive(std::string_view bytes) {
    check_open("receive");
    if (bytes.empty()) fail("receive() of nothing");
    listener().on_data(bytes);
  }
  /// The stream ended without our close() (or never opened): on_closed.
  void drop(protocol::DisconnectReason reason, std::string detail = "dropped by the test") {
    mark_dropped("drop");
    listener().on_closed(reason, std::move(detail));
  }

  // ---- inspection ------------------------------------------------------------------
  /// sent(), concatenated: the bytes the server would have read.
  [[nodiscard]] std::string sent_bytes() const {
    std::string all;
    for (const auto& chunk : sent()) all += chunk;
    return all;
  }

  // ---- called by FakeStream ----------------------------------------------------------
  /// Bytes sent after close() or after the stream ended are kept apart.
  void on_send(std::string bytes) {
    if (closed() || dropped()) {
      keep_sent_after_close(std::move(bytes));
      return;
    }
    keep_sent(std::move(bytes));
  }
};

/// The StreamConnection handed to the code under test; all it does lands in its link.
using FakeStream = FakeLinkEnd<StreamKind, FakeStreamLink>;

class FakeStreamFactory final : public FakeLinkFactory<StreamKind, FakeStreamLink> {
 public:
  /// The streams handed out.
  [[nodiscard]] std::size_t streams() const noexcept { return links().size(); }
};

}  // namespace webpush::fakes
