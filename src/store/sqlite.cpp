#include "webpush/store/sqlite.h"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include <fmt/format.h>

namespace webpush::sqlite {

using store::Errc;

namespace {

// SQL as it appears in an error message: whitespace runs collapsed, cut at 60
// characters, so that a multi-line statement stays a readable one-liner.
std::string short_sql(std::string_view sql) {
  constexpr std::size_t kMax = 60;
  std::string out;
  bool space = false;
  for (const char c : sql) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    if (out.size() >= kMax) {
      out += "…";
      break;
    }
    out += c;
  }
  return out;
}

Errc code_for(int rc, int sys_errno) noexcept {
  switch (rc & 0xff) {
    case SQLITE_NOTADB: return Errc::not_a_database;
    case SQLITE_CORRUPT: return Errc::corrupt;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Errc::busy;
    case SQLITE_CONSTRAINT: return Errc::constraint;
    case SQLITE_READONLY: return Errc::read_only;
    case SQLITE_PERM:
    case SQLITE_AUTH: return Errc::permission;
    case SQLITE_CANTOPEN:
      if (sys_errno == ENOENT) return Errc::not_found;
      if (sys_errno == EACCES || sys_errno == EPERM) return Errc::permission;
      return Errc::io;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL: return Errc::io;
    case SQLITE_TOOBIG: return Errc::invalid_argument;
    default: return Errc::internal;
  }
}

Error error_for(std::string_view file, sqlite3* db, int rc, std::string_view what) {
  // sqlite3_errmsg() describes the connection's most recent failure, which is `rc`
  // only if nothing else ran since; otherwise fall back to the generic text.
  const bool current = db != nullptr && sqlite3_extended_errcode(db) == rc;
  const char* detail = current ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int sys_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  std::string message = fmt::format("{}: {}: {}", file.empty() ? std::string_view(":memory:") : file, what, detail);
  if (sys_errno != 0 && ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_IOERR)) {
    message += fmt::format(" ({})", std::strerror(sys_errno));
  }
  return Error(code_for(rc, sys_errno), std::move(message));
}

bool only_blank(std::string_view rest) {
  for (const char c : rest) {
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r' && c != ';') return false;
  }
  return true;
}

}  // namespace

Error make_error(sqlite3* db, int rc, std::string_view what) {
  const char* file = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  return error_for(file != nullptr ? file : "", db, rc, what);
}

// ---- Database ----------------------------------------------------------------

Database::Database(sqlite3* db, std::filesystem::path path) noexcept : db_(db), path_(std::move(path)) {}

Database::Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Database::~Database() { close(); }

void Database::close() noexcept {
  // close_v2 defers the close until the last statement is finalized, so the order
  // in which an owner destroys its members cannot leak the connection.
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

Result<Database> Database::open(const std::filesystem::path& file, Access access) {
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  switch (access) {
    case Access::read_only: flags |= SQLITE_OPEN_READONLY; break;
    case Access::read_write: flags |= SQLITE_OPEN_READWRITE; break;
    case Access::create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error err = error_for(file.native(), db, rc, "open");
    sqlite3_close_v2(db);
    return tl::unexpected(std::move(err));
  }
  Database out(db, file);
  sqlite3_extended_result_codes(db, 1);
  // Defensive mode: no writable_schema, no raw page writes through SQL.
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, static_cast<int*>(nullptr));
  return out;
}

Result<void> Database::exec(std::string_view sql) {
  while (!sql.empty()) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sql.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
      return fail(Errc::invalid_argument, fmt::format("{}: exec: SQL text too long", path_.string()));
    }
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &raw, &tail);
    if (rc != SQLITE_OK) return tl::unexpected(error(rc, fmt::format("exec \"{}\"", short_sql(sql))));
    Statement stmt(raw);  // null for a blank or comment-only tail
    const std::string_view this_sql = sql.substr(0, static_cast<std::size_t>(tail - sql.data()));
    sql.remove_prefix(this_sql.size());
    if (!stmt.valid()) continue;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return tl::unexpected(error(rc, fmt::format("exec \"{}\"", short_sql(this_sql))));
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql, Lifetime lifetime) {
  if (sql.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return fail(Errc::invalid_argument, fmt::format("{}: prepare: SQL text too long", path_.string()));
  }
  const unsigned flags = lifetime == Lifetime::persistent ? SQLITE_PREPARE_PERSISTENT : 0;
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), flags, &raw, &tail);
  if (rc != SQLITE_OK) return tl::unexpected(error(rc, fmt::format("prepare \"{}\"", short_sql(sql))));
  Statement stmt(raw);
  if (!stmt.valid()) {
    return fail(Errc::internal, fmt::format("{}: prepare: no statement in \"{}\"", path_.string(), short_sql(sql)));
  }
  if (!only_blank(sql.substr(static_cast<std::size_t>(tail - sql.data())))) {
    return fail(Errc::internal,
                fmt::format("{}: prepare \"{}\": more than one statement", path_.string(), short_sql(sql)));
  }
  return stmt;
}

