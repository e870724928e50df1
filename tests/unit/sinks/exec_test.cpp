// The exec sink with real child processes on a real event loop.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"
#include "webpush/sinks/exec.h"

namespace webpush::sinks {
namespace {

using test::read_file;
using test::run_until;
using test::split_nul;
using ::testing::HasSubstr;

using test::child_command;
constexpr Duration kDeadline{20'000};

MessageEvent message(std::string version, std::optional<Bytes> payload = to_bytes("hello")) {
  MessageEvent m;
  m.subscription = "news";
  m.channel_id = "0b5c1f1e-0000-4000-8000-000000000001";
  m.version = std::move(version);
  m.received_at_ms = 1'795'819'371'123;
  m.payload = std::move(payload);
  m.encoding = "aes128gcm";
  return m;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

class ExecSinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<ExecSink> make(const std::string& command, ExecOptions options = {}) {
    options.command = command;
    options.on_finished = [this](const ExecResult& r) { results.push_back(r); };
    auto sink = ExecSink::create(*loop, std::move(options));
    if (!sink) ADD_FAILURE() << sink.error();
    return sink ? std::move(*sink) : nullptr;
  }

  bool wait_for_results(std::size_t n) {
    return run_until(
        *loop, [&] { return results.size() >= n; }, kDeadline);
  }

  test::LogCapture log;
  test::TempDir dir;
  std::unique_ptr<event::EventLoop> loop = test::make_loop();
  std::vector<ExecResult> results;
};

TEST_F(ExecSinkTest, HostileCommandPayloadAndMetadataArriveVerbatimWithoutAShell) {
  const std::string d = dir.path().string();
  const std::string victim = d + "/victim";
  { std::ofstream(victim) << "still here"; }
  // Shell syntax in the command itself: split into words, never interpreted.
  const std::string command = child_command(
      fmt::format("dump {} 'two words' $(touch {}/pwned1) `touch {}/pwned2` ';' rm -rf {} '&&' \"a\\\"b\" 'x\ny' "
                  "\"$HOME\" '|' id",
                  quote(d), d, d, victim));
  auto sink = make(command);
  ASSERT_TRUE(sink);

  MessageEvent m = message("v1;`touch " + d + "/pwned3`$(touch " + d + "/pwned4)\n; rm -rf " + victim);
  m.subscription = "sub\"; $(touch " + d + "/pwned5) `id` '\n; rm -rf " + victim;
  m.channel_id = "chan'$(id)'\"";
  m.message_id = 4711;
  const std::string payload_text = "$(touch " + d + "/pwned6)\n`id`; rm -rf " + victim + " && echo \"'\\";
  Bytes payload = to_bytes(payload_text);
  payload.push_back(0x00);
  payload.push_back(0xff);
  m.payload = payload;
  // An inherited variable of the same name must not leak through.
  ::setenv("WEBPUSH_VERSION", "stale", 1);
  ASSERT_TRUE(sink->deliver(m));
  ::unsetenv("WEBPUSH_VERSION");
  ASSERT_TRUE(wait_for_results(1));
  EXPECT_TRUE(results[0].started);
  EXPECT_EQ(results[0].exit_code, 0);
  EXPECT_EQ(results[0].version, m.version);

  const auto argv = split_nul(read_file(dir.path() / "argv"));
  const std::vector<std::string> expected_argv = {
      test::self_exe(), "--child",      "dump",  d,    "two words", "$(touch", d + "/pwned1)",
      "`touch",         d + "/pwned2`", ";",     "rm", "-rf",       victim,    "&&",
      "a\"b",           "x\ny",         "$HOME", "|",  "id"};
  EXPECT_EQ(argv, expected_argv);
  const auto env = split_nul(read_file(dir.path() / "env"));
  const std::vector<std::string> expected_env = {
      "WEBPUSH_CHANNEL_ID=" + m.channel_id,
      "WEBPUSH_ENCODING=aes128gcm",
      "WEBPUSH_MESSAGE_ID=4711",
      "WEBPUSH_RECEIVED_AT=" + rfc3339(m.received_at_ms),
      "WEBPUSH_SUBSCRIPTION=" + m.subscription,
      "WEBPUSH_VERSION=" + m.version,
  };
  EXPECT_EQ(env, expected_env);
  EXPECT_EQ(rfc3339(m.received_at_ms), "2026-11-27T22:42:51.123Z");
  const std::string in = read_file(dir.path() / "stdin");
  EXPECT_EQ(Bytes(in.begin(), in.end()), payload);

  for (int i = 1; i <= 6; ++i) EXPECT_FALSE(std::filesystem::exists(dir.path() / fmt::format("pwned{}", i))) << i;
  EXPECT_EQ(read_file(victim), "still here");
}

TEST_F(ExecSinkTest, ChildGetsDefaultSignalsAndNoInheritedDescriptors) {
  // As in the daemon: SIGTERM/SIGHUP blocked for a signalfd, SIGPIPE ignored, a descriptor without O_CLOEXEC.
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &block, &old);
  auto old_pipe = std::signal(SIGPIPE, SIG_IGN);
  const int leaky = ::open("/dev/null", O_RDONLY);  // deliberately not O_CLOEXEC
  ASSERT_GE(leaky, 0);

  auto sink = make(child_command("dump " + quote(dir.path().string())));
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->deliver(message("v-signals")));
  const bool done = wait_for_results(1);
  ::close(leaky);
  std::signal(SIGPIPE, old_pipe);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(done);

