// Helpers for the store tests: a private temp directory per test, file bytes and
// modes, sample rows, a capture of the "store" logger, and a fixture with an
// open store.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include "webpush/core/bytes.h"
#include "webpush/store/store.h"

namespace webpush::store::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents at scope end.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// The state directory the tests open stores in (not created).
  [[nodiscard]] std::filesystem::path state() const { return path_ / "state"; }
  [[nodiscard]] std::filesystem::path db() const { return state() / std::string(kDatabaseFileName); }

 private:
  std::filesystem::path path_;
};

Bytes read_file(const std::filesystem::path& file);
void write_file(const std::filesystem::path& file, ByteView bytes);
/// Permission bits (07777) of `path`; -1 if it cannot be stat-ed.
int mode_of(const std::filesystem::path& path);

/// A subscription with deterministic, valid-sized keys derived from `n`.
Subscription sample_subscription(int n, std::string_view server = "wss://push.example.net/");
/// A stored message on `channel` with a payload derived from `version`.
InboxEntry sample_message(std::string_view channel, std::string_view version, std::int64_t received_at,
                          std::optional<std::int64_t> subscription_id = std::nullopt);

/// Options for tests: no quick_check unless a test asks (keeps them fast) and
/// synchronous=NORMAL (no fsync per commit); durability is the crash test's job.
StoreOptions fast_options();

/// Opens a store and fails the test program loudly if it cannot.
Store open_or_die(const std::filesystem::path& state_dir, OpenMode mode, StoreOptions options = fast_options());

/// Captures what is logged to the "store" logger while it lives.
class LogCapture {
 public:
  LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  ~LogCapture();

  [[nodiscard]] std::vector<std::string> lines() const;

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

/// Runs SQL on a database file with the raw sqlite3 API (no wrapper), for building
/// fixtures and inspecting files behind the store's back. Aborts on error.
void raw_exec(const std::filesystem::path& file, std::string_view sql);
/// The first column of each row of `sql`, as text (NULL as "NULL").
std::vector<std::string> raw_query(const std::filesystem::path& file, std::string_view sql);

/// The text of a file under tests/data/store.
std::string data_file(std::string_view name);

/// A store opened for the daemon in a fresh temp directory before each test.
class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override;

  Store& store() { return *store_; }
  /// Closes the store and opens the same file again.
  void reopen();
  /// The number of rows in `table`, read behind the store's back.
  std::int64_t rows(std::string_view table);

  TempDir dir_;
  std::optional<Store> store_;
};

}  // namespace webpush::store::test