Result<void> Database::set_busy_timeout(std::chrono::milliseconds timeout) {
  const auto ms = std::min<std::chrono::milliseconds::rep>(timeout.count(), std::numeric_limits<int>::max());
  const int rc = sqlite3_busy_timeout(db_, static_cast<int>(std::max<std::chrono::milliseconds::rep>(ms, 0)));
  if (rc != SQLITE_OK) return tl::unexpected(error(rc, "busy_timeout"));
  return {};
}

Result<std::int64_t> Database::user_version() { return query_int64("PRAGMA user_version"); }

Result<void> Database::set_user_version(std::int64_t version) {
  if (version < std::numeric_limits<std::int32_t>::min() || version > std::numeric_limits<std::int32_t>::max()) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: user_version {} does not fit in 32 bits", path_.string(), version));
  }
  return exec(fmt::format("PRAGMA user_version = {}", version));
}

Result<std::int64_t> Database::query_int64(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) return tl::unexpected(std::move(stmt.error()));
  auto step = stmt->step();
  if (!step) return tl::unexpected(std::move(step.error()));
  if (*step != Step::row) {
    return fail(Errc::not_found, fmt::format("{}: \"{}\" returned no row", path_.string(), short_sql(sql)));
  }
  return stmt->column_int64(0);
}

Result<std::string> Database::query_text(std::string_view sql) {
  auto stmt = prepare(sql);
  if (!stmt) return tl::unexpected(std::move(stmt.error()));
  auto step = stmt->step();
  if (!step) return tl::unexpected(std::move(step.error()));
  if (*step != Step::row) {
    return fail(Errc::not_found, fmt::format("{}: \"{}\" returned no row", path_.string(), short_sql(sql)));
  }
  return stmt->column_text(0);
}

std::int64_t Database::last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_); }

std::int64_t Database::changes() const noexcept { return sqlite3_changes64(db_); }

bool Database::in_transaction() const noexcept { return db_ != nullptr && sqlite3_get_autocommit(db_) == 0; }

bool Database::is_read_only() const noexcept { return db_ != nullptr && sqlite3_db_readonly(db_, "main") == 1; }

