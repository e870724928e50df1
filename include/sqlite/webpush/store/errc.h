// Error codes of the store layer: the SQLite wrapper (webpush::sqlite) and the
// user agent's store (webpush::store). Every message names the file involved and
// what was being done; none carries key material.
#pragma once

#include <string_view>

#include "webpush/core/error.h"

namespace webpush::store {

enum class Errc {
  io,                ///< the OS failed to read, write, sync or create a file (disk full, I/O error)
  not_a_database,    ///< not an SQLite file, or an SQLite file that is not a webpushd database
  corrupt,           ///< an SQLite file whose pages or rows do not hold together
  newer_schema,      ///< written by a newer webpushd (user_version above the one this build knows)
  old_schema,        ///< an older schema that a read-only open cannot upgrade (the daemon upgrades it)
  locked,            ///< another webpushd daemon or client holds the state directory's lock
  permission,        ///< the OS refused access, or a mode could not be corrected
  read_only,         ///< a write through a read-only store or connection
  constraint,        ///< a uniqueness, foreign-key or check constraint (e.g. a duplicate name)
  not_found,         ///< no such row, or no database where one must already exist
  invalid_argument,  ///< a value the store refuses to write (key of the wrong size, empty name, …)
  busy,              ///< another connection held a lock past the busy timeout
  internal,          ///< SQLite misuse or an unexpected result: a bug in webpushd
};

std::string_view to_string(Errc e) noexcept;

}  // namespace webpush::store

WEBPUSH_ERROR_DOMAIN(webpush::store::Errc, webpush::Domain::store, webpush::store::to_string);
