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
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webpush/core/error.h"
#include "webpush/protocol/session.h"
#include "webpush/transport/errc.h"
#include "webpush/transport/stream.h"

namespace webpush::fakes {

/// The test's end of one fake stream.
class FakeStreamLink {
 public:
  explicit FakeStreamLink(transport::StreamListener& listener) : listener_(&listener) {}

  // ---- scripting: each calls the listener as the real stream would ----------------
  /// The stream connected (TLS handshake done).
  void open() {
    check_live("open");
    if (opened_) throw std::logic_error("fake stream: open() twice");
    opened_ = true;
    listener_->on_open();
  }
  /// Bytes arrived (any split the test likes; not empty).
  void receive(std::string_view bytes) {
    check_live("receive");
    if (!opened_) throw std::logic_error("fake stream: receive() before open()");
    if (bytes.empty()) throw std::logic_error("fake stream: receive() of nothing");
    listener_->on_data(bytes);
  }
  /// The stream ended without our close() (or never opened): on_closed.
  void drop(protocol::DisconnectReason reason, std::string detail = "dropped by the test") {
    check_live("drop");
    dropped_ = true;
    listener_->on_closed(reason, std::move(detail));
  }

  // ---- inspection ------------------------------------------------------------------
  /// What send() got while the stream was open to sending, one entry per call.
  [[nodiscard]] const std::vector<std::string>& sent() const noexcept { return sent_; }
  /// sent(), concatenated: the bytes the server would have read.
  [[nodiscard]] std::string sent_bytes() const {
    std::string all;
    for (const auto& chunk : sent_) all += chunk;
    return all;
  }
  /// What the code tried to send after close() or after the stream ended (dropped).
  [[nodiscard]] const std::vector<std::string>& sent_after_close() const noexcept { return sent_after_close_; }
  [[nodiscard]] bool opened() const noexcept { return opened_; }
  /// close() was called by the code under test.
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// drop() was scripted by the test.
  [[nodiscard]] bool dropped() const noexcept { return dropped_; }
  /// The code under test destroyed its StreamConnection.
  [[nodiscard]] bool destroyed() const noexcept { return destroyed_; }
  /// Forgets what was sent so far (to assert on what comes next).
  void clear_sent() noexcept { sent_.clear(); }

  // ---- called by FakeStream ----------------------------------------------------------
  void on_send(std::string bytes) {
    if (closed_ || dropped_) {
      sent_after_close_.push_back(std::move(bytes));
      return;
    }
    sent_.push_back(std::move(bytes));
  }
  void on_close() noexcept { closed_ = true; }
  void on_destroy() noexcept { destroyed_ = true; }

 private:
  void check_live(std::string_view what) const {
    if (closed_ || destroyed_ || dropped_) {
      throw std::logic_error("fake stream: " + std::string(what) + "() on a stream that is " +
                             (destroyed_ ? "destroyed"
                              : closed_  ? "closed"
                                         : "dropped"));
    }
  }

  transport::StreamListener* listener_;  // not owned; valid until the stream is closed, dropped or destroyed
  std::vector<std::string> sent_;
  std::vector<std::string> sent_after_close_;
  bool opened_ = false;
  bool closed_ = false;
  bool dropped_ = false;
  bool destroyed_ = false;
};

/// The StreamConnection handed to the code under test; all it does lands in its link.
class FakeStream final : public transport::StreamConnection {
 public:
  explicit FakeStream(std::shared_ptr<FakeStreamLink> link) : link_(std::move(link)) {}
  FakeStream(const FakeStream&) = delete;
  FakeStream& operator=(const FakeStream&) = delete;
  ~FakeStream() override { link_->on_destroy(); }

  void send(std::string bytes) override { link_->on_send(std::move(bytes)); }
  void close() override { link_->on_close(); }

 private:
  std::shared_ptr<FakeStreamLink> link_;
};

class FakeStreamFactory final : public transport::StreamConnectionFactory {
 public:
  Result<std::unique_ptr<transport::StreamConnection>> connect(transport::StreamListener& listener) override {
    ++attempts_;
    if (!failures_.empty()) {
      Error e = std::move(failures_.front());
      failures_.pop_front();
      return tl::unexpected(std::move(e));
    }
    links_.push_back(std::make_shared<FakeStreamLink>(listener));
    return std::unique_ptr<transport::StreamConnection>(std::make_unique<FakeStream>(links_.back()));
  }

  /// The next connect() fails with `code` (queued: call again to fail several).
  void fail_next_connect(transport::Errc code = transport::Errc::connect,
                         std::string message = "fake: cannot make a socket") {
    failures_.emplace_back(code, std::move(message));
  }

  /// Every connect() call, failed ones included.
  [[nodiscard]] int attempts() const noexcept { return attempts_; }
  /// The streams handed out, oldest first.
  [[nodiscard]] const std::vector<std::shared_ptr<FakeStreamLink>>& links() const noexcept { return links_; }
  [[nodiscard]] std::size_t streams() const noexcept { return links_.size(); }
  /// The newest stream. Throws std::logic_error when there is none.
  [[nodiscard]] FakeStreamLink& last() const {
    if (links_.empty()) throw std::logic_error("fake stream factory: no stream was made");
    return *links_.back();
  }

 private:
  int attempts_ = 0;
  std::deque<Error> failures_;
  std::vector<std::shared_ptr<FakeStreamLink>> links_;
};

}  // namespace webpush::fakes
