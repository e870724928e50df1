// A thin RAII wrapper over the SQLite C API: a connection (Database), a prepared
// statement (Statement), a transaction scope (Transaction) and a guard that resets
// a kept statement after use (ResetGuard).
//
// Generic on purpose: it knows no schema. The user agent's store and the embedded
// push service each build their own database on it.
//
// Errors are Results carrying store::Errc; every message names the database file,
// says what was being done and ends with SQLite's own message, e.g.
//   "/home/u/.local/state/webpushd/webpushd.db: prepare \"SELECT …\": no such table: x".
// The mapping from SQLite result codes is in make_error().
//
// Thread: a Database and the Statements prepared on it must be used by one thread
// at a time (connections are opened with SQLITE_OPEN_NOMUTEX). A connection must
// never be used on both sides of a fork().
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/store/errc.h"

struct sqlite3;
struct sqlite3_stmt;

namespace webpush::sqlite {

/// How Database::open() opens the file.
enum class Access : std::uint8_t {
  read_only,   ///< SQLITE_OPEN_READONLY; the file must exist
  read_write,  ///< SQLITE_OPEN_READWRITE; the file must exist
  create,      ///< SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
};

/// The Error for result code `rc` (primary or extended) of a call on `db`, with
/// `what` as context. `db` may be null (then only `rc` is described). Mapping:
/// NOTADB → not_a_database, CORRUPT → corrupt, BUSY/LOCKED → busy, CONSTRAINT →
/// constraint, READONLY → read_only, PERM/AUTH → permission, CANTOPEN → not_found
/// (ENOENT), permission (EACCES/EPERM) or io, IOERR/FULL/PROTOCOL → io, TOOBIG →
/// invalid_argument, anything else → internal.
Error make_error(sqlite3* db, int rc, std::string_view what);

class Statement;

/// Outcome of Statement::step().
enum class Step : std::uint8_t {
  row,   ///< a result row is available through the column accessors
  done,  ///< the statement has run to completion
};

/// An open SQLite connection. Movable; closes the connection in its destructor
/// (sqlite3_close_v2, so Statements may outlive it safely, though they should not).
class Database {
 public:
  /// How long a prepared statement is expected to live (a hint to SQLite's allocator).
  enum class Lifetime : std::uint8_t {
    transient,   ///< used once or a few times
    persistent,  ///< kept for the connection's life (SQLITE_PREPARE_PERSISTENT)
  };

  /// Opens `file` with extended result codes and SQLITE_DBCONFIG_DEFENSIVE on.
  /// Opening does not read the file: a file that is not a database is only detected
  /// by the first statement that reads it. Errors: not_found, permission, io.
  static Result<Database> open(const std::filesystem::path& file, Access access);

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  /// Runs every statement in `sql` (separated by ';'), discarding result rows.
  Result<void> exec(std::string_view sql);

  /// Compiles one statement. Text after the first statement is an error (internal).
  /// Settings PRAGMAs (synchronous, foreign_keys, …) take effect when compiled, not
  /// when stepped: run them with exec(), never keep them prepared.
  Result<Statement> prepare(std::string_view sql, Lifetime lifetime = Lifetime::transient);

  /// Waits up to `timeout` for another connection's lock before failing with busy.
  Result<void> set_busy_timeout(std::chrono::milliseconds timeout);

  /// PRAGMA user_version: the schema version the application stored in the header.
  Result<std::int64_t> user_version();
  Result<void> set_user_version(std::int64_t version);

  /// Runs a statement that yields one row and returns its first column. A
  /// statement that yields no row is an error (not_found).
  Result<std::int64_t> query_int64(std::string_view sql);
  Result<std::string> query_text(std::string_view sql);

  /// The rowid of the last successful INSERT on this connection.
  [[nodiscard]] std::int64_t last_insert_rowid() const noexcept;
  /// Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  [[nodiscard]] std::int64_t changes() const noexcept;
  /// True inside BEGIN … COMMIT (autocommit off).
  [[nodiscard]] bool in_transaction() const noexcept;
  [[nodiscard]] bool is_read_only() const noexcept;

  /// The file this connection was opened on.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// Borrowed; valid as long as this object. Null after a move.
  [[nodiscard]] sqlite3* handle() const noexcept { return db_; }

  /// make_error() for this connection.
  [[nodiscard]] Error error(int rc, std::string_view what) const { return make_error(db_, rc, what); }

