// `webpushd list` and `webpushd messages`: read-only views of the store, safe to
// run beside a daemon (the store is opened OpenMode::read_only: no lock, no write).
//
// Both print an aligned table for people and JSON for scripts (docs/cli.md). A
// state directory without a database is not an error: there is nothing to show
// yet, so the table modes print a hint on stderr and the JSON modes print an empty
// result; both exit 0. Any other store failure (not a database, corrupt, newer
// schema, permission) exits 1 with the store's message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "common.h"
#include "webpush/store/store.h"

namespace webpush::cli {

struct ListOptions {
  bool json = false;
  bool names = false;  ///< hidden: one name per line, for shell completion
};

void add_list_options(CLI::App& sub, ListOptions& o);
int run_list(const GlobalOptions& g, const ListOptions& o);

struct MessagesOptions {
  bool json = false;
  std::string since;         ///< see parse_since(); used when since_given
  bool since_given = false;  ///< --since was on the command line (also when empty)
  std::string subscription;  ///< a name (or a numeric id); empty: all
  std::int64_t limit = 0;    ///< the newest N; 0: all
  std::string state;         ///< stored, delivered or failed; empty: all
};

void add_messages_options(CLI::App& sub, MessagesOptions& o);
int run_messages(const GlobalOptions& g, const MessagesOptions& o);

// ---- shared by list and messages (defined in list.cpp, parse_since in messages.cpp) --

/// Opens the store of `g` read-only, without the full quick_check (a read-only
/// view; the daemon checks at its start). nullopt when there is no database yet
/// (no state directory, no file, or a file the daemon has not initialised).
Result<std::optional<store::Store>> open_store_read_only(const GlobalOptions& g);

/// `text` made safe for one table cell: control characters (C0, DEL, C1) and
/// bidirectional overrides escaped (\n, \t, \x1b, \u202e), bytes that are not
/// UTF-8 as \xNN; cut to `max_width` code points with a trailing "…".
std::string printable(std::string_view text, std::size_t max_width);

/// `s` (valid UTF-8, already printable()) cut to `max_width` code points by
/// replacing its middle with "…", keeping its first code points and its last
/// `tail` ones (an endpoint's host and path, and the end of its token). `s` itself
/// when it fits. Needs max_width > tail.
std::string elide_middle(const std::string& s, std::size_t max_width, std::size_t tail);

/// Local time for tables: "2026-11-27 10:00" or, with seconds, "2026-11-27 10:00:05".
std::string local_time(std::int64_t unix_ms, bool seconds);

/// Columns separated by two spaces, each as wide as its widest cell (in code
/// points), the last one not padded. Cells must already be printable().
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void add_row(std::vector<std::string> cells);
  [[nodiscard]] bool empty() const noexcept { return rows_.empty(); }
  /// The header line and every row, each ending in '\n'.
  [[nodiscard]] std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

/// Parses the TIME of `messages --since` into Unix milliseconds:
///   - RFC 3339: "2026-11-27T10:00:00Z", "2026-11-27T10:00:00.250+01:00"; the
///     seconds may be left out, and without an offset the time is local;
///   - a date: "2026-11-27", local midnight;
///   - a duration ago: N followed by s, m, h, d or w ("10m", "2h", "3d").
/// nullopt if `text` is none of these or names an impossible date or time.
std::optional<std::int64_t> parse_since(std::string_view text, std::int64_t now_ms);

/// Writes `text` to stdout and flushes; false if the write failed (e.g. a full disk).
bool write_stdout(std::string_view text);

}  // namespace webpush::cli
