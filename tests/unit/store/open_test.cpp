// Store::open: files and modes, files that must be refused untouched, the daemon
// lock, and read-only access beside a daemon.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>

#include <fmt/format.h>

#include "store_fixtures.h"
#include "webpush/store/store.h"

namespace webpush::store {
namespace store_open_test {

using test::fast_options;
using test::mode_of;
using test::open_or_die;
using test::raw_exec;
using test::raw_query;
using test::read_file;
using test::TempDir;

constexpr OpenMode kAllModes[] = {OpenMode::daemon, OpenMode::client, OpenMode::read_only};

std::string name(OpenMode m) {
  switch (m) {
    case OpenMode::daemon: return "daemon";
    case OpenMode::client: return "client";
    case OpenMode::read_only: return "read_only";
  }
  return "?";
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// A store with enough rows to span a dozen pages, closed (WAL checkpointed away).
void make_populated_store(const std::filesystem::path& state) {
  Store store = open_or_die(state, OpenMode::daemon);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(store.add_subscription(test::sample_subscription(i)));
  for (int i = 0; i < 60; ++i) {
    InboxEntry e = test::sample_message("chan", std::to_string(i), 1000 + i);
    e.payload = Bytes(1000, static_cast<std::uint8_t>(i));
    ASSERT_TRUE(store.inbox_put_if_new(e));
  }
}

class UmaskScope {
 public:
  explicit UmaskScope(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskScope() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(StoreOpen, CreatesPrivateDirectoryAndFilesWhateverTheUmask) {
  TempDir dir;
  const UmaskScope umask(0);  // nothing may depend on a restrictive umask
  const auto state = dir.path() / "xdg" / "state" / "webpushd";
  Store store = open_or_die(state, OpenMode::daemon);
  EXPECT_EQ(mode_of(state), 0700);
  EXPECT_EQ(mode_of(dir.path() / "xdg"), 0700);
  EXPECT_EQ(mode_of(state / "webpushd.db"), 0600);
  EXPECT_EQ(mode_of(state / "webpushd.db-wal"), 0600);
  EXPECT_EQ(mode_of(state / "webpushd.db-shm"), 0600);
  EXPECT_EQ(mode_of(state / "daemon.lock"), 0600);
  EXPECT_EQ(store.path(), state / "webpushd.db");
  EXPECT_EQ(store.mode(), OpenMode::daemon);

  const auto db = state / "webpushd.db";
  EXPECT_EQ(raw_query(db, "PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  EXPECT_EQ(raw_query(db, "PRAGMA user_version"), std::vector<std::string>{std::to_string(kSchemaVersion)});
  EXPECT_EQ(raw_query(db, "PRAGMA application_id"), std::vector<std::string>{std::to_string(kApplicationId)});
}

TEST(StoreOpen, LockFileNamesTheHolder) {
  TempDir dir;
  Store store = open_or_die(dir.state(), OpenMode::daemon);
  const Bytes content = read_file(dir.state() / "daemon.lock");
  EXPECT_EQ(std::string(as_chars(content)), fmt::format("{} daemon\n", ::getpid()));
}

TEST(StoreOpen, CorrectsWrongModesWithAWarning) {
  for (const OpenMode mode : kAllModes) {
    SCOPED_TRACE(name(mode));
    TempDir dir;
    const auto db = dir.db();
    { Store store = open_or_die(dir.state(), OpenMode::daemon); }
    // A daemon that is running has -wal and -shm files; a reader must fix those too.
    std::optional<Store> daemon;
    if (mode == OpenMode::read_only) {
      daemon.emplace(open_or_die(dir.state(), OpenMode::daemon));
      ASSERT_EQ(::chmod((db.string() + "-wal").c_str(), 0644), 0);
      ASSERT_EQ(::chmod((db.string() + "-shm").c_str(), 0640), 0);
    } else {
      ASSERT_EQ(::chmod((dir.state() / "daemon.lock").c_str(), 0666), 0);
    }
    ASSERT_EQ(::chmod(dir.state().c_str(), 0755), 0);
    ASSERT_EQ(::chmod(db.c_str(), 0644), 0);

    test::LogCapture log;
    Store store = open_or_die(dir.state(), mode);
    EXPECT_EQ(mode_of(dir.state()), 0700);
    EXPECT_EQ(mode_of(db), 0600);
    const auto lines = log.lines();
    const auto logged = [&](std::string_view what) {
      for (const auto& line : lines) {
        if (contains(line, what)) return true;
      }
      return false;
    };
    EXPECT_TRUE(logged(fmt::format("warning state directory {} had mode 0755; changed to 0700", dir.state().string())));
    EXPECT_TRUE(logged(fmt::format("warning file {} had mode 0644; changed to 0600", db.string())));
    if (mode == OpenMode::read_only) {
      EXPECT_EQ(mode_of(db.string() + "-wal"), 0600);
      EXPECT_EQ(mode_of(db.string() + "-shm"), 0600);
      EXPECT_TRUE(logged(fmt::format("file {}-shm had mode 0640; changed to 0600", db.string())));
    } else {
      EXPECT_EQ(mode_of(dir.state() / "daemon.lock"), 0600);
      EXPECT_TRUE(logged("lock file"));
    }
  }
}

// ---- files that must be refused, untouched ----------------------------------

struct BadFileRow {
  const char* desc;
  std::function<void(const TempDir&)> make;  // leaves a bad webpushd.db in dir.state()
  Errc code;
  std::string message;  // a part of the message, after the file name
};

void write_db(const TempDir& dir, ByteView bytes) {
  std::filesystem::create_directories(dir.state());
  ::chmod(dir.state().c_str(), 0700);
  test::write_file(dir.db(), bytes);
  ::chmod(dir.db().c_str(), 0600);
}

const BadFileRow kBadFiles[] = {
    {"text file",
     [](const TempDir& dir) { write_db(dir, as_bytes("[daemon]\nserver = \"wss://push.example.net\"\n")); },
     Errc::not_a_database, " is not a webpushd database: it is not an SQLite file"},
    {"random bytes, a page long",
     [](const TempDir& dir) {
       Bytes b(4096);
       for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * 131 + 7);
       write_db(dir, b);
     },
     Errc::not_a_database, " is not a webpushd database"},
    {"another program's SQLite database",
     [](const TempDir& dir) {
       write_db(dir, {});
       raw_exec(dir.db(), "CREATE TABLE bookmarks (url TEXT); INSERT INTO bookmarks VALUES ('https://example.net')");
     },
     Errc::not_a_database, " is an SQLite database but not a webpushd one"},
    {"an SQLite database with another application_id",
     [](const TempDir& dir) {
       write_db(dir, {});
       raw_exec(dir.db(), "PRAGMA application_id = 1179407952; CREATE TABLE t (x)");
     },
     Errc::not_a_database, " is an SQLite database of another application (application_id 0x464c5650)"},
    {"truncated to 1000 bytes",
     [](const TempDir& dir) {
       make_populated_store(dir.state());
       Bytes b = read_file(dir.db());
       ASSERT_GT(b.size(), 4096u * 8);
       b.resize(1000);
       test::write_file(dir.db(), b);
     },
     Errc::corrupt, " is corrupt"},
    {"truncated to half its size",
     [](const TempDir& dir) {
       make_populated_store(dir.state());
       Bytes b = read_file(dir.db());
       b.resize(b.size() / 2 / 4096 * 4096);
       test::write_file(dir.db(), b);
     },
     Errc::corrupt, " is corrupt"},
    {"a page in the middle overwritten with garbage",
     [](const TempDir& dir) {
       make_populated_store(dir.state());
       Bytes b = read_file(dir.db());
       const std::size_t page = b.size() / 4096 / 2;
       for (std::size_t i = page * 4096; i < (page + 1) * 4096; ++i) b[i] = static_cast<std::uint8_t>(0x5a ^ i);
       test::write_file(dir.db(), b);
     },
     Errc::corrupt, " is corrupt"},
    {"user_version from the future",
     [](const TempDir& dir) {
       make_populated_store(dir.state());
       raw_exec(dir.db(), fmt::format("PRAGMA user_version = {}", kSchemaVersion + 1));
     },
     Errc::newer_schema,
     fmt::format(" was written by a newer webpushd (schema {}, this version knows {})", kSchemaVersion + 1,
                 kSchemaVersion)},
};

TEST(StoreOpen, RefusesBadFilesAndLeavesThemUnchanged) {
  for (const auto& row : kBadFiles) {
    for (const OpenMode mode : kAllModes) {
      SCOPED_TRACE(fmt::format("{}, {}", row.desc, name(mode)));
      TempDir dir;
      row.make(dir);
      ASSERT_FALSE(std::filesystem::exists(dir.db().string() + "-wal"));
      const Bytes before = read_file(dir.db());

      StoreOptions options;  // the defaults: quick_check on, synchronous=FULL
      auto store = Store::open(dir.state(), mode, options);
      ASSERT_FALSE(store);
      EXPECT_EQ(store.error(), row.code) << store.error();
      EXPECT_TRUE(contains(store.error().message(), dir.db().string() + row.message)) << store.error();
      EXPECT_EQ(read_file(dir.db()), before) << "the file was modified";
      // Refused again, the same way: nothing was "repaired" in between.
      auto again = Store::open(dir.state(), mode, options);
      ASSERT_FALSE(again);
      EXPECT_EQ(again.error(), row.code) << again.error();
      EXPECT_EQ(read_file(dir.db()), before);
    }
  }
}

TEST(StoreOpen, EmptyFileIsANewDatabase) {
  TempDir dir;
  write_db(dir, {});
  Store store = open_or_die(dir.state(), OpenMode::daemon);
  EXPECT_EQ(store.count_subscriptions().value(), 0);
}

TEST(StoreOpen, StateDirectoryThatIsAFile) {
  TempDir dir;
  test::write_file(dir.state(), as_bytes("not a directory"));
  for (const OpenMode mode : kAllModes) {
    auto store = Store::open(dir.state(), mode, fast_options());
    ASSERT_FALSE(store) << name(mode);
    EXPECT_EQ(store.error(), Errc::io) << store.error();
    EXPECT_TRUE(contains(store.error().message(), dir.state().string() + " exists but is not a directory"));
  }
}

TEST(StoreOpen, ReadOnlyNeedsAnExistingDatabaseAndCreatesNothing) {
  TempDir dir;
  auto no_dir = Store::open(dir.state(), OpenMode::read_only, fast_options());
  ASSERT_FALSE(no_dir);
  EXPECT_EQ(no_dir.error(), Errc::not_found) << no_dir.error();
  EXPECT_FALSE(std::filesystem::exists(dir.state()));

  std::filesystem::create_directory(dir.state());
  ::chmod(dir.state().c_str(), 0700);
  auto no_db = Store::open(dir.state(), OpenMode::read_only, fast_options());
  ASSERT_FALSE(no_db);
  EXPECT_EQ(no_db.error(), Errc::not_found) << no_db.error();
  EXPECT_TRUE(contains(no_db.error().message(), "no webpushd database at " + dir.db().string()));
  EXPECT_TRUE(std::filesystem::is_empty(dir.state()));

  write_db(dir, {});
  auto empty = Store::open(dir.state(), OpenMode::read_only, fast_options());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), Errc::not_found) << empty.error();
  EXPECT_EQ(read_file(dir.db()).size(), 0u);
}

TEST(StoreOpen, PermissionDenied) {
  if (::geteuid() == 0) GTEST_SKIP() << "root is not refused by file modes";
  TempDir dir;
  { Store store = open_or_die(dir.state(), OpenMode::daemon); }
  // A mode we can correct is corrected; a directory we cannot enter is refused.
  ASSERT_EQ(::chmod(dir.state().c_str(), 0), 0);
  auto store = Store::open(dir.state() / "sub", OpenMode::daemon, fast_options());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error(), Errc::permission) << store.error();
}

// ---- the daemon lock ---------------------------------------------------------

TEST(StoreLock, SecondDaemonOrClientIsRefused) {
  TempDir dir;
  const std::string held_by =
      fmt::format("another webpushd daemon is using {} (pid {})", dir.state().string(), ::getpid());
  {
    Store daemon = open_or_die(dir.state(), OpenMode::daemon);
    for (const OpenMode mode : {OpenMode::daemon, OpenMode::client}) {
      auto second = Store::open(dir.state(), mode, fast_options());
      ASSERT_FALSE(second) << name(mode);
      EXPECT_EQ(second.error(), Errc::locked) << second.error();
      EXPECT_EQ(second.error().message(), held_by);
    }
  }
  // Released with the Store.
  Store daemon = open_or_die(dir.state(), OpenMode::daemon);
}

TEST(StoreLock, ClientHoldsTheLockWhileItWrites) {
  TempDir dir;
  Store client = open_or_die(dir.state(), OpenMode::client);
  auto daemon = Store::open(dir.state(), OpenMode::daemon, fast_options());
  ASSERT_FALSE(daemon);
  EXPECT_EQ(daemon.error(), Errc::locked);
  EXPECT_EQ(daemon.error().message(),
            fmt::format("a webpushd client is using {} (pid {})", dir.state().string(), ::getpid()));
}

TEST(StoreLock, SecondDaemonInAnotherProcessIsRefusedAndAReaderThereWorks) {
  TempDir dir;
  const std::string expected =
      fmt::format("another webpushd daemon is using {} (pid {})", dir.state().string(), ::getpid());
  // Fork before opening anything: an SQLite connection must not cross a fork.
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(go[1]);
    char byte = 0;
    int code = ::read(go[0], &byte, 1) == 1 ? 0 : 9;
    if (code == 0) {
      auto second = Store::open(dir.state(), OpenMode::daemon, fast_options());
      if (second)
        code = 1;
      else if (!second.error().is(Errc::locked))
        code = 2;
      else if (second.error().message() != expected)
        code = 3;
    }
    if (code == 0) {
      auto reader = Store::open(dir.state(), OpenMode::read_only, fast_options());
      if (!reader)
        code = 4;
      else if (auto rows = reader->list_messages(); !rows || rows->size() != 1)
        code = 5;
    }
    ::_exit(code);  // no destructor of state shared with the parent runs
  }
  ::close(go[0]);
  Store daemon = open_or_die(dir.state(), OpenMode::daemon);
  ASSERT_TRUE(daemon.inbox_put_if_new(test::sample_message("c", "v1", 10)));
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  ::close(go[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "1: opened, 2: wrong code, 3: wrong message, 4: reader refused, 5: reader saw wrong rows";
}

TEST(StoreLock, ReaderWorksBesideTheDaemon) {
  TempDir dir;
  Store daemon = open_or_die(dir.state(), OpenMode::daemon);
  auto sub_id = daemon.add_subscription(test::sample_subscription(1));
  ASSERT_TRUE(sub_id);
  ASSERT_TRUE(daemon.inbox_put_if_new(test::sample_message("c", "v1", 10, *sub_id)));

  Store reader = open_or_die(dir.state(), OpenMode::read_only);
  EXPECT_EQ(reader.mode(), OpenMode::read_only);
  EXPECT_EQ(reader.list_subscriptions().value().size(), 1u);
  EXPECT_EQ(reader.list_messages().value().size(), 1u);
  // It sees what the daemon commits after it opened.
  ASSERT_TRUE(daemon.inbox_put_if_new(test::sample_message("c", "v2", 20, *sub_id)));
  EXPECT_EQ(reader.list_messages().value().size(), 2u);
  EXPECT_EQ(reader.inbox_stats().value().stored, 2);
  // And it cannot write.
  auto write = reader.inbox_put_if_new(test::sample_message("c", "v3", 30));
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error(), Errc::read_only) << write.error();
  auto uaid = reader.set_uaid("wss://x/", "u");
  ASSERT_FALSE(uaid);
  EXPECT_EQ(uaid.error(), Errc::read_only);
  // The daemon still writes while the reader is open.
  ASSERT_TRUE(daemon.mark_delivered(1, 40));
}

TEST(StoreLock, ReaderWithoutADaemonLeavesTheFileAsItWas) {
  TempDir dir;
  make_populated_store(dir.state());
  ASSERT_FALSE(std::filesystem::exists(dir.db().string() + "-wal"));
  const Bytes before = read_file(dir.db());
  {
    Store reader = open_or_die(dir.state(), OpenMode::read_only, StoreOptions{});
    EXPECT_EQ(reader.list_messages().value().size(), 60u);
  }
  EXPECT_EQ(read_file(dir.db()), before);
}

}  // namespace store_open_test
}  // namespace webpush::store
