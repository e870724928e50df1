// The generic SQLite wrapper: open, exec, prepare, bind/column round trips,
// transactions, and the error each failure maps to.
#include "webpush/store/sqlite.h"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <limits>
#include <string>
#include <utility>

#include "store_fixtures.h"

namespace webpush::sqlite {
namespace store_sqlite_test {

using store::Errc;
using store::test::TempDir;

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::open(dir_.path() / "t.db", Access::create);
    ASSERT_TRUE(db) << db.error();
    db_.emplace(std::move(*db));
    ASSERT_TRUE(db_->exec("CREATE TABLE t (i INTEGER, s TEXT, b BLOB)"));
  }

  TempDir dir_;
  std::optional<Database> db_;
};

TEST_F(SqliteTest, BindAndReadBackEveryType) {
  auto ins = db_->prepare("INSERT INTO t (i, s, b) VALUES (?1, ?2, ?3)");
  ASSERT_TRUE(ins) << ins.error();
  const Bytes blob = {0x00, 0x01, 0xfe, 0xff};
  ASSERT_TRUE(ins->bind(1, std::numeric_limits<std::int64_t>::min()).bind(2, "héllo\0x").bind(3, ByteView(blob)).run());
  EXPECT_EQ(db_->changes(), 1);
  EXPECT_EQ(db_->last_insert_rowid(), 1);
  ins->reset();
  // Empty text and blob stay empty values, not NULL; nullopt binds NULL.
  ASSERT_TRUE(ins->bind(1, std::optional<std::int64_t>()).bind(2, std::string()).bind(3, ByteView()).run());
  ins->reset();
  ASSERT_TRUE(ins->bind(1, std::optional<std::int64_t>(7))
                  .bind(2, std::optional<std::string>())
                  .bind(3, std::optional<Bytes>(Bytes{9}))
                  .run());

  auto sel = db_->prepare("SELECT i, s, b FROM t ORDER BY rowid");
  ASSERT_TRUE(sel) << sel.error();
  ASSERT_EQ(sel->column_count(), 3);
  ASSERT_EQ(*sel->step(), Step::row);
  EXPECT_EQ(sel->column_int64(0), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(sel->column_text(1), "héllo");  // the literal's "\0x" is not part of the string_view
  EXPECT_EQ(sel->column_blob(2), blob);
  ASSERT_EQ(*sel->step(), Step::row);
  EXPECT_EQ(sel->column_optional_int64(0), std::nullopt);
  EXPECT_EQ(sel->column_optional_text(1), std::optional<std::string>(""));
  EXPECT_EQ(sel->column_optional_blob(2), std::optional<Bytes>(Bytes{}));
  ASSERT_EQ(*sel->step(), Step::row);
  EXPECT_EQ(sel->column_optional_int64(0), 7);
  EXPECT_TRUE(sel->column_is_null(1));
  EXPECT_EQ(sel->column_optional_text(1), std::nullopt);
  EXPECT_EQ(sel->column_optional_blob(2), std::optional<Bytes>(Bytes{9}));
  EXPECT_EQ(*sel->step(), Step::done);
}

TEST_F(SqliteTest, TextWithEmbeddedNulRoundTrips) {
  const std::string text("a\0b", 3);
  auto ins = db_->prepare("INSERT INTO t (s) VALUES (?1)");
  ASSERT_TRUE(ins);
  ASSERT_TRUE(ins->bind(1, text).run());
  EXPECT_EQ(db_->query_text("SELECT s FROM t").value(), text);
}

TEST_F(SqliteTest, TransactionRollsBackUnlessCommitted) {
  {
    auto txn = Transaction::begin(*db_);
    ASSERT_TRUE(txn) << txn.error();
    EXPECT_TRUE(db_->in_transaction());
    ASSERT_TRUE(db_->exec("INSERT INTO t (i) VALUES (1)"));
  }
  EXPECT_FALSE(db_->in_transaction());
  EXPECT_EQ(db_->query_int64("SELECT count(*) FROM t").value(), 0);
  {
    auto txn = Transaction::begin(*db_, Transaction::Mode::deferred);
    ASSERT_TRUE(txn);
    ASSERT_TRUE(db_->exec("INSERT INTO t (i) VALUES (2)"));
    Transaction moved = std::move(*txn);  // the moved-from one must not roll back
    ASSERT_TRUE(moved.commit());
  }
  EXPECT_EQ(db_->query_int64("SELECT count(*) FROM t").value(), 1);
  {
    auto txn = Transaction::begin(*db_, Transaction::Mode::exclusive);
    ASSERT_TRUE(txn);
    ASSERT_TRUE(db_->exec("INSERT INTO t (i) VALUES (3)"));
    ASSERT_TRUE(txn->rollback());
    EXPECT_FALSE(db_->in_transaction());
  }
  EXPECT_EQ(db_->query_int64("SELECT count(*) FROM t").value(), 1);
}

TEST_F(SqliteTest, TransactionsDoNotNest) {
  auto outer = Transaction::begin(*db_);
  ASSERT_TRUE(outer);
  auto inner = Transaction::begin(*db_);
  ASSERT_FALSE(inner);
  EXPECT_EQ(inner.error(), Errc::internal);
  EXPECT_TRUE(db_->in_transaction());  // the failed begin left the outer one alone
}

TEST_F(SqliteTest, FailedCommitLeavesNoOpenTransaction) {
  ASSERT_TRUE(
      db_->exec("CREATE TABLE p (id INTEGER PRIMARY KEY);"
                "CREATE TABLE c (p INTEGER REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED);"
                "PRAGMA foreign_keys = ON"));
  auto txn = Transaction::begin(*db_);
  ASSERT_TRUE(txn);
  ASSERT_TRUE(db_->exec("INSERT INTO c (p) VALUES (42)"));  // checked only at COMMIT
  auto ok = txn->commit();
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error(), Errc::constraint);
  EXPECT_FALSE(db_->in_transaction());
  EXPECT_EQ(db_->query_int64("SELECT count(*) FROM c").value(), 0);
}

