// Crash safety: a child process stores messages as the daemon does (each commit
// reported to the parent through a pipe) and is killed with SIGKILL mid-stream.
// The database must open afterwards, pass integrity_check, and hold every message
// the child reported committed.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "store_fixtures.h"
#include "webpush/store/store.h"

namespace webpush::store {
namespace store_crash_test {

using test::TempDir;

constexpr std::int64_t kKillAfter = 150;  // committed messages before the parent kills

// The child: the daemon's write pattern with the daemon's durability settings.
// Never returns.
[[noreturn]] void run_writer(const std::filesystem::path& state, int report_fd) {
  auto store = Store::open(state, OpenMode::daemon, StoreOptions{});
  if (!store) ::_exit(2);
  std::int64_t committed = 0;
  const auto report = [&] {
    if (::write(report_fd, &committed, sizeof committed) != sizeof committed) ::_exit(3);
  };
  for (std::int64_t round = 0;; ++round) {
    if (round % 2 == 0) {
      // One message, its own transaction; then the previous one marked delivered.
      auto put = store->inbox_put_if_new(test::sample_message("chan", std::to_string(committed), committed));
      if (!put || !put->is_new) ::_exit(4);
      ++committed;
      report();
      if (put->id > 1 && !store->mark_delivered(put->id - 1, committed)) ::_exit(5);
    } else {
      // A group of five in one transaction.
      std::vector<InboxEntry> group;
      for (std::int64_t i = 0; i < 5; ++i) {
        group.push_back(test::sample_message("chan", std::to_string(committed + i), committed + i));
      }
      auto put = store->inbox_put_batch(group);
      if (!put) ::_exit(6);
      committed += 5;
      report();
    }
  }
}

TEST(CrashSafety, SigkillMidStreamLosesNoCommittedMessage) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();  // no connection is open in this process
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    run_writer(dir.state(), fds[1]);
  }
  ::close(fds[1]);

  std::int64_t committed = 0;
  std::int64_t value = 0;
  bool killed = false;
  while (::read(fds[0], &value, sizeof value) == sizeof value) {
    committed = std::max(committed, value);
    if (!killed && committed >= kKillAfter) {
      ASSERT_EQ(::kill(child, SIGKILL), 0);
      killed = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer exited by itself with status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  ASSERT_GE(committed, kKillAfter);

  // A reader first (the CLI after a daemon crash): it must cope with the hot WAL.
  {
    auto reader = Store::open(dir.state(), OpenMode::read_only, StoreOptions{});
    ASSERT_TRUE(reader) << reader.error();
    auto rows = reader->list_messages();
    ASSERT_TRUE(rows) << rows.error();
    EXPECT_GE(static_cast<std::int64_t>(rows->size()), committed);
  }
  // Then the next daemon: the dead one's lock is gone with it.
  auto store = Store::open(dir.state(), OpenMode::daemon, StoreOptions{});
  ASSERT_TRUE(store) << store.error();
  auto rows = store->list_messages();
  ASSERT_TRUE(rows) << rows.error();
  std::set<std::string> versions;
  for (const auto& e : *rows) versions.insert(e.version);
  // At most one group more than reported: committed, killed before the report.
  EXPECT_LE(static_cast<std::int64_t>(rows->size()), committed + 5);
  for (std::int64_t i = 0; i < committed; ++i) {
    EXPECT_TRUE(versions.count(std::to_string(i))) << "committed message " << i << " is missing";
  }
  EXPECT_EQ(test::raw_query(dir.db(), "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  // And the store keeps working.
  auto put = store->inbox_put_if_new(test::sample_message("chan", "after", 0));
  ASSERT_TRUE(put) << put.error();
  EXPECT_TRUE(put->is_new);
  EXPECT_FALSE(store->inbox_put_if_new(test::sample_message("chan", "0", 0)).value().is_new);
}

}  // namespace store_crash_test
}  // namespace webpush::store