 private:
  Database(sqlite3* db, std::filesystem::path path) noexcept;
  void close() noexcept;

  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

/// A prepared statement. Movable; finalizes in its destructor.
///
/// Binding never fails on the spot: the first bind error (an index out of range,
/// a value too large) is remembered and returned by the next step(), so a call
/// site reads as a chain of binds followed by one checked step(). Text and blobs
/// are copied when bound. An empty string or blob binds as an empty value, never
/// as NULL.
///
/// Column accessors read the current row after step() returned Step::row; indexes
/// are 0-based (bind indexes are 1-based, as in SQLite).
class Statement {
 public:
  /// An empty statement; only assignment and destruction are valid on it.
  Statement() noexcept = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value) noexcept;
  Statement& bind(int index, std::string_view text) noexcept;
  Statement& bind(int index, ByteView blob) noexcept;
  Statement& bind(int index, std::nullopt_t) noexcept;
  template <class T>
  Statement& bind(int index, const std::optional<T>& value) noexcept {
    return value ? bind(index, *value) : bind(index, std::nullopt);
  }

  /// Runs the statement to the next row. Errors: a remembered bind error, or the
  /// mapped SQLite error (constraint, busy, corrupt, io, …).
  Result<Step> step();

  /// Steps until done, discarding rows, then resets (bindings are kept).
  Result<void> run();

  /// Resets the statement for another run and clears its bindings and any
  /// remembered bind error. Ends the statement's implicit read transaction.
  void reset() noexcept;

  [[nodiscard]] int column_count() const noexcept;
  [[nodiscard]] bool column_is_null(int index) const noexcept;
  [[nodiscard]] std::int64_t column_int64(int index) const noexcept;
  [[nodiscard]] std::string column_text(int index) const;
  [[nodiscard]] Bytes column_blob(int index) const;
  /// The blob without a copy, valid until the next step(), reset() or column read.
  [[nodiscard]] ByteView column_blob_view(int index) const;
  [[nodiscard]] std::optional<std::int64_t> column_optional_int64(int index) const noexcept;
  [[nodiscard]] std::optional<std::string> column_optional_text(int index) const;
  [[nodiscard]] std::optional<Bytes> column_optional_blob(int index) const;

  /// The SQL text this statement was prepared from.
  [[nodiscard]] std::string_view sql() const noexcept;
  [[nodiscard]] bool valid() const noexcept { return stmt_ != nullptr; }
  /// Borrowed; valid as long as this object.
  [[nodiscard]] sqlite3_stmt* handle() const noexcept { return stmt_; }

 private:
  friend class Database;
  explicit Statement(sqlite3_stmt* stmt) noexcept : stmt_(stmt) {}
  Statement& note_bind(int rc, int index) noexcept;
  [[nodiscard]] Error error(int rc, std::string_view what) const;

  sqlite3_stmt* stmt_ = nullptr;
  int bind_rc_ = 0;  // first failed bind's result code, 0 when all succeeded
  int bind_index_ = 0;
};

/// Resets a borrowed statement (and clears its bindings) when it leaves scope,
/// so that a statement kept prepared never holds a read snapshot or stale
/// bindings between uses. The statement must outlive the guard.
class ResetGuard {
 public:
  explicit ResetGuard(Statement& stmt) noexcept : stmt_(&stmt) {}
  ResetGuard(const ResetGuard&) = delete;
  ResetGuard& operator=(const ResetGuard&) = delete;
  ~ResetGuard() { stmt_->reset(); }

 private:
  Statement* stmt_;
};

/// A transaction scope: BEGIN at begin(), COMMIT at commit(), ROLLBACK in the
/// destructor if still open (also after a failed commit). Movable. The Database
/// must outlive it. Transactions do not nest: begin() inside one fails (internal).
class Transaction {
 public:
  enum class Mode : std::uint8_t {
    deferred,   ///< takes locks on first use
    immediate,  ///< takes the write lock at once (waits up to the busy timeout)
    exclusive,  ///< as immediate; in WAL mode the same
  };

  static Result<Transaction> begin(Database& db, Mode mode = Mode::immediate);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&& other) noexcept;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  /// Commits. On failure the transaction is rolled back (now or by the destructor)
  /// and the error returned (busy, io, constraint for deferred foreign keys, …).
  Result<void> commit();

  /// Rolls back now. Errors: internal (nothing to roll back is not an error).
  Result<void> rollback();

 private:
  explicit Transaction(Database& db) noexcept : db_(&db) {}
  Database* db_ = nullptr;  // not owned; null once committed or rolled back
};

}  // namespace webpush::sqlite
