// What the scripted fakes of a link to a server share (fake_connection.h for the
// WebSocket connection, fake_stream.h for the byte stream): the link's state as
// the test sees it, the connection object handed to the code under test, and the
// factory that records every connect() and hands out a link each time.
//
// Each kind of link names its types and words in a Kind:
//   struct Kind {
//     using Factory = ...;     // the interface the fake factory implements
//     using Connection = ...;  // what Factory::connect() hands out
//     using Listener = ...;    // what Factory::connect() is given
//     static constexpr std::string_view kNoun = "...";     // in errors: "fake <noun>: ..."
//     static constexpr std::string_view kRefused = "...";  // fail_next_connect()'s default message
//   };
// and its link class derives from FakeLinkState<Kind>, adding the scripting
// calls that reach its listener and `void on_send(std::string)`.
//
// Thread: the test thread only.
#pragma once

#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webpush/core/error.h"
#include "webpush/transport/errc.h"

namespace webpush::fakes {

/// The test's end of one fake link: what it saw and the checks that keep the
/// listener from hearing anything after close(), drop() or destruction.
template <class Kind>
class FakeLinkState {
 public:
  using Listener = typename Kind::Listener;

  // ---- scripting -----------------------------------------------------------------
  /// The link connected: the listener's on_open.
  void open() {
    check_live("open");
    if (opened_) fail("open() twice");
    opened_ = true;
    listener_->on_open();
  }

  // ---- inspection ----------------------------------------------------------------
  /// What send() got while the link was open to sending, one entry per call.
  [[nodiscard]] const std::vector<std::string>& sent() const noexcept { return sent_; }
  /// What the code tried to send once the link no longer took it (dropped).
  [[nodiscard]] const std::vector<std::string>& sent_after_close() const noexcept { return sent_after_close_; }
  [[nodiscard]] bool opened() const noexcept { return opened_; }
  /// close() was called by the code under test.
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// drop() was scripted by the test.
  [[nodiscard]] bool dropped() const noexcept { return dropped_; }
  /// The code under test destroyed its connection object.
  [[nodiscard]] bool destroyed() const noexcept { return destroyed_; }
  /// Forgets what was sent so far (to assert on what comes next).
  void clear_sent() noexcept { sent_.clear(); }

  // ---- called by FakeLinkEnd ---------------------------------------------------------
  void on_close() noexcept { closed_ = true; }
  void on_destroy() noexcept { destroyed_ = true; }

 protected:
  explicit FakeLinkState(Listener& listener) : listener_(&listener) {}

  /// The listener, for a scripting call that has passed check_live().
  [[nodiscard]] Listener& listener() const noexcept { return *listener_; }

  /// Throws std::logic_error when the listener may no longer hear from the link.
  void check_live(std::string_view what) const {
    if (closed_ || destroyed_ || dropped_) {
      throw std::logic_error("fake " + std::string(Kind::kNoun) + ": " + std::string(what) + "() on a " +
                             std::string(Kind::kNoun) + " that is " +
                             (destroyed_ ? "destroyed"
                              : closed_  ? "closed"
                                         : "dropped"));
    }
  }
  /// check_live(), and the link must have been opened.
  void check_open(std::string_view what) const {
    check_live(what);
    if (!opened_) fail(std::string(what) + "() before open()");
  }
  /// Throws std::logic_error: the test scripted what the link cannot do.
  [[noreturn]] static void fail(std::string_view why) {
    throw std::logic_error("fake " + std::string(Kind::kNoun) + ": " + std::string(why));
  }

  /// Marks the link dropped; the caller then tells the listener.
  void mark_dropped(std::string_view what) {
    check_live(what);
    dropped_ = true;
  }
  void keep_sent(std::string data) { sent_.push_back(std::move(data)); }
  void keep_sent_after_close(std::string data) { sent_after_close_.push_back(std::move(data)); }

 private:
  Listener* listener_;  // not owned; valid until the link is closed, dropped or destroyed
  std::vector<std::string> sent_;
  std::vector<std::string> sent_after_close_;
  bool opened_ = false;
  bool closed_ = false;
  bool dropped_ = false;
  bool destroyed_ = false;
};

/// The connection handed to the code under test; all it does lands in its link.
template <class Kind, class Link>
class FakeLinkEnd final : public Kind::Connection {
 public:
  explicit FakeLinkEnd(std::shared_ptr<Link> link) : link_(std::move(link)) {}
  FakeLinkEnd(const FakeLinkEnd&) = delete;
  FakeLinkEnd& operator=(const FakeLinkEnd&) = delete;
  ~FakeLinkEnd() override { link_->on_destroy(); }

  void send(std::string data) override { link_->on_send(std::move(data)); }
  void close() override { link_->on_close(); }

 private:
  std::shared_ptr<Link> link_;
};

/// Records every connect() and hands out a FakeLinkEnd over a new Link, or the
/// failure the test queued.
template <class Kind, class Link>
class FakeLinkFactory : public Kind::Factory {
 public:
  Result<std::unique_ptr<typename Kind::Connection>> connect(typename Kind::Listener& listener) override {
    ++attempts_;
    if (!failures_.empty()) {
      Error e = std::move(failures_.front());
      failures_.pop_front();
      return tl::unexpected(std::move(e));
    }
    links_.push_back(std::make_shared<Link>(listener));
    return std::unique_ptr<typename Kind::Connection>(std::make_unique<FakeLinkEnd<Kind, Link>>(links_.back()));
  }

  /// The next connect() fails with `code` (queued: call again to fail several).
  void fail_next_connect(transport::Errc code = transport::Errc::connect,
                         std::string message = std::string(Kind::kRefused)) {
    failures_.emplace_back(code, std::move(message));
  }

  /// Every connect() call, failed ones included.
  [[nodiscard]] int attempts() const noexcept { return attempts_; }
  /// The links handed out, oldest first.
  [[nodiscard]] const std::vector<std::shared_ptr<Link>>& links() const noexcept { return links_; }
  /// The newest link. Throws std::logic_error when there is none.
  [[nodiscard]] Link& last() const {
    if (links_.empty()) {
      const std::string noun(Kind::kNoun);
      throw std::logic_error("fake " + noun + " factory: no " + noun + " was made");
    }
    return *links_.back();
  }

 private:
  int attempts_ = 0;
  std::deque<Error> failures_;
  std::vector<std::shared_ptr<Link>> links_;
};

}  // namespace webpush::fakes
