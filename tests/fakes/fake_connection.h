// A scripted link to a push service: FakeConnectionFactory records every
// connect() and hands out FakeConnections; the test drives each one through its
// FakeLink (open, receive a frame, drop) and inspects what was sent and whether
// it was closed. A FakeLink is shared with its connection and outlives it, so a
// test can still assert on a connection the code under test has destroyed.
//
// Contract the fake enforces (transport/connection.h): the listener hears
// nothing from a connection after close() or after its destruction; scripting
// such a connection, or opening one twice, throws std::logic_error (a test bug).
// Frames sent after close() are dropped, as the real connection drops them, and
// kept apart in `sent_after_close` so that a test can assert there were none.
//
// Thread: the test thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_link_factory.h"
#include "webpush/protocol/session.h"
#include "webpush/transport/connection.h"

namespace webpush::fakes {

/// The WebSocket connection's types and words for fake_link_factory.h.
struct ConnectionKind {
  using Factory = transport::ConnectionFactory;
  using Connection = transport::Connection;
  using Listener = transport::ConnectionListener;
  static constexpr std::string_view kNoun = "connection";
  static constexpr std::string_view kRefused = "fake: connection refused";
};

/// The test's end of one fake connection. Inherited: open(), the inspection
/// (sent(), sent_after_close(), opened(), closed(), dropped(), destroyed(),
/// clear_sent()) and on_close()/on_destroy().
class FakeLink : public FakeLinkState<ConnectionKind> {
 public:
  explicit FakeLink(transport::ConnectionListener& listener) : FakeLinkState(listener) {}

  // ---- scripting: each calls the listener as the real transport would ---------
  /// A text frame arrived.
  void receive(std::string_view frame) {
    check_open("receive");
    listener().on_text(frame);
  }
  /// A frame over the size limit arrived and was dropped by the transport.
  void receive_oversized(std::size_t bytes) {
    check_open("receive_oversized");
    listener().on_oversized_frame(bytes);
  }
  /// The connection ended without our close(): the listener's on_closed.
  void drop(protocol::DisconnectReason reason, int close_code = 0, std::string detail = "dropped by the test") {
    mark_dropped("drop");
    listener().on_closed(reason, close_code, std::move(detail));
  }

  // ---- inspection ----------------------------------------------------------------
  /// sent(), each parsed as JSON (`{}` parses as an empty object).
  [[nodiscard]] std::vector<nlohmann::json> sent_json() const {
    std::vector<nlohmann::json> out;
    out.reserve(sent().size());
    for (const auto& frame : sent()) out.push_back(nlohmann::json::parse(frame));
    return out;
  }
  /// The sent frames whose messageType is `type` ("" selects pings `{}`).
  [[nodiscard]] std::vector<nlohmann::json> sent_of_type(std::string_view type) const {
    std::vector<nlohmann::json> out;
    for (auto& j : sent_json()) {
      if (j.value("messageType", std::string()) == type) out.push_back(std::move(j));
    }
    return out;
  }
  /// Called with each frame as it is sent (before close()), e.g. to look at the
  /// world at the moment an ack goes out.
  void set_send_observer(std::function<void(std::string_view)> observer) { observer_ = std::move(observer); }

  // ---- called by FakeConnection ----------------------------------------------------
  /// Frames sent after close() are kept apart; those sent after drop() are not.
  void on_send(std::string text) {
    if (closed()) {
      keep_sent_after_close(std::move(text));
      return;
    }
    if (observer_) observer_(text);
    keep_sent(std::move(text));
  }

 private:
  std::function<void(std::string_view)> observer_;
};

/// The Connection handed to the code under test; all it does lands in its FakeLink.
using FakeConnection = FakeLinkEnd<ConnectionKind, FakeLink>;

class FakeConnectionFactory final : public FakeLinkFactory<ConnectionKind, FakeLink> {
 public:
  /// The connections handed out.
  [[nodiscard]] std::size_t connections() const noexcept { return links().size(); }
};

}  // namespace webpush::fakes
