// The option tables of `messages` and `run`: which values CLI11 takes and which
// it refuses (a refusal is a usage error, exit 2, in main).
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <CLI/CLI.hpp>

#include "commands.h"
#include "inbox_commands.h"

namespace webpush::cli {
namespace {

/// Parses `args` (without the program name) into a fresh `messages`; the error
/// text of CLI11, or "" when they were accepted.
std::string parse_messages(const std::vector<std::string>& args, MessagesOptions& o) {
  CLI::App app("messages");
  add_messages_options(app, o);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 wants them last first
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

TEST(MessagesOptions, Defaults) {
  MessagesOptions o;
  ASSERT_EQ(parse_messages({}, o), "");
  EXPECT_FALSE(o.json);
  EXPECT_FALSE(o.since_given);
  EXPECT_EQ(o.limit, 0);
  EXPECT_EQ(o.state, "");
  EXPECT_EQ(o.subscription, "");
}

TEST(MessagesOptions, Accepted) {
  MessagesOptions o;
  ASSERT_EQ(
      parse_messages({"--json", "--since", "2h", "--subscription", "work", "--limit", "5", "--state", "failed"}, o),
      "");
  EXPECT_TRUE(o.json);
  EXPECT_TRUE(o.since_given);
  EXPECT_EQ(o.since, "2h");
  EXPECT_EQ(o.subscription, "work");
  EXPECT_EQ(o.limit, 5);
  EXPECT_EQ(o.state, "failed");
}

TEST(MessagesOptions, AnEmptySinceIsStillGiven) {
  // run_messages then refuses it as "not a time" instead of ignoring it.
  MessagesOptions o;
  ASSERT_EQ(parse_messages({"--since", ""}, o), "");
  EXPECT_TRUE(o.since_given);
  EXPECT_EQ(o.since, "");
}

TEST(MessagesOptions, Limit) {
  struct Row {
    const char* value;
    std::int64_t parsed;  // 0: refused
  };
  const std::vector<Row> rows = {
      {"1", 1}, {"10000", 10000}, {"007", 7}, {"999999999999999999", 999'999'999'999'999'999},  // 18 digits, the most
      {"0", 0}, {"-1", 0},        {"1.5", 0}, {"ten", 0},
      {"", 0},  {"1e3", 0},       {" 5", 0},  {"1000000000000000000", 0},  // 19 digits
  };
  for (const auto& row : rows) {
    MessagesOptions o;
    const std::string error = parse_messages({"--limit", row.value}, o);
    if (row.parsed > 0) {
      EXPECT_EQ(error, "") << row.value;
      EXPECT_EQ(o.limit, row.parsed) << row.value;
    } else {
      EXPECT_NE(error, "") << "'" << row.value << "' accepted as " << o.limit;
    }
  }
}

TEST(MessagesOptions, State) {
  for (const char* state : {"stored", "delivered", "failed"}) {
    MessagesOptions o;
    EXPECT_EQ(parse_messages({"--state", state}, o), "") << state;
    EXPECT_EQ(o.state, state);
  }
  for (const char* state : {"", "Stored", "all", "deleted"}) {
    MessagesOptions o;
    EXPECT_NE(parse_messages({"--state", state}, o), "") << "'" << state << "'";
  }
}

// ---- run ----------------------------------------------------------------------------

std::string parse_run(const std::vector<std::string>& args, RunOptions& o) {
  CLI::App app("run");
  add_run_options(app, o);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

TEST(RunOptions, Defaults) {
  RunOptions o;
  ASSERT_EQ(parse_run({}, o), "");
  EXPECT_FALSE(o.no_notify);
  EXPECT_EQ(o.ping_interval, 300);
  EXPECT_EQ(o.request_timeout, 10);
  EXPECT_EQ(o.backoff_initial, 1);
  EXPECT_EQ(o.backoff_max, 300);
  EXPECT_EQ(o.retention_days, 30);
  EXPECT_EQ(o.retention_messages, 10'000);
  EXPECT_EQ(o.exec_timeout, 30);
  EXPECT_FALSE(o.insecure);
}

TEST(RunOptions, Ranges) {
  struct Row {
    const char* flag;
    const char* value;
    bool accepted;
  };
  const std::vector<Row> rows = {
      {"--ping-interval", "1", true},         {"--ping-interval", "86400", true},
      {"--ping-interval", "0.5", false},      {"--ping-interval", "86401", false},
      {"--ping-interval", "inf", false},      {"--ping-interval", "five", false},
      {"--request-timeout", "600", true},     {"--request-timeout", "601", false},
      {"--request-timeout", "0", false},      {"--backoff-initial", "0.1", true},
      {"--backoff-initial", "0.05", false},   {"--backoff-initial", "3601", false},
      {"--backoff-max", "86400", true},       {"--backoff-max", "0", false},
      {"--retention-days", "0.001", true},    {"--retention-days", "36500", true},
      {"--retention-days", "0", false},       {"--retention-days", "36501", false},
      {"--retention-messages", "1", true},    {"--retention-messages", "1000000000", true},
      {"--retention-messages", "0", false},   {"--retention-messages", "1000000001", false},
      {"--retention-messages", "1.5", false},
  };
  for (const auto& row : rows) {
    RunOptions o;
    const std::string error = parse_run({row.flag, row.value}, o);
    EXPECT_EQ(error.empty(), row.accepted) << row.flag << " " << row.value << ": " << error;
  }
}

// CLI::Range refuses a value below or above its bounds, and NaN is neither: it
// should still be refused (run.cpp would cast NaN * 1000 to an integer, which is
// undefined).
TEST(RunOptions, NanIsRefused) {
  for (const char* flag :
       {"--ping-interval", "--request-timeout", "--backoff-initial", "--backoff-max", "--retention-days"}) {
    RunOptions o;
    EXPECT_NE(parse_run({flag, "nan"}, o), "") << flag << " nan accepted";
  }
}

TEST(RunOptions, CaFileMustExist) {
  RunOptions o;
  EXPECT_NE(parse_run({"--ca-file", "/nonexistent/webpushd-test.pem"}, o), "");
  EXPECT_EQ(parse_run({"--ca-file", "/dev/null"}, o), "") << "an existing file (not a directory)";
}

}  // namespace
}  // namespace webpush::cli