TEST_F(SqliteTest, UserVersionRoundTrips) {
  EXPECT_EQ(db_->user_version().value(), 0);
  ASSERT_TRUE(db_->set_user_version(42));
  EXPECT_EQ(db_->user_version().value(), 42);
  auto too_big = db_->set_user_version(std::int64_t{1} << 40);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error(), Errc::invalid_argument);
}

TEST_F(SqliteTest, StatementsAreMovable) {
  auto a = db_->prepare("SELECT 1");
  ASSERT_TRUE(a);
  Statement b = std::move(*a);
  EXPECT_FALSE(a->valid());
  ASSERT_TRUE(b.valid());
  EXPECT_EQ(b.sql(), "SELECT 1");
  Statement c;
  c = std::move(b);
  ASSERT_EQ(*c.step(), Step::row);
  EXPECT_EQ(c.column_int64(0), 1);
}

TEST_F(SqliteTest, ResetGuardEndsTheReadSnapshot) {
  auto sel = db_->prepare("SELECT i FROM t");
  ASSERT_TRUE(db_->exec("INSERT INTO t (i) VALUES (1), (2)"));
  ASSERT_TRUE(sel);
  {
    ResetGuard reset(*sel);
    ASSERT_EQ(*sel->step(), Step::row);
    EXPECT_NE(sqlite3_stmt_busy(sel->handle()), 0);
  }
  EXPECT_EQ(sqlite3_stmt_busy(sel->handle()), 0);
}

struct ErrRow {
  const char* desc;
  const char* sql;
  Errc code;
};

const ErrRow kErrRows[] = {
    {"syntax error", "SELEC 1", Errc::internal},
    {"no such table", "SELECT * FROM nope", Errc::internal},
    {"two statements", "SELECT 1; SELECT 2", Errc::internal},
    {"no statement", "  -- just a comment", Errc::internal},
};