// ---- Statement ---------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      bind_rc_(std::exchange(other.bind_rc_, 0)),
      bind_index_(std::exchange(other.bind_index_, 0)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_rc_ = std::exchange(other.bind_rc_, 0);
    bind_index_ = std::exchange(other.bind_index_, 0);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::note_bind(int rc, int index) noexcept {
  if (rc != SQLITE_OK && bind_rc_ == 0) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) noexcept {
  return note_bind(sqlite3_bind_int64(stmt_, index, value), index);
}

Statement& Statement::bind(int index, std::string_view text) noexcept {
  // A null data pointer would bind NULL; an empty string must stay an empty string.
  const char* data = text.data() != nullptr ? text.data() : "";
  return note_bind(
      sqlite3_bind_text64(stmt_, index, data, static_cast<sqlite3_uint64>(text.size()), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
}

Statement& Statement::bind(int index, ByteView blob) noexcept {
  if (blob.empty()) return note_bind(sqlite3_bind_zeroblob(stmt_, index, 0), index);
  return note_bind(
      sqlite3_bind_blob64(stmt_, index, blob.data(), static_cast<sqlite3_uint64>(blob.size()), SQLITE_TRANSIENT),
      index);
}

Statement& Statement::bind(int index, std::nullopt_t) noexcept {
  return note_bind(sqlite3_bind_null(stmt_, index), index);
}

Error Statement::error(int rc, std::string_view what) const {
  return make_error(sqlite3_db_handle(stmt_), rc, fmt::format("{} \"{}\"", what, short_sql(sql())));
}

Result<Step> Statement::step() {
  if (bind_rc_ != 0) {
    // Reported now rather than at bind time; the connection's message may have been
    // overwritten since, so the code's generic text is used.
    const char* file = sqlite3_db_filename(sqlite3_db_handle(stmt_), "main");
    return fail((bind_rc_ & 0xff) == SQLITE_TOOBIG ? Errc::invalid_argument : Errc::internal,
                fmt::format("{}: bind parameter {} of \"{}\": {}", file != nullptr ? file : "", bind_index_,
                            short_sql(sql()), sqlite3_errstr(bind_rc_)));
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return Step::row;
  if (rc == SQLITE_DONE) return Step::done;
  return tl::unexpected(error(rc, "step"));
}

Result<void> Statement::run() {
  for (;;) {
    auto step_result = step();
    if (!step_result) return tl::unexpected(std::move(step_result.error()));
    if (*step_result == Step::done) break;
  }
  sqlite3_reset(stmt_);
  return {};
}

void Statement::reset() noexcept {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = 0;
  bind_index_ = 0;
}

int Statement::column_count() const noexcept { return sqlite3_column_count(stmt_); }

bool Statement::column_is_null(int index) const noexcept { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

std::int64_t Statement::column_int64(int index) const noexcept { return sqlite3_column_int64(stmt_, index); }

std::string Statement::column_text(int index) const {
  // Pointer first, then size: the documented order (the size call may convert).
  const auto* text = sqlite3_column_text(stmt_, index);
  const int size = sqlite3_column_bytes(stmt_, index);
  if (text == nullptr || size <= 0) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

Bytes Statement::column_blob(int index) const {
  const ByteView blob = column_blob_view(index);
  return Bytes(blob.begin(), blob.end());
}

ByteView Statement::column_blob_view(int index) const {
  const auto* blob = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, index));
  const int size = sqlite3_column_bytes(stmt_, index);
  if (blob == nullptr || size <= 0) return {};
  return {blob, static_cast<std::size_t>(size)};
}

std::optional<std::int64_t> Statement::column_optional_int64(int index) const noexcept {
  if (column_is_null(index)) return std::nullopt;
  return column_int64(index);
}

std::optional<std::string> Statement::column_optional_text(int index) const {
  if (column_is_null(index)) return std::nullopt;
  return column_text(index);
}

std::optional<Bytes> Statement::column_optional_blob(int index) const {
  if (column_is_null(index)) return std::nullopt;
  return column_blob(index);
}

std::string_view Statement::sql() const noexcept {
  const char* text = stmt_ != nullptr ? sqlite3_sql(stmt_) : nullptr;
  return text != nullptr ? std::string_view(text) : std::string_view();
}

// ---- Transaction -------------------------------------------------------------

Result<Transaction> Transaction::begin(Database& db, Mode mode) {
  std::string_view sql = "BEGIN IMMEDIATE";
  switch (mode) {
    case Mode::deferred: sql = "BEGIN DEFERRED"; break;
    case Mode::immediate: sql = "BEGIN IMMEDIATE"; break;
    case Mode::exclusive: sql = "BEGIN EXCLUSIVE"; break;
  }
  if (auto ok = db.exec(sql); !ok) return tl::unexpected(std::move(ok.error()));
  return Transaction(db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction& Transaction::operator=(Transaction&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) (void)rollback();
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)rollback();
}

Result<void> Transaction::commit() {
  Database* db = std::exchange(db_, nullptr);
  if (db == nullptr) return fail(Errc::internal, "commit: the transaction is no longer open");
  auto ok = db->exec("COMMIT");
  // A failed COMMIT may leave the transaction open (e.g. busy): end it here so that
  // the connection is never left inside a transaction nobody owns.
  if (!ok && db->in_transaction()) (void)db->exec("ROLLBACK");
  return ok;
}

Result<void> Transaction::rollback() {
  Database* db = std::exchange(db_, nullptr);
  if (db == nullptr || !db->in_transaction()) return {};  // SQLite may already have rolled back
  return db->exec("ROLLBACK");
}

}  // namespace webpush::sqlite
