// The exec sink (`run --exec CMD`): runs a command for every message, without
// a shell. CMD is split into argv once, at start (split_command); each message
// then runs that argv with the payload on stdin and its metadata in the
// environment:
//
//   WEBPUSH_SUBSCRIPTION  subscription name (or id when unnamed)
//   WEBPUSH_CHANNEL_ID    channel id
//   WEBPUSH_VERSION       message version (the idempotency key: a message may run twice after a crash)
//   WEBPUSH_RECEIVED_AT   RFC 3339 UTC with milliseconds
//   WEBPUSH_ENCODING      aes128gcm or aesgcm (empty for a push without data)
//
// stdin holds the decrypted payload bytes exactly (empty for a push without
// data); the command's stdout and stderr go to webpushd's stderr. At most
// max_running commands run at a time, the rest wait in a queue; each gets
// time_limit, then SIGTERM, then SIGKILL after kill_grace (to its whole process
// group). A non-zero exit, a kill or a failure to start is logged (logger
// "sinks") with the message version. Only messages run the command: decrypt
// errors and subscription changes are accepted and ignored.
//
// Thread: the loop thread only. Children are reaped through the loop
// (pidfd + FdWatch); nothing here blocks it, except the destructor (below).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/core/clock.h"
#include "webpush/event/loop.h"
#include "webpush/event/timer.h"
#include "webpush/sinks/sink.h"

namespace webpush::sinks {

/// Splits a command line into words like a POSIX shell does, without any
/// expansion: blanks (space, tab, newline) separate words; '…' is literal; in
/// "…" a backslash escapes only $ ` " \ and newline; outside quotes a
/// backslash escapes any character; a backslash-newline joins lines. $, `,
/// ;, |, &, <, >, *, ~ and # are ordinary characters.
/// Errors: bad_config (empty command, unterminated quote, trailing backslash).
Result<std::vector<std::string>> split_command(std::string_view command);

/// How one command run ended; given to ExecOptions::on_finished.
struct ExecResult {
  std::string version;       ///< the message's version
  std::string subscription;  ///< the message's subscription
  bool started = false;      ///< false when the command could not be started at all
  int exit_code = -1;        ///< its exit status when it exited, else -1
  int signal = 0;            ///< the signal that ended it, else 0
  bool timed_out = false;    ///< it outlived the time limit and was signalled by the sink
};

struct ExecOptions {
  std::string command;          ///< split once with split_command
  std::size_t max_running = 4;  ///< commands running at the same time
  std::size_t max_queued =
      64;  ///< waiting commands; beyond this deliver() fails (the daemon keeps the rest in the inbox)
  Duration time_limit{30'000};  ///< then SIGTERM
  Duration kill_grace{5'000};   ///< after SIGTERM, then SIGKILL
  /// Observer called on the loop thread after each command has ended (or
  /// failed to start); optional. Lets the daemon count and tests wait.
  std::function<void(const ExecResult&)> on_finished;
  /// Called from the destructor for each queued command that will never run,
  /// with its message's inbox row (MessageEvent::message_id, when not 0): the
  /// daemon makes that message undelivered again, so the next start hands it
  /// over instead of losing it. Optional.
  std::function<void(std::int64_t message_id)> on_not_run;
};

class ExecSink final : public Sink {
 public:
  /// Errors: bad_config (command unusable: see split_command; its program not
  /// found in PATH or not executable; a limit of 0); unavailable (a kernel
  /// without pidfd_open, Linux < 5.3).
  static Result<std::unique_ptr<ExecSink>> create(event::EventLoop& loop, ExecOptions options);

  /// Blocks briefly: running commands get SIGTERM and up to min(kill_grace, 1 s)
  /// to exit, then SIGKILL, and are reaped; queued ones are dropped. Each is
  /// logged with its version. Must run before the EventLoop goes away.
  ~ExecSink() override;
  ExecSink(const ExecSink&) = delete;
  ExecSink& operator=(const ExecSink&) = delete;

  [[nodiscard]] std::string_view name() const override { return "exec"; }

  /// MessageEvent: starts the command at once when fewer than max_running run,
  /// else queues it; success once it is started or queued (its outcome is only
  /// logged). Other events: success, nothing runs.
  /// Errors: io when max_queued commands are already waiting.
  Result<void> deliver(const Event& event) override;
  /// Lets the queued and running commands finish (each still under its time
  /// limit), then calls `idle` on a later turn; the destructor then blocks on nothing.
  void retire(std::function<void()> idle) override;

  /// Commands running now / waiting for a slot.
  [[nodiscard]] std::size_t running() const noexcept;
  [[nodiscard]] std::size_t queued() const noexcept;
  /// The argv every message runs.
  [[nodiscard]] const std::vector<std::string>& argv() const noexcept;

 private:
  struct Impl;
  explicit ExecSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace webpush::sinks
