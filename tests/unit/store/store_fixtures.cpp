#include "store_fixtures.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#ifndef WEBPUSH_STORE_TEST_DATA
#error "WEBPUSH_STORE_TEST_DATA must name tests/data/store"
#endif

namespace webpush::store::test {

namespace {
[[noreturn]] void die(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "store test setup failed (%.*s): %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}
}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/webpushd-store-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) die("mkdtemp", pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  // A test may have left a directory unreadable; give the owner access back first.
  for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) ::chmod(it->path().c_str(), 0700);
  }
  std::filesystem::remove_all(path_, ec);
}

Bytes read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) die("read", file.string());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::filesystem::path& file, ByteView bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) die("write", file.string());
}

int mode_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

Subscription sample_subscription(int n, std::string_view server) {
  const auto b = static_cast<std::uint8_t>(n);
  Subscription s;
  s.name = "sub-" + std::to_string(n);
  s.server = std::string(server);
  s.channel_id = "00000000-0000-4000-8000-" + std::string(12 - std::to_string(n).size(), '0') + std::to_string(n);
  s.endpoint = "https://push.example.net/wpush/v2/" + std::to_string(n);
  s.private_key = SecretBytes(kPrivateKeySize, b);
  s.public_key = Bytes(kPublicKeySize, static_cast<std::uint8_t>(b + 1));
  s.public_key[0] = 0x04;
  s.auth_secret = SecretBytes(kAuthSecretSize, static_cast<std::uint8_t>(b + 2));
  if (n % 2 == 0) {
    s.app_server_key = Bytes(kPublicKeySize, static_cast<std::uint8_t>(b + 3));
    (*s.app_server_key)[0] = 0x04;
  }
  s.created_at = 1'700'000'000'000 + n;
  s.state = SubscriptionState::active;
  return s;
}

InboxEntry sample_message(std::string_view channel, std::string_view version, std::int64_t received_at,
                          std::optional<std::int64_t> subscription_id) {
  InboxEntry e;
  e.subscription_id = subscription_id;
  e.channel_id = std::string(channel);
  e.version = std::string(version);
  e.received_at = received_at;
  e.payload = to_bytes("payload of " + std::string(version));
  e.encoding = "aes128gcm";
  return e;
}

StoreOptions fast_options() {
  StoreOptions o;
  o.synchronous = Synchronous::normal;
  o.quick_check = false;
  return o;
}

Store open_or_die(const std::filesystem::path& state_dir, OpenMode mode, StoreOptions options) {
  auto store = Store::open(state_dir, mode, options);
  if (!store) die("open store", store.error().to_string());
  return std::move(*store);
}

LogCapture::LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64)) {
  spdlog::drop("store");
  auto log = std::make_shared<spdlog::logger>("store", sink_);
  log->set_pattern("%l %v");
  spdlog::register_logger(log);
}

LogCapture::~LogCapture() { spdlog::drop("store"); }

std::vector<std::string> LogCapture::lines() const {
  std::vector<std::string> out = sink_->last_formatted();
  for (auto& line : out) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  }
  return out;
}

namespace {
sqlite3* raw_open(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    die("sqlite3_open_v2", db != nullptr ? sqlite3_errmsg(db) : file.c_str());
  }
  return db;
}
}  // namespace

void raw_exec(const std::filesystem::path& file, std::string_view sql) {
  sqlite3* db = raw_open(file);
  char* err = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) die("sqlite3_exec", err);
  sqlite3_close(db);
}

std::vector<std::string> raw_query(const std::filesystem::path& file, std::string_view sql) {
  sqlite3* db = raw_open(file);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK) {
    die("sqlite3_prepare_v2", sqlite3_errmsg(db));
  }
  std::vector<std::string> out;
  int rc = 0;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const auto* text = sqlite3_column_text(stmt, 0);
    out.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "NULL");
  }
  if (rc != SQLITE_DONE) die("sqlite3_step", sqlite3_errmsg(db));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

std::string data_file(std::string_view name) {
  const std::filesystem::path file = std::filesystem::path(WEBPUSH_STORE_TEST_DATA) / name;
  std::ifstream in(file);
  if (!in) die("data file", file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void StoreFixture::SetUp() { store_.emplace(open_or_die(dir_.state(), OpenMode::daemon)); }

void StoreFixture::reopen() {
  store_.reset();
  store_.emplace(open_or_die(dir_.state(), OpenMode::daemon));
}

std::int64_t StoreFixture::rows(std::string_view table) {
  return std::stoll(raw_query(dir_.db(), fmt::format("SELECT count(*) FROM {}", table)).at(0));
}

}  // namespace webpush::store::test
