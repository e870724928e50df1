// Durability as the disk sees it: which operations wait for an fsync of the WAL.
// A pass-through SQLite VFS, installed as the default for the test's duration,
// counts xSync calls per file kind on top of the real unix VFS (real files, real
// SQLite; only counted). The rule under test: a put commits with its own sync
// under synchronous=FULL (so the message may be acked), marks and pruning do not,
// and synchronous=NORMAL never syncs a plain commit.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <cstring>
#include <vector>

#include "store_fixtures.h"
#include "webpush/store/store.h"

namespace webpush::store {
namespace store_sync_test {

using test::open_or_die;
using test::sample_message;
using test::TempDir;

// ---- the counting VFS -------------------------------------------------------

struct Counts {
  int wal_syncs = 0;
  int db_syncs = 0;
};
Counts g_counts;  // the Store is used from this thread only

struct CountingFile {
  sqlite3_file base;
  sqlite3_file* real;  // follows this struct in the same allocation
  bool is_wal;
};

sqlite3_vfs* g_real_vfs = nullptr;

sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<CountingFile*>(f)->real; }

int x_close(sqlite3_file* f) {
  sqlite3_file* r = real(f);
  return r->pMethods != nullptr ? r->pMethods->xClose(r) : SQLITE_OK;
}
int x_read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return real(f)->pMethods->xRead(real(f), buf, n, off);
}
int x_write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  return real(f)->pMethods->xWrite(real(f), buf, n, off);
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) { return real(f)->pMethods->xTruncate(real(f), size); }
int x_sync(sqlite3_file* f, int flags) {
  if (reinterpret_cast<CountingFile*>(f)->is_wal) {
    ++g_counts.wal_syncs;
  } else {
    ++g_counts.db_syncs;
  }
  return real(f)->pMethods->xSync(real(f), flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* size) { return real(f)->pMethods->xFileSize(real(f), size); }
int x_lock(sqlite3_file* f, int level) { return real(f)->pMethods->xLock(real(f), level); }
int x_unlock(sqlite3_file* f, int level) { return real(f)->pMethods->xUnlock(real(f), level); }
int x_check_reserved(sqlite3_file* f, int* out) { return real(f)->pMethods->xCheckReservedLock(real(f), out); }
int x_file_control(sqlite3_file* f, int op, void* arg) { return real(f)->pMethods->xFileControl(real(f), op, arg); }
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device(sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }
int x_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return real(f)->pMethods->xShmMap(real(f), page, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); }
int x_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return real(f)->pMethods->xFetch(real(f), off, n, out);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) { return real(f)->pMethods->xUnfetch(real(f), off, p); }

const sqlite3_io_methods kCountingMethods = {
    3,          x_close,       x_read,           x_write,        x_truncate,    x_sync,   x_file_size,
    x_lock,     x_unlock,      x_check_reserved, x_file_control, x_sector_size, x_device, x_shm_map,
    x_shm_lock, x_shm_barrier, x_shm_unmap,      x_fetch,        x_unfetch,
};

int x_open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* file = reinterpret_cast<CountingFile*>(f);
  file->real = reinterpret_cast<sqlite3_file*>(file + 1);
  file->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  const int rc = g_real_vfs->xOpen(g_real_vfs, name, file->real, flags, out_flags);
  // The real methods must be set for x_close, even when the open failed.
  file->base.pMethods = file->real->pMethods != nullptr ? &kCountingMethods : nullptr;
  return rc;
}

