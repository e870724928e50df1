// ServiceStore on SQLite: `<state-dir>/push-service.db`, WAL mode, one
// connection owned by the event loop. Another `webpushd serve` on the same
// directory is refused through an flock() on `push-service.lock`.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include <fmt/format.h>
#include <sqlite3.h>

#include "webpush/service/errc.h"
#include "webpush/service/store.h"
#include "webpush/store/errc.h"
#include "webpush/store/sqlite.h"

namespace webpush::service {

namespace {

using sqlite::Database;
using sqlite::ResetGuard;
using sqlite::Statement;
using sqlite::Step;
using sqlite::Transaction;

constexpr std::int64_t kSchemaVersion = 1;
constexpr std::string_view kDatabaseFile = "push-service.db";
constexpr std::string_view kLockFile = "push-service.lock";

// STRICT tables (SQLite 3.37). Channels are keyed by their endpoint token and
// never deleted, so a token is never issued twice; messages keep their arrival
// order in `seq` (AUTOINCREMENT: never reused).
constexpr std::string_view kSchemaV1 = R"sql(
PRAGMA application_id = 2003858294;

CREATE TABLE users (
  uaid TEXT PRIMARY KEY NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE channels (
  token TEXT PRIMARY KEY NOT NULL,
  uaid TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  app_server_key BLOB,
  registered INTEGER NOT NULL CHECK (registered IN (0, 1)),
  created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX channels_uaid ON channels (uaid, channel_id);

CREATE TABLE messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  uaid TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  topic TEXT,
  received_at INTEGER NOT NULL,
  ttl INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  data TEXT,
  encoding TEXT NOT NULL,
  encryption TEXT NOT NULL,
  crypto_key TEXT NOT NULL
) STRICT;

CREATE INDEX messages_uaid ON messages (uaid, seq);
CREATE UNIQUE INDEX messages_topic ON messages (uaid, channel_id, topic) WHERE topic IS NOT NULL;
CREATE INDEX messages_expiry ON messages (expires_at);
)sql";

template <class T>
tl::unexpected<Error> forward(const Result<T>& r) {
  return tl::unexpected(r.error());
}

// An flock()ed file, released when the store closes.
class LockFile {
 public:
  LockFile() = default;
  explicit LockFile(int fd) : fd_(fd) {}
  LockFile(LockFile&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  LockFile& operator=(LockFile&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
  ~LockFile() { reset(); }

 private:
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

Result<void> make_private_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return fail(Errc::store_failed,
                fmt::format("cannot create the state directory {}: {}", dir.string(), ec.message()));
  if (!std::filesystem::is_directory(dir, ec)) {
    return fail(Errc::store_failed, fmt::format("state directory {} is not a directory", dir.string()));
  }
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
  if (ec) return fail(Errc::store_failed, fmt::format("cannot make {} private: {}", dir.string(), ec.message()));
  return {};
}

Result<LockFile> lock_dir(const std::filesystem::path& dir) {
  const auto path = dir / kLockFile;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return fail(Errc::store_failed, fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  LockFile lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return fail(Errc::store_failed, fmt::format("another webpushd serve is using {}", dir.string()));
    }
    return fail(Errc::store_failed, fmt::format("cannot lock {}: {}", path.string(), std::strerror(errno)));
  }
  return lock;
}

// WAL checkpoints off the loop thread. SQLite's automatic checkpoint runs inside
// the commit that crosses its threshold, and its writes and fsyncs stalled one
// POST in a few hundred by 5–10 ms (loadtest's p99 on this machine: 10 ms with
// it, 3 ms without). Instead, a commit that leaves the WAL past kCheckpointPages
// wakes a second connection on its own thread, which runs a PASSIVE checkpoint:
// it never waits for the writer, nor the writer for it. An idle service wakes
// nothing.
constexpr int kCheckpointPages = 256;

class Checkpointer {
 public:
  /// nullptr when the second connection cannot be opened (the caller then
  /// keeps SQLite's automatic checkpoint).
  static std::unique_ptr<Checkpointer> start(const std::filesystem::path& file) {
    auto db = Database::open(file, sqlite::Access::read_write);
    if (!db) return nullptr;
    auto c = std::unique_ptr<Checkpointer>(new Checkpointer(std::move(*db)));
    try {
      c->thread_ = std::thread([p = c.get()] { p->run(); });
    } catch (const std::system_error&) {
      return nullptr;
    }
    return c;
  }
  ~Checkpointer() {
    if (writer_ != nullptr) sqlite3_wal_hook(writer_, nullptr, nullptr);
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  /// Installs the commit hook on `writer` (replacing SQLite's automatic checkpoint).
  void watch(Database& writer) {
    writer_ = writer.handle();
    sqlite3_wal_hook(writer_, &Checkpointer::on_commit, this);
  }

 private:
  explicit Checkpointer(Database db) : db_(std::move(db)) {}

  static int on_commit(void* self, sqlite3* /*db*/, const char* /*name*/, int wal_pages) {
    if (wal_pages >= kCheckpointPages) static_cast<Checkpointer*>(self)->request();
    return SQLITE_OK;
  }
  void request() {
    {
      const std::lock_guard lock(mutex_);
      requested_ = true;
    }
    wake_.notify_one();
  }
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || requested_; });
      if (stopping_) return;
      requested_ = false;
      lock.unlock();
      (void)db_.exec("PRAGMA wal_checkpoint(PASSIVE)");  // a failed one is retried at the next request
      lock.lock();
    }
  }

