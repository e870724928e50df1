// The JSON-lines sink on real files: one line per event, torn-line repair at
// open, read-back of messages written just before a crash (exactly once), and
// a failed write cut away so that no line follows a partial one.
#include "webpush/sinks/jsonl.h"

#include <sys/resource.h>

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "webpush/core/bytes.h"

namespace webpush::sinks {
namespace {

using test::LogCapture;
using test::read_file;
using test::TempDir;

Message message(int n, std::string_view text = "hello") {
  Message m;
  m.id = n;
  m.subscription = "laptop";
  m.channel_id = "00000000-0000-4000-8000-00000000000" + std::to_string(n % 10);
  m.version = "v" + std::to_string(n);
  m.received_at = 1'700'000'000'000 + n;
  m.payload = to_bytes(text);
  m.encoding = "aes128gcm";
  return m;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  if (start != text.size()) out.push_back("<torn>" + text.substr(start));
  return out;
}

std::vector<std::string> versions_in(const std::filesystem::path& file) {
  std::vector<std::string> out;
  for (const auto& line : lines_of(read_file(file))) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    out.push_back(j.is_discarded() ? line : j.value("version", "?"));
  }
  return out;
}

void append_raw(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::app) << bytes;
}

std::unique_ptr<JsonlSink> open_or_die(const std::filesystem::path& file) {
  auto sink = JsonlSink::open(file.string());
  if (!sink) ADD_FAILURE() << sink.error();
  return sink ? std::move(*sink) : nullptr;
}

std::vector<const Message*> pointers(const std::vector<Message>& messages) {
  std::vector<const Message*> out;
  for (const auto& m : messages) out.push_back(&m);
  return out;
}

void deliver_or_fail(JsonlSink& sink, const Message& m) {
  const auto ok = sink.deliver(event_of(m));
  EXPECT_TRUE(ok) << (ok ? "" : ok.error().message());
}

TEST(JsonlSink, WritesOneCompleteLinePerEventInTheDocumentedFormat) {
  TempDir dir;
  const auto file = dir.path() / "out.jsonl";
  auto sink = open_or_die(file);
  deliver_or_fail(*sink, message(1));
  deliver_or_fail(*sink, message(2, "second"));
  const auto lines = lines_of(read_file(file));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], to_json_line(event_of(message(1))));
  EXPECT_EQ(nlohmann::json::parse(lines[1])["payload"], "second");
}

TEST(JsonlSink, ATornLastLineIsCutAwayAtOpenAndTheNextLineStartsClean) {
  TempDir dir;
  const auto file = dir.path() / "out.jsonl";
  append_raw(file, to_json_line(event_of(message(1))) + "\n" + to_json_line(event_of(message(2))).substr(0, 40));
  LogCapture log;
  auto sink = open_or_die(file);
  EXPECT_NE(log.text().find("torn line (40 bytes"), std::string::npos) << log.text();
  deliver_or_fail(*sink, message(2));
  EXPECT_EQ(versions_in(file), (std::vector<std::string>{"v1", "v2"}));
}

TEST(JsonlSink, AFileThatIsOneTornLineIsEmptied) {
  TempDir dir;
  const auto file = dir.path() / "out.jsonl";
  append_raw(file, R"({"type":"message","subs)");
  auto sink = open_or_die(file);
  EXPECT_EQ(read_file(file), "");
}

TEST(JsonlSink, WithoutALineStartWithinTheWindowTheLineIsEndedNotCut) {
  TempDir dir;
  const auto file = dir.path() / "out.jsonl";
  const std::string blob(JsonlSink::kRecoverWindow + 10, 'x');
  append_raw(file, blob);
  LogCapture log;
  auto sink = open_or_die(file);
  EXPECT_EQ(read_file(file), blob + "\n");
  EXPECT_NE(log.text().find("ended it"), std::string::npos) << log.text();
}

TEST(JsonlSink, AWholeFileIsLeftAsItIs) {
  TempDir dir;
  const auto file = dir.path() / "out.jsonl";
  const std::string whole = to_json_line(event_of(message(1))) + "\n";
  append_raw(file, whole);
  LogCapture log;
  auto sink = open_or_die(file);
  EXPECT_EQ(read_file(file), whole);
  EXPECT_EQ(log.text(), "");
}