  // Signals 32 and 33 are glibc's own (thread cancellation, setxid): sigfillset leaves them out, and
  // whatever ran this test may have them ignored. Every other signal must be unblocked and at its default.
  const std::string status = read_file(dir.path() / "status");
  std::uint64_t blocked = ~0ull;
  std::uint64_t ignored = ~0ull;
  ASSERT_EQ(std::sscanf(status.c_str(), "SigBlk:\t%" SCNx64 "\nSigIgn:\t%" SCNx64, &blocked, &ignored), 2) << status;
  constexpr std::uint64_t kGlibcInternal = (1ull << 31) | (1ull << 32);
  EXPECT_EQ(blocked & ~kGlibcInternal, 0u) << status;
  EXPECT_EQ(ignored & ~kGlibcInternal, 0u) << status;
  EXPECT_EQ(read_file(dir.path() / "fds"), "0\n1\n2\n");
  EXPECT_EQ(read_file(dir.path() / "stdin"), "hello");
}

TEST_F(ExecSinkTest, PushWithoutDataGivesEmptyStdin) {
  auto sink = make(child_command("dump " + quote(dir.path().string())));
  ASSERT_TRUE(sink);
  MessageEvent m = message("v-empty", std::nullopt);
  m.encoding = "";
  ASSERT_TRUE(sink->deliver(m));
  ASSERT_TRUE(wait_for_results(1));
  EXPECT_EQ(read_file(dir.path() / "stdin"), "");
  const auto env = split_nul(read_file(dir.path() / "env"));
  EXPECT_THAT(env, ::testing::Contains("WEBPUSH_ENCODING="));
}

TEST_F(ExecSinkTest, AtMostFourRunAtATime) {
  const auto lock = dir.path() / "gate";
  { std::ofstream(lock) << ""; }
  const int gate = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(gate, 0);
  ASSERT_EQ(::flock(gate, LOCK_EX), 0);  // every child blocks on it until we let go

  std::vector<std::size_t> queued_when_finished;
  ExecOptions options;
  options.command = child_command("gate " + quote(lock.string()));
  ExecSink* raw = nullptr;
  options.on_finished = [&](const ExecResult& r) {
    results.push_back(r);
    queued_when_finished.push_back(raw->queued());
    EXPECT_LE(raw->running(), 4u);
  };
  auto created = ExecSink::create(*loop, std::move(options));
  ASSERT_TRUE(created) << created.error();
  raw = created->get();

  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(raw->deliver(message(fmt::format("v{}", i))));
  EXPECT_EQ(raw->running(), 4u);
  EXPECT_EQ(raw->queued(), 1u);
  // While the four are blocked, the fifth stays queued: a few turns of the loop
  // (a zero limit: one pass each, no waiting on the clock) change nothing.
  for (int turn = 0; turn < 3; ++turn)
    run_until(
        *loop, [&] { return !results.empty(); }, Duration{0});
  EXPECT_TRUE(results.empty());
  EXPECT_EQ(raw->running(), 4u);
  EXPECT_EQ(raw->queued(), 1u);

  ASSERT_EQ(::flock(gate, LOCK_UN), 0);
  ::close(gate);
  ASSERT_TRUE(wait_for_results(5));
  EXPECT_EQ(queued_when_finished.front(), 1u);  // the fifth started only after one of the first four ended
  for (const auto& r : results) {
    EXPECT_TRUE(r.started);
    EXPECT_EQ(r.exit_code, 0) << r.version;
  }
  std::vector<std::string> versions;
  for (const auto& r : results) versions.push_back(r.version);
  EXPECT_THAT(versions, ::testing::UnorderedElementsAre("v1", "v2", "v3", "v4", "v5"));
  EXPECT_EQ(raw->running(), 0u);
  EXPECT_EQ(raw->queued(), 0u);
}

TEST_F(ExecSinkTest, TimeLimitKillsAndLogs) {
  ExecOptions options;
  options.time_limit = Duration{1000};
  auto sink = make("sleep 30", options);
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->deliver(message("v-slow")));
  ASSERT_TRUE(wait_for_results(1));
  EXPECT_TRUE(results[0].timed_out);
  EXPECT_EQ(results[0].signal, SIGTERM);
  EXPECT_EQ(results[0].exit_code, -1);
  EXPECT_THAT(log.text(), HasSubstr("sleep for message v-slow on news exceeded its 1000 ms time limit"));
  EXPECT_THAT(log.text(), HasSubstr("SIGTERM"));
}

