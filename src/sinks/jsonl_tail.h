// Internal to the JSON-lines sink: reading back the end of its own file.
//
// Thread: any (plain file I/O on descriptors the caller owns).
#pragma once

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "webpush/core/error.h"

namespace webpush::sinks::detail {

/// What cut_torn_tail did to a file whose last line had no newline.
struct TornTail {
  std::size_t bytes = 0;  ///< the torn line's length
  bool cut = true;        ///< cut away; false: ended with a newline (no line start within the window)
};

/// If the file does not end in '\n', its last line was cut short by a crash:
/// truncate the file back to its last complete line (`write_fd`), or, when no
/// line start lies within `window` bytes of the end, end the line with '\n'.
/// `read_fd` reads the same file. nullopt: the file was whole. Errors: io.
Result<std::optional<TornTail>> cut_torn_tail(int write_fd, int read_fd, std::size_t window);

using LineKey = std::pair<std::string, std::string>;  // channel_id, version

/// Which of `wanted` appear as "message" lines within the last `window` bytes
/// of the file behind `read_fd`. Reads 64 KiB from the end first and twice as
/// much each time some are still missing, up to `window`. Errors: io.
Result<std::set<LineKey>> find_message_lines(int read_fd, const std::set<LineKey>& wanted, std::size_t window);

}  // namespace webpush::sinks::detail