TEST(JsonlSink, RecoveredMessagesAreNotWrittenAgainAndTheOthersAre) {
  TempDir dir;
  const auto file = dir.path() / "out.jsonl";
  {
    auto before_crash = open_or_die(file);
    for (int n = 1; n <= 3; ++n) deliver_or_fail(*before_crash, message(n));
  }
  // v2 and v3 were written but never marked delivered; v4 was not written.
  const std::vector<Message> undelivered{message(2), message(3), message(4)};
  auto sink = open_or_die(file);
  LogCapture log;
  sink->recover(pointers(undelivered));
  EXPECT_EQ(sink->held(), 2u);
  EXPECT_NE(log.text().find("2 of 3 undelivered message(s) are already in"), std::string::npos) << log.text();
  for (const auto& m : undelivered) deliver_or_fail(*sink, m);
  EXPECT_EQ(sink->held(), 0u);
  EXPECT_EQ(versions_in(file), (std::vector<std::string>{"v1", "v2", "v3", "v4"}));
  // Held once only: a later delivery of the same message is written (the inbox,
  // not the sink, keeps duplicates from the service out).
  deliver_or_fail(*sink, message(3));
  EXPECT_EQ(versions_in(file).size(), 5u);
}

TEST(JsonlSink, RecoverMatchesChannelAndVersionNotJustTheVersion) {
  TempDir dir;
  const auto file = dir.path() / "out.jsonl";
  deliver_or_fail(*open_or_die(file), message(1));
  Message other = message(1);
  other.channel_id = "11111111-0000-4000-8000-000000000001";
  auto sink = open_or_die(file);
  sink->recover(pointers({other}));
  EXPECT_EQ(sink->held(), 0u);
}

TEST(JsonlSink, RecoverReadsNoFurtherBackThanItsWindow) {
  TempDir dir;
  const auto file = dir.path() / "out.jsonl";
  {
    auto before = open_or_die(file);
    deliver_or_fail(*before, message(1));
    // Over a window's worth of later lines.
    const std::string big(4000, 'p');
    for (int n = 100; n < 100 + static_cast<int>(JsonlSink::kRecoverWindow / 4000) + 5; ++n) {
      deliver_or_fail(*before, message(n, big));
    }
    deliver_or_fail(*before, message(2));
  }
  auto sink = open_or_die(file);
  sink->recover(pointers({message(1), message(2)}));
  EXPECT_EQ(sink->held(), 1u);  // v2, near the end; v1 lies beyond the window and is written again
}

TEST(JsonlSink, DecryptErrorLinesAndOtherTypesAreNotMistakenForMessages) {
  TempDir dir;
  const auto file = dir.path() / "out.jsonl";
  Message failed = message(1);
  failed.payload.reset();
  failed.error = "bad auth tag";
  deliver_or_fail(*open_or_die(file), failed);  // a decrypt_error line with channel and version of message(1)
  auto sink = open_or_die(file);
  sink->recover(pointers({message(1)}));
  EXPECT_EQ(sink->held(), 0u);
}

// A file size limit makes write() stop part-way (EFBIG), as a full disk would.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    previous_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*previous_)(int) = nullptr;
};

TEST(JsonlSink, AFailedWriteLeavesNoPartialLineBehind) {
  TempDir dir;
  const auto file = dir.path() / "out.jsonl";
  auto sink = open_or_die(file);
  deliver_or_fail(*sink, message(1));
  const auto size = std::filesystem::file_size(file);
  {
    FileSizeLimit limit(size + 20);  // room for 20 bytes of the next line
    const auto ok = sink->deliver(event_of(message(2)));
    ASSERT_FALSE(ok);
    EXPECT_TRUE(ok.error().is(Errc::io));
  }
  EXPECT_EQ(std::filesystem::file_size(file), size);
  deliver_or_fail(*sink, message(2));  // space is back
  EXPECT_EQ(versions_in(file), (std::vector<std::string>{"v1", "v2"}));
}

TEST(JsonlSink, StdoutHasNothingToReadBack) {
  auto sink = JsonlSink::open("-");
  ASSERT_TRUE(sink);
  (*sink)->recover(pointers({message(1)}));
  EXPECT_EQ((*sink)->held(), 0u);
}

}  // namespace
}  // namespace webpush::sinks
