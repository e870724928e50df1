// The JSON-lines sink: one object per line (docs/cli.md), flushed per event,
// and fsynced when the target is a file, before the message counts as delivered.
//
// Exactly once to a regular file, across a crash at any instant: a line is
// durable (fsync) before its message is marked delivered, so a crash can leave
// (a) a torn last line — cut away when the file is opened, and the message is
// written again whole — or (b) complete lines whose messages were never marked
// delivered; recover() finds those in the file's tail (the last kRecoverWindow
// bytes at most, and no further back than the oldest of them needs) and their
// re-dispatch writes nothing. The identity of a line is its channel_id and
// version. A write that fails (e.g. the disk is full) is cut away again, so a
// later line never follows a partial one. To stdout or a pipe nothing can be
// read back: at least once.
#pragma once

#include <cstddef>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "webpush/event/unique_fd.h"
#include "webpush/sinks/sink.h"

namespace webpush::sinks {

class JsonlSink final : public Sink {
 public:
  /// How far back from the end recover() reads at most.
  static constexpr std::size_t kRecoverWindow = 1024 * 1024;

  /// "-" is stdout; anything else is a file opened for appending (created 0600).
  /// A regular file whose last line is torn is cut back to its last complete
  /// line (logged). Errors: io naming the file.
  static Result<std::unique_ptr<JsonlSink>> open(const std::string& target);

  [[nodiscard]] std::string_view name() const override { return "jsonl"; }
  Result<void> deliver(const Event& event) override;
  void recover(const std::vector<const Message*>& undelivered) override;

  /// Messages recover() found in the file and that have not been re-dispatched yet.
  [[nodiscard]] std::size_t held() const noexcept { return held_.size(); }

 private:
  using Key = std::pair<std::string, std::string>;  // channel_id, version

  JsonlSink(event::UniqueFd owned, int fd, bool regular, std::string target)
      : owned_(std::move(owned)), fd_(fd), regular_(regular), target_(std::move(target)) {}
  [[nodiscard]] Result<void> append(std::string_view line);

  event::UniqueFd owned_;  // the file's descriptor; empty for stdout
  int fd_;                 // where lines go: owned_ or 1
  bool regular_;           // a regular file: fsync per line, torn-line repair, recover()
  std::string target_;
  event::UniqueFd reader_;  // the same file, read-only (regular files)
  std::set<Key> held_;
};

}  // namespace webpush::sinks