TEST_F(ExecSinkTest, SigkillAfterTheGraceWhenSigtermIsIgnored) {
  ExecOptions options;
  options.time_limit = Duration{500};
  options.kill_grace = Duration{200};
  // A shell ignores SIGTERM within a millisecond or two and passes that on to
  // sleep; the test binary as the child (under ASan) could take longer than the
  // time limit just to start, and then SIGTERM found it not yet ignoring it.
  auto sink = make(R"(sh -c "trap '' TERM; exec sleep 30")", options);
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->deliver(message("v-stubborn")));
  ASSERT_TRUE(wait_for_results(1));
  EXPECT_TRUE(results[0].timed_out);
  EXPECT_EQ(results[0].signal, SIGKILL);
  EXPECT_THAT(log.text(), HasSubstr("ignored SIGTERM"));
  EXPECT_THAT(log.text(),
              HasSubstr("message v-stubborn on news exceeded its 500 ms time limit and was killed by SIGKILL"));
}

TEST_F(ExecSinkTest, NonZeroExitIsLoggedWithTheVersion) {
  auto sink = make(child_command("exit 3"));
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->deliver(message("v-fail")));
  ASSERT_TRUE(wait_for_results(1));
  EXPECT_EQ(results[0].exit_code, 3);
  EXPECT_FALSE(results[0].timed_out);
  EXPECT_THAT(log.text(), HasSubstr("warning"));
  EXPECT_THAT(log.text(), HasSubstr("for message v-fail on news exited with status 3"));
}

TEST_F(ExecSinkTest, OtherEventsRunNothing) {
  auto sink = make(child_command("exit 0"));
  ASSERT_TRUE(sink);
  EXPECT_TRUE(sink->deliver(DecryptErrorEvent{"news", "chan", "v1", 0, "bad tag"}));
  EXPECT_TRUE(sink->deliver(SubscriptionChangedEvent{"news", "https://a/", "https://b/", "{}"}));
  EXPECT_EQ(sink->running(), 0u);
  EXPECT_EQ(sink->queued(), 0u);
}

