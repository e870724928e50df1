// Internal helpers of the sinks layer: the "sinks" logger, starting commands
// without a shell (event::ChildReaper reaps them).
//
// Thread: the loop thread only.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/event/child_reaper.h"

namespace webpush::sinks::detail {

/// The spdlog logger "sinks", looked up by name on each call (created from the
/// default logger when nobody registered one), so a later registration wins.
spdlog::logger& log();

struct SpawnSpec {
  std::vector<std::string> argv;   ///< argv[0] is looked up in PATH when it has no '/'
  std::vector<std::string> env;    ///< "KEY=VALUE", added to the inherited environment, replacing the same keys
  int stdin_fd = -1;               ///< borrowed, dup'ed onto the child's stdin; -1 for /dev/null
  bool new_process_group = false;  ///< the child leads a new process group (so a group can be signalled)
};

/// Starts argv directly (posix_spawnp: no shell, no expansion). The child gets
/// an empty signal mask and default dispositions (the daemon blocks SIGTERM,
/// SIGINT and SIGHUP for its signalfd and ignores SIGPIPE; a child must not
/// inherit either), our stderr as its stdout too (our stdout may be the
/// JSON-lines stream), and no other descriptor. Never waits for the child.
/// Errors: io naming the program.
Result<pid_t> spawn(const SpawnSpec& spec);

}  // namespace webpush::sinks::detail