// Installs the counting VFS as the default while it lives.
class CountingVfs {
 public:
  CountingVfs() {
    g_real_vfs = sqlite3_vfs_find(nullptr);
    std::memcpy(&vfs_, g_real_vfs, sizeof vfs_);
    vfs_.zName = "webpushd-counting";
    vfs_.szOsFile = static_cast<int>(sizeof(CountingFile)) + g_real_vfs->szOsFile;
    vfs_.xOpen = x_open;
    vfs_.pNext = nullptr;
    EXPECT_EQ(sqlite3_vfs_register(&vfs_, 1), SQLITE_OK);
    g_counts = {};
  }
  CountingVfs(const CountingVfs&) = delete;
  CountingVfs& operator=(const CountingVfs&) = delete;
  ~CountingVfs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(g_real_vfs, 1);
  }

 private:
  sqlite3_vfs vfs_{};
};

// Syncs of the WAL caused by `op`.
template <class Op>
int wal_syncs(Op op) {
  const int before = g_counts.wal_syncs;
  op();
  return g_counts.wal_syncs - before;
}

TEST(Durability, FullSyncsEveryPutAndNoMark) {
  TempDir dir;
  const CountingVfs vfs;
  StoreOptions options;  // the daemon's: synchronous=FULL
  Store store = open_or_die(dir.state(), OpenMode::daemon, options);

  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(wal_syncs([&] {
                auto put = store.inbox_put_if_new(sample_message("c", std::to_string(i), i));
                ASSERT_TRUE(put) << put.error();
                ids.push_back(put->id);
              }),
              1)
        << "put " << i << " must be on disk before it is acked";
  }
  EXPECT_EQ(wal_syncs([&] { ASSERT_TRUE(store.mark_delivered(ids[0], 1)); }), 0);
  EXPECT_EQ(wal_syncs([&] { ASSERT_TRUE(store.mark_failed(ids[1], "sink failed")); }), 0);
  EXPECT_EQ(wal_syncs([&] { ASSERT_TRUE(store.mark_delivered_batch(ids, 2)); }), 0);
  EXPECT_EQ(wal_syncs([&] { ASSERT_TRUE(store.prune(1'000'000'000'000, {.max_rows = 1})); }), 0);
  // After relaxed commits, a put is FULL again.
  EXPECT_EQ(wal_syncs([&] { ASSERT_TRUE(store.inbox_put_if_new(sample_message("c", "after", 9))); }), 1);
  // A group: one sync for all of it.
  std::vector<InboxEntry> group;
  for (int i = 0; i < 20; ++i) group.push_back(sample_message("g", std::to_string(i), i));
  EXPECT_EQ(wal_syncs([&] { ASSERT_TRUE(store.inbox_put_batch(group)); }), 1);
  // Subscription and uaid changes are durable too.
  EXPECT_EQ(wal_syncs([&] { ASSERT_TRUE(store.add_subscription(test::sample_subscription(1))); }), 1);
  EXPECT_EQ(wal_syncs([&] { ASSERT_TRUE(store.set_uaid("wss://a/", "u")); }), 1);
  // A redelivered message (alone or in an all-duplicate group) writes nothing, so
  // there is nothing to sync.
  EXPECT_EQ(wal_syncs([&] {
              auto put = store.inbox_put_batch(group);
              ASSERT_TRUE(put);
              EXPECT_FALSE(put->front().is_new);
            }),
            0);
  EXPECT_EQ(wal_syncs([&] { ASSERT_FALSE(store.inbox_put_if_new(sample_message("c", "after", 9)).value().is_new); }),
            0);
}

TEST(Durability, NormalNeverSyncsAPlainCommit) {
  TempDir dir;
  const CountingVfs vfs;
  StoreOptions options;
  options.synchronous = Synchronous::normal;
  Store store = open_or_die(dir.state(), OpenMode::daemon, options);
  EXPECT_EQ(wal_syncs([&] {
              for (int i = 0; i < 5; ++i)
                ASSERT_TRUE(store.inbox_put_if_new(sample_message("c", std::to_string(i), i)));
              ASSERT_TRUE(store.mark_delivered(1, 1));
              ASSERT_TRUE(store.add_subscription(test::sample_subscription(1)));
            }),
            0);
}

}  // namespace store_sync_test
}  // namespace webpush::store