TEST_F(SqliteTest, PrepareErrRows) {
  for (const auto& row : kErrRows) {
    auto stmt = db_->prepare(row.sql);
    ASSERT_FALSE(stmt) << row.desc;
    EXPECT_EQ(stmt.error(), row.code) << row.desc << ": " << stmt.error();
    // Every message names the file.
    EXPECT_NE(stmt.error().message().find("t.db"), std::string::npos) << stmt.error();
  }
}

TEST_F(SqliteTest, StepErrRows) {
  ASSERT_TRUE(db_->exec("CREATE TABLE u (k TEXT UNIQUE NOT NULL)"));
  ASSERT_TRUE(db_->exec("INSERT INTO u VALUES ('x')"));

  auto dup = db_->prepare("INSERT INTO u VALUES (?1)");
  ASSERT_TRUE(dup);
  auto r1 = dup->bind(1, "x").step();
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error(), Errc::constraint) << r1.error();
  EXPECT_NE(r1.error().message().find("UNIQUE constraint failed: u.k"), std::string::npos) << r1.error();
  dup->reset();

  auto r2 = dup->bind(1, std::nullopt).step();
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error(), Errc::constraint) << r2.error();
  dup->reset();

  // A bind error is reported by the next step(), naming the parameter.
  auto r3 = dup->bind(5, "y").step();
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error(), Errc::internal) << r3.error();
  EXPECT_NE(r3.error().message().find("bind parameter 5"), std::string::npos) << r3.error();
  dup->reset();
  // reset() forgets it.
  ASSERT_TRUE(dup->bind(1, "z").run());
}

TEST(SqliteOpen, ErrRows) {
  TempDir dir;
  auto missing = Database::open(dir.path() / "missing.db", Access::read_write);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), Errc::not_found) << missing.error();
  EXPECT_NE(missing.error().message().find("missing.db"), std::string::npos) << missing.error();

  auto no_dir = Database::open(dir.path() / "no" / "such" / "dir.db", Access::create);
  ASSERT_FALSE(no_dir);
  EXPECT_EQ(no_dir.error(), Errc::not_found) << no_dir.error();

  // Opening does not read: a text file fails on first use, with not_a_database.
  store::test::write_file(dir.path() / "text.db", as_bytes(std::string(4096, 'x')));
  auto text = Database::open(dir.path() / "text.db", Access::read_only);
  ASSERT_TRUE(text) << text.error();
  auto read = text->user_version();
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error(), Errc::not_a_database) << read.error();
}

TEST(SqliteOpen, WriteThroughReadOnlyConnection) {
  TempDir dir;
  const auto file = dir.path() / "ro.db";
  {
    auto db = Database::open(file, Access::create);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE t (i INTEGER)"));
  }
  auto db = Database::open(file, Access::read_only);
  ASSERT_TRUE(db) << db.error();
  EXPECT_TRUE(db->is_read_only());
  auto ok = db->exec("INSERT INTO t VALUES (1)");
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error(), Errc::read_only) << ok.error();
}

TEST(SqliteOpen, BusyWhenAnotherConnectionWrites) {
  TempDir dir;
  const auto file = dir.path() / "busy.db";
  auto a = Database::open(file, Access::create);
  auto b = Database::open(file, Access::read_write);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->exec("PRAGMA journal_mode = WAL; CREATE TABLE t (i INTEGER)"));
  ASSERT_TRUE(b->set_busy_timeout(std::chrono::milliseconds(0)));
  auto txn = Transaction::begin(*a);
  ASSERT_TRUE(txn);
  auto other = Transaction::begin(*b);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error(), Errc::busy) << other.error();
  // A reader is not blocked by the writer in WAL mode.
  EXPECT_EQ(b->query_int64("SELECT count(*) FROM t").value(), 0);
}

}  // namespace store_sqlite_test
}  // namespace webpush::sqlite