TEST_F(ExecSinkTest, FullQueueIsAnError) {
  const auto lock = dir.path() / "gate";
  { std::ofstream(lock) << ""; }
  const int gate = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(::flock(gate, LOCK_EX), 0);
  ExecOptions options;
  options.max_running = 1;
  options.max_queued = 1;
  auto sink = make(child_command("gate " + quote(lock.string())), options);
  ASSERT_TRUE(sink);
  EXPECT_TRUE(sink->deliver(message("v1")));
  EXPECT_TRUE(sink->deliver(message("v2")));
  auto third = sink->deliver(message("v3"));
  ASSERT_FALSE(third);
  EXPECT_TRUE(third.error().is(Errc::io));
  EXPECT_THAT(third.error().message(), HasSubstr("1 commands are already waiting"));
  ::flock(gate, LOCK_UN);
  ::close(gate);
  ASSERT_TRUE(wait_for_results(2));
}

TEST_F(ExecSinkTest, DestructionStopsRunningAndDropsQueued) {
  ExecOptions options;
  options.max_running = 1;
  std::vector<std::int64_t> not_run;
  options.on_not_run = [&](std::int64_t id) { not_run.push_back(id); };
  auto sink = make("sleep 30", options);
  ASSERT_TRUE(sink);
  auto running = message("v-running");
  running.message_id = 7;
  auto queued = message("v-queued");
  queued.message_id = 8;
  ASSERT_TRUE(sink->deliver(running));
  ASSERT_TRUE(sink->deliver(queued));
  sink.reset();  // SIGTERM ends sleep at once
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].version, "v-running");
  EXPECT_EQ(results[0].signal, SIGTERM);
  EXPECT_THAT(log.text(), HasSubstr("message v-queued on news will not run"));
  EXPECT_THAT(log.text(), HasSubstr("for message v-running on news"));
  EXPECT_EQ(not_run, std::vector<std::int64_t>{8}) << "the queued message is handed back; the started one ran";
}

struct BadCommand {
  std::string command;
  std::string message_part;
};

class ExecSinkCreate : public ::testing::TestWithParam<BadCommand> {};

TEST_P(ExecSinkCreate, RefusesAnUnusableCommand) {
  auto loop = test::make_loop();
  ExecOptions options;
  options.command = GetParam().command;
  auto sink = ExecSink::create(*loop, options);
  ASSERT_FALSE(sink);
  EXPECT_TRUE(sink.error().is(Errc::bad_config)) << sink.error();
  EXPECT_THAT(sink.error().message(), HasSubstr(GetParam().message_part));
}

INSTANTIATE_TEST_SUITE_P(Rows, ExecSinkCreate,
                         ::testing::Values(BadCommand{"", "empty"}, BadCommand{"'unclosed", "unterminated"},
                                           BadCommand{"/nonexistent/program --x", "not an executable file"},
                                           BadCommand{"/dev/null", "not an executable file"},
                                           BadCommand{"/tmp", "not an executable file"},
                                           BadCommand{"no-such-program-webpushd-test", "not found in PATH"}));

TEST(ExecSinkOptions, RejectsZeroLimits) {
  auto loop = test::make_loop();
  ExecOptions options;
  options.command = "true";
  options.max_running = 0;
  auto a = ExecSink::create(*loop, options);
  ASSERT_FALSE(a);
  EXPECT_TRUE(a.error().is(Errc::bad_config));
  options.max_running = 4;
  options.time_limit = Duration{0};
  auto b = ExecSink::create(*loop, options);
  ASSERT_FALSE(b);
  EXPECT_TRUE(b.error().is(Errc::bad_config));
}

TEST(ExecSinkOptions, KeepsTheSplitArgv) {
  auto loop = test::make_loop();
  ExecOptions options;
  options.command = "env 'A=1 2' B";
  auto sink = ExecSink::create(*loop, options);
  ASSERT_TRUE(sink) << sink.error();
  EXPECT_EQ((*sink)->argv(), (std::vector<std::string>{"env", "A=1 2", "B"}));
  EXPECT_EQ((*sink)->name(), "exec");
}

}  // namespace
}  // namespace webpush::sinks