  Database db_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool requested_ = false;
  sqlite3* writer_ = nullptr;
  std::thread thread_;
};

class SqliteStore final : public ServiceStore {
 public:
  static Result<std::unique_ptr<ServiceStore>> open(const std::filesystem::path& dir) {
    if (auto ok = make_private_dir(dir); !ok) return forward(ok);
    auto lock = lock_dir(dir);
    if (!lock) return forward(lock);
    const auto file = dir / kDatabaseFile;
    {
      // Create the file 0600 before SQLite does (it would use the umask).
      const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0)
        return fail(Errc::store_failed, fmt::format("cannot create {}: {}", file.string(), std::strerror(errno)));
      ::fchmod(fd, 0600);
      ::close(fd);
    }
    auto db = Database::open(file, sqlite::Access::read_write);
    if (!db) return forward(db);
    auto store = std::unique_ptr<SqliteStore>(new SqliteStore(std::move(*db), std::move(*lock)));
    if (auto ok = store->init(); !ok) return forward(ok);
    store->checkpointer_ = Checkpointer::start(file);
    if (store->checkpointer_) store->checkpointer_->watch(store->db_);
    return std::unique_ptr<ServiceStore>(std::move(store));
  }

  Result<bool> has_user(std::string_view uaid) override {
    Statement& s = has_user_;
    ResetGuard g(s);
    auto step = s.bind(1, uaid).step();
    if (!step) return forward(step);
    return *step == Step::row;
  }

  Result<void> add_user(std::string_view uaid, std::int64_t now_ms) override {
    ResetGuard g(add_user_);
    return add_user_.bind(1, uaid).bind(2, now_ms).run();
  }

  Result<void> drop_user(std::string_view uaid) override {
    auto txn = Transaction::begin(db_);
    if (!txn) return forward(txn);
    for (Statement* s : {&drop_user_, &unregister_all_, &delete_user_messages_}) {
      ResetGuard g(*s);
      if (auto ok = s->bind(1, uaid).run(); !ok) return ok;
    }
    return txn->commit();
  }

  Result<std::optional<ChannelRecord>> channel_by_token(std::string_view token) override {
    ResetGuard g(channel_by_token_);
    return read_channel(channel_by_token_.bind(1, token));
  }

  Result<std::optional<ChannelRecord>> registered_channel(std::string_view uaid, std::string_view channel_id) override {
    ResetGuard g(registered_channel_);
    return read_channel(registered_channel_.bind(1, uaid).bind(2, channel_id));
  }

  Result<void> add_channel(const ChannelRecord& c) override {
    ResetGuard g(add_channel_);
    add_channel_.bind(1, c.token).bind(2, c.uaid).bind(3, c.channel_id);
    if (c.key) {
      add_channel_.bind(4, ByteView(*c.key));
    } else {
      add_channel_.bind(4, std::nullopt);
    }
    return add_channel_.bind(5, std::int64_t{c.registered ? 1 : 0}).bind(6, c.created_ms).run();
  }

  Result<void> unregister_channel(std::string_view uaid, std::string_view channel_id) override {
    auto txn = Transaction::begin(db_);
    if (!txn) return forward(txn);
    for (Statement* s : {&unregister_channel_, &delete_channel_messages_}) {
      ResetGuard g(*s);
      if (auto ok = s->bind(1, uaid).bind(2, channel_id).run(); !ok) return ok;
    }
    return txn->commit();
  }

  Result<std::optional<std::string>> put_message(const StoredMessage& m) override {
    auto txn = Transaction::begin(db_);
    if (!txn) return forward(txn);
    std::optional<std::string> replaced;
    if (m.topic) {
      ResetGuard g(find_topic_);
      auto step = find_topic_.bind(1, m.uaid).bind(2, m.channel_id).bind(3, *m.topic).step();
      if (!step) return forward(step);
      if (*step == Step::row) {
        replaced = find_topic_.column_text(0);
        ResetGuard d(delete_message_);
        if (auto ok = delete_message_.bind(1, *replaced).run(); !ok) return forward(ok);
      }
    }
    {
      ResetGuard g(put_message_);
      Statement& s = put_message_;
      s.bind(1, m.id).bind(2, m.uaid).bind(3, m.channel_id).bind(4, m.topic).bind(5, m.received_ms);
      s.bind(6, m.ttl).bind(7, m.expires_ms()).bind(8, m.data).bind(9, m.encoding).bind(10, m.encryption);
      if (auto ok = s.bind(11, m.crypto_key).run(); !ok) return forward(ok);
    }
    if (auto ok = txn->commit(); !ok) return forward(ok);
    return replaced;
  }

  Result<std::vector<StoredMessage>> pending_messages(std::string_view uaid, std::int64_t now_ms, std::size_t limit,
                                                      const std::vector<std::string>& exclude) override {
    std::vector<StoredMessage> out;
    ResetGuard g(pending_);
    pending_.bind(1, uaid).bind(2, now_ms).bind(3, static_cast<std::int64_t>(limit + exclude.size()));
    while (out.size() < limit) {
      auto step = pending_.step();
      if (!step) return forward(step);
      if (*step == Step::done) break;
      StoredMessage m;
      m.id = pending_.column_text(0);
      if (std::find(exclude.begin(), exclude.end(), m.id) != exclude.end()) continue;
      m.uaid = std::string(uaid);
      m.channel_id = pending_.column_text(1);
      m.topic = pending_.column_optional_text(2);
      m.received_ms = pending_.column_int64(3);
      m.ttl = pending_.column_int64(4);
      m.data = pending_.column_optional_text(5);
      m.encoding = pending_.column_text(6);
      m.encryption = pending_.column_text(7);
      m.crypto_key = pending_.column_text(8);
      out.push_back(std::move(m));
    }
    return out;
  }

  Result<bool> delete_message(std::string_view id) override {
    ResetGuard g(delete_message_);
    if (auto ok = delete_message_.bind(1, id).run(); !ok) return forward(ok);
    return db_.changes() > 0;
  }

  Result<std::size_t> purge_expired(std::int64_t now_ms, std::string_view uaid) override {
    Statement& s = uaid.empty() ? purge_all_ : purge_user_;
    ResetGuard g(s);
    s.bind(1, now_ms);
    if (!uaid.empty()) s.bind(2, uaid);
    if (auto ok = s.run(); !ok) return forward(ok);
    return static_cast<std::size_t>(db_.changes());
  }

  Result<StoreCounts> counts() override {
    StoreCounts c;
    auto users = db_.query_int64("SELECT count(*) FROM users");
    if (!users) return forward(users);
    auto channels = db_.query_int64("SELECT count(*) FROM channels WHERE registered = 1");
    if (!channels) return forward(channels);
    auto messages = db_.query_int64("SELECT count(*) FROM messages");
    if (!messages) return forward(messages);
    c.users = *users;
    c.channels = *channels;
    c.messages = *messages;
    return c;
  }

 private:
  SqliteStore(Database db, LockFile lock) : db_(std::move(db)), lock_(std::move(lock)) {}

  Result<void> init() {
    auto mode = db_.query_text("PRAGMA journal_mode = WAL");
    if (!mode) return forward(mode);
    // NORMAL in WAL mode: a committed message survives a crash of the process
    // (not necessarily a power loss), which is what a test service needs.
    if (auto ok = db_.exec("PRAGMA synchronous = NORMAL"); !ok) return ok;
    if (auto ok = db_.set_busy_timeout(std::chrono::milliseconds(2000)); !ok) return ok;
    auto version = db_.user_version();
    if (!version) return forward(version);
    if (*version > kSchemaVersion) {
      return fail(store::Errc::newer_schema,
                  fmt::format("{} was written by a newer webpushd (schema {}, this version knows {})",
                              db_.path().string(), *version, kSchemaVersion));
    }
    if (*version == 0) {
      auto txn = Transaction::begin(db_);
      if (!txn) return forward(txn);
      if (auto ok = db_.exec(kSchemaV1); !ok) return ok;
      if (auto ok = db_.set_user_version(kSchemaVersion); !ok) return ok;
      if (auto ok = txn->commit(); !ok) return ok;
    }
    struct Prep {
      Statement* stmt;
      std::string_view sql;
    };
    const Prep preps[] = {
        {&has_user_, "SELECT 1 FROM users WHERE uaid = ?1"},
        {&add_user_, "INSERT OR IGNORE INTO users (uaid, created_at) VALUES (?1, ?2)"},
        {&drop_user_, "DELETE FROM users WHERE uaid = ?1"},
        {&unregister_all_, "UPDATE channels SET registered = 0 WHERE uaid = ?1"},
        {&delete_user_messages_, "DELETE FROM messages WHERE uaid = ?1"},
        {&channel_by_token_,
         "SELECT token, uaid, channel_id, app_server_key, registered, created_at FROM channels WHERE token = ?1"},
        {&registered_channel_,
         "SELECT token, uaid, channel_id, app_server_key, registered, created_at FROM channels "
         "WHERE uaid = ?1 AND channel_id = ?2 AND registered = 1 ORDER BY created_at DESC, rowid DESC LIMIT 1"},
        {&add_channel_,
         "INSERT INTO channels (token, uaid, channel_id, app_server_key, registered, created_at) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
        {&unregister_channel_, "UPDATE channels SET registered = 0 WHERE uaid = ?1 AND channel_id = ?2"},
        {&delete_channel_messages_, "DELETE FROM messages WHERE uaid = ?1 AND channel_id = ?2"},
        {&find_topic_, "SELECT id FROM messages WHERE uaid = ?1 AND channel_id = ?2 AND topic = ?3"},
        {&put_message_,
         "INSERT INTO messages (id, uaid, channel_id, topic, received_at, ttl, expires_at, data, encoding, "
         "encryption, crypto_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
        {&pending_,
         "SELECT id, channel_id, topic, received_at, ttl, data, encoding, encryption, crypto_key FROM messages "
         "WHERE uaid = ?1 AND expires_at > ?2 ORDER BY topic IS NULL, seq LIMIT ?3"},
        {&delete_message_, "DELETE FROM messages WHERE id = ?1"},
        {&purge_all_, "DELETE FROM messages WHERE expires_at <= ?1"},
        {&purge_user_, "DELETE FROM messages WHERE expires_at <= ?1 AND uaid = ?2"},
    };
    for (const auto& p : preps) {
      auto stmt = db_.prepare(p.sql, Database::Lifetime::persistent);
      if (!stmt) return forward(stmt);
      *p.stmt = std::move(*stmt);
    }
    return {};
  }

  Result<std::optional<ChannelRecord>> read_channel(Statement& s) {
    auto step = s.step();
    if (!step) return forward(step);
    if (*step == Step::done) return std::optional<ChannelRecord>();
    ChannelRecord c;
    c.token = s.column_text(0);
    c.uaid = s.column_text(1);
    c.channel_id = s.column_text(2);
    c.key = s.column_optional_blob(3);
    c.registered = s.column_int64(4) != 0;
    c.created_ms = s.column_int64(5);
    return std::optional<ChannelRecord>(std::move(c));
  }

  Database db_;
  LockFile lock_;
  Statement has_user_, add_user_, drop_user_, unregister_all_, delete_user_messages_;
  Statement channel_by_token_, registered_channel_, add_channel_, unregister_channel_, delete_channel_messages_;
  Statement find_topic_, put_message_, pending_, delete_message_, purge_all_, purge_user_;
  std::unique_ptr<Checkpointer> checkpointer_;  // last: stopped before the connection closes
};

}  // namespace

Result<std::unique_ptr<ServiceStore>> open_sqlite_store(const std::filesystem::path& dir) {
  return SqliteStore::open(dir);
}

}  // namespace webpush::service
