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
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "webpush/core/error.h"
#include "webpush/protocol/session.h"
#include "webpush/transport/connection.h"
#include "webpush/transport/errc.h"

namespace webpush::fakes {

/// The test's end of one fake connection.
class FakeLink {
 public:
  explicit FakeLink(transport::ConnectionListener& listener) : listener_(&listener) {}

  // ---- scripting: each calls the listener as the real transport would ---------
  /// The WebSocket upgrade succeeded.
  void open() {
    check_live("open");
    if (opened_) throw std::logic_error("fake connection: open() twice");
    opened_ = true;
    listener_->on_open();
  }
  /// A text frame arrived.
  void receive(std::string_view frame) {
    check_live("receive");
    if (!opened_) throw std::logic_error("fake connection: receive() before open()");
    listener_->on_text(frame);
  }
  /// A frame over the size limit arrived and was dropped by the transport.
  void receive_oversized(std::size_t bytes) {
    check_live("receive_oversized");
    if (!opened_) throw std::logic_error("fake connection: receive_oversized() before open()");
    listener_->on_oversized_frame(bytes);
  }
  /// The connection ended without our close(): the listener's on_closed.
  void drop(protocol::DisconnectReason reason, int close_code = 0, std::string detail = "dropped by the test") {
    check_live("drop");
    dropped_ = true;
    listener_->on_closed(reason, close_code, std::move(detail));
  }

  // ---- inspection ----------------------------------------------------------------
  /// Frames sent while the connection was open to sending, in order.
  [[nodiscard]] const std::vector<std::string>& sent() const noexcept { return sent_; }
  /// sent(), each parsed as JSON (`{}` parses as an empty object).
  [[nodiscard]] std::vector<nlohmann::json> sent_json() const {
    std::vector<nlohmann::json> out;
    out.reserve(sent_.size());
    for (const auto& frame : sent_) out.push_back(nlohmann::json::parse(frame));
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
  /// Frames the code tried to send after close() (dropped).
  [[nodiscard]] const std::vector<std::string>& sent_after_close() const noexcept { return sent_after_close_; }
  [[nodiscard]] bool opened() const noexcept { return opened_; }
  /// close() was called by the code under test.
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// drop() was scripted by the test.
  [[nodiscard]] bool dropped() const noexcept { return dropped_; }
  /// The code under test destroyed its Connection object.
  [[nodiscard]] bool destroyed() const noexcept { return destroyed_; }
  /// Forgets the frames sent so far (to assert on what comes next).
  void clear_sent() noexcept { sent_.clear(); }
  /// Called with each frame as it is sent (before close()), e.g. to look at the
  /// world at the moment an ack goes out.
  void set_send_observer(std::function<void(std::string_view)> observer) { observer_ = std::move(observer); }

  // ---- called by FakeConnection ----------------------------------------------------
  void on_send(std::string text) {
    if (closed_) {
      sent_after_close_.push_back(std::move(text));
      return;
    }
    if (observer_) observer_(text);
    sent_.push_back(std::move(text));
  }
  void on_close() noexcept { closed_ = true; }
  void on_destroy() noexcept { destroyed_ = true; }

 private:
  void check_live(std::string_view what) const {
    if (closed_ || destroyed_ || dropped_) {
      throw std::logic_error("fake connection: " + std::string(what) + "() on a connection that is " +
                             (destroyed_ ? "destroyed"
                              : closed_  ? "closed"
                                         : "dropped"));
    }
  }

  transport::ConnectionListener* listener_;  // not owned; valid until the connection is closed or destroyed
  std::vector<std::string> sent_;
  std::vector<std::string> sent_after_close_;
  std::function<void(std::string_view)> observer_;
  bool opened_ = false;
  bool closed_ = false;
  bool dropped_ = false;
  bool destroyed_ = false;
};

/// The Connection handed to the code under test; all it does lands in its FakeLink.
class FakeConnection final : public transport::Connection {
 public:
  explicit FakeConnection(std::shared_ptr<FakeLink> link) : link_(std::move(link)) {}
  FakeConnection(const FakeConnection&) = delete;
  FakeConnection& operator=(const FakeConnection&) = delete;
  ~FakeConnection() override { link_->on_destroy(); }

  void send(std::string text) override { link_->on_send(std::move(text)); }
  void close() override { link_->on_close(); }

 private:
  std::shared_ptr<FakeLink> link_;
};

class FakeConnectionFactory final : public transport::ConnectionFactory {
 public:
  Result<std::unique_ptr<transport::Connection>> connect(transport::ConnectionListener& listener) override {
    ++attempts_;
    if (!failures_.empty()) {
      Error e = std::move(failures_.front());
      failures_.pop_front();
      return tl::unexpected(std::move(e));
    }
    links_.push_back(std::make_shared<FakeLink>(listener));
    return std::unique_ptr<transport::Connection>(std::make_unique<FakeConnection>(links_.back()));
  }

  /// The next connect() fails with `code` (queued: call again to fail several).
  void fail_next_connect(transport::Errc code = transport::Errc::connect,
                         std::string message = "fake: connection refused") {
    failures_.emplace_back(code, std::move(message));
  }

  /// Every connect() call, failed ones included.
  [[nodiscard]] int attempts() const noexcept { return attempts_; }
  /// The connections handed out, oldest first.
  [[nodiscard]] const std::vector<std::shared_ptr<FakeLink>>& links() const noexcept { return links_; }
  [[nodiscard]] std::size_t connections() const noexcept { return links_.size(); }
  /// The newest connection. Throws std::logic_error when there is none.
  [[nodiscard]] FakeLink& last() const {
    if (links_.empty()) throw std::logic_error("fake connection factory: no connection was made");
    return *links_.back();
  }

 private:
  int attempts_ = 0;
  std::deque<Error> failures_;
  std::vector<std::shared_ptr<FakeLink>> links_;
};

}  // namespace webpush::fakes
