// The command-line surface of every subcommand `webpushd --help` lists: --help
// exits 0 and names the key options; bad arguments exit 2 with the error on the
// first stderr line; planned subcommands exit 1 saying so (docs/cli.md exit codes).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cli_process.h"
#include "support/support.h"

namespace webpush::testing {
namespace {

// CLI11 follows its one-line error with this hint; nothing else may follow.
constexpr const char* kHelpHint = "Run with --help for more information.";

struct Listed {
  std::set<std::string> available;
  std::set<std::string> planned;  // described as "not yet available"
};

// The subcommands of `webpushd --help` ("Subcommands:" then "  name   summary").
Listed listed_subcommands() {
  const CliResult r = run_cli({"--help"});
  if (r.status != 0) throw SupportError("webpushd --help failed: " + r.describe());
  Listed out;
  bool in_section = false;
  for (const auto& line : r.out_lines()) {
    if (line == "Subcommands:") {
      in_section = true;
      continue;
    }
    if (!in_section || line.size() < 3 || line[0] != ' ' || line[2] == ' ') continue;
    const auto end = line.find(' ', 2);
    const std::string name = line.substr(2, end == std::string::npos ? std::string::npos : end - 2);
    (line.find("not yet available") != std::string::npos ? out.planned : out.available).insert(name);
  }
  if (out.available.empty()) throw SupportError("no subcommands found in webpushd --help:\n" + r.out);
  return out;
}

// Key options (or words) each subcommand's --help must mention.
const std::map<std::string, std::vector<std::string>>& key_options() {
  static const std::map<std::string, std::vector<std::string>> k = {
      {"run", {"--jsonl", "--exec", "--ping-interval", "--no-notify"}},
      {"subscribe", {"--name", "--vapid-key"}},
      {"unsubscribe", {"NAME|ID"}},
      {"status", {"--json"}},
      {"send",
       {"SUBSCRIPTION.json", "--payload", "--file", "--encoding", "--ttl", "--urgency", "--topic", "--vapid-key-file",
        "--vapid-subject"}},
      {"vapid-keygen", {"file", "0600"}},
      {"serve", {"--listen", "--public-url"}},
      {"list", {"--json"}},
      {"messages", {"--json", "--since", "--subscription", "--limit", "--state"}},
      {"demo", {"--message", "--timeout"}},
      {"loadtest",
       {"--embedded", "--user-agents", "--subscriptions", "--ramp-rate", "--connect-only", "--rate", "--duration",
        "--messages", "--payload-size", "--encoding", "--vapid-key-file", "--connections", "--drain-timeout",
        "--subscription", "--json", "--hdr-log", "--report", "--trace", "merge"}},
      {"check-service",
       {"url", "--embedded", "--only", "--list", "--json", "--report", "--probe-limits", "--timeout",
        "--handshake-wait", "--ping-wait", "--insecure", "--ca-file", "handshake", "registration", "delivery", "vapid",
        "keepalive", "limits"}},
      {"completion", {"shell", "bash", "zsh", "fish"}},
  };
  return k;
}

void expect_usage_error(const CliResult& r, const std::string& needle) {
  EXPECT_EQ(r.status, 2) << r.describe();
  EXPECT_TRUE(r.out.empty()) << r.describe();
  const auto lines = r.err_lines();
  ASSERT_FALSE(lines.empty()) << r.describe();
  EXPECT_NE(lines[0].find(needle), std::string::npos) << "first stderr line should name '" << needle << "'\n"
                                                      << r.describe();
  for (std::size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(lines[i], kHelpHint) << r.describe();
}

class UsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Nothing here may read or write the real user's state or configuration.
    ::setenv("XDG_STATE_HOME", (tmp.path() / "state").c_str(), 1);
    ::setenv("XDG_CONFIG_HOME", (tmp.path() / "config").c_str(), 1);
    ::unsetenv("WEBPUSHD_STATE_DIR");
    std::ofstream(sub_file) << R"({"endpoint":"http://127.0.0.1:9/wpush/v1/x","keys":{"p256dh":"x","auth":"y"}})";
  }

  TempDir tmp{"webpushd-cli"};
  std::filesystem::path sub_file = tmp.path() / "sub.json";
};

TEST_F(UsageTest, EveryListedSubcommandIsCoveredHere) {
  const Listed listed = listed_subcommands();
  for (const auto& name : listed.available) {
    EXPECT_TRUE(key_options().count(name)) << "subcommand '" << name << "' has no row in this test's key_options()";
  }
  for (const char* name : {"run", "subscribe", "send", "vapid-keygen", "serve", "list", "messages"}) {
    EXPECT_TRUE(listed.available.count(name)) << "webpushd --help does not list '" << name << "'";
  }
}

TEST_F(UsageTest, HelpOfEverySubcommandExitsZeroAndNamesItsOptions) {
  const Listed listed = listed_subcommands();
  for (const auto& name : listed.available) {
    SCOPED_TRACE(name);
    const CliResult r = run_cli({name, "--help"});
    EXPECT_EQ(r.status, 0) << r.describe();
    EXPECT_NE(r.out.find("Usage: webpushd " + name), std::string::npos) << r.describe();
    const auto it = key_options().find(name);
    if (it == key_options().end()) continue;
    for (const auto& option : it->second) EXPECT_NE(r.out.find(option), std::string::npos) << option << "\n" << r.out;
  }
}

TEST_F(UsageTest, TopLevelHelpAndVersion) {
  CliResult r = run_cli({"--help"});
  EXPECT_EQ(r.status, 0) << r.describe();
  for (const char* global : {"--state-dir", "--config", "--server", "--verbose"}) {
    EXPECT_NE(r.out.find(global), std::string::npos) << global;
  }
  r = run_cli({});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_NE(r.out.find("Subcommands:"), std::string::npos) << r.describe();
  r = run_cli({"--version"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out.rfind("webpushd ", 0), 0u) << r.describe();
}

TEST_F(UsageTest, UnknownSubcommandIsAUsageError) {
  expect_usage_error(run_cli({"frobnicate"}), "frobnicate");
  expect_usage_error(run_cli({"--state-dir", tmp.path().string(), "lsit"}), "lsit");
}

TEST_F(UsageTest, UnknownOptionOfEverySubcommandIsAUsageError) {
  const Listed listed = listed_subcommands();
  expect_usage_error(run_cli({"--no-such-option"}), "--no-such-option");
  for (const auto& name : listed.available) {
    SCOPED_TRACE(name);
    // Required positionals given, so that the unknown option is the only problem.
    std::vector<std::string> args = {name};
    if (name == "send") args.push_back(sub_file.string());
    if (name == "vapid-keygen") args.push_back((tmp.path() / "key.pem").string());
    if (name == "unsubscribe") args.emplace_back("laptop");
    if (name == "completion") args.emplace_back("bash");
    args.emplace_back("--no-such-option");
    expect_usage_error(run_cli(args), "--no-such-option");
    EXPECT_FALSE(std::filesystem::exists(tmp.path() / "key.pem"));
  }
}

struct BadArguments {
  std::string command;  // the row applies when this subcommand is available
  std::vector<std::string> args;
  std::string needle;  // what the first stderr line must mention
};

TEST_F(UsageTest, BadValuesAreUsageErrors) {
  const std::string sub = sub_file.string();
  const std::vector<BadArguments> rows = {
      {"", {"--state-dir"}, "--state-dir"},
      {"run", {"run", "--ping-interval", "0"}, "--ping-interval"},
      {"run", {"run", "--ping-interval", "soon"}, "--ping-interval"},
      {"run", {"run", "--jsonl"}, "--jsonl"},
      {"run", {"run", "--retention-messages", "0"}, "--retention-messages"},
      {"subscribe", {"subscribe", "--timeout", "0"}, "--timeout"},
      {"subscribe", {"subscribe", "--name"}, "--name"},
      {"subscribe", {"subscribe", "--vapid-key", "not-a-key"}, "--vapid-key"},
      {"unsubscribe", {"unsubscribe"}, "subscription"},
      {"status", {"status", "extra-argument"}, "extra-argument"},
      {"demo", {"demo", "--timeout", "0"}, "--timeout"},
      {"demo", {"demo", "--message"}, "--message"},
      {"send", {"send"}, "subscription"},
      {"send", {"send", sub, "--encoding", "rot13"}, "--encoding"},
      {"send", {"send", sub, "--urgency", "asap"}, "--urgency"},
      {"send", {"send", sub, "--ttl", "-1"}, "--ttl"},
      {"send", {"send", sub, "--count", "0"}, "--count"},
      {"send", {"send", sub, "--payload", "a", "--file", sub}, "excludes"},
      {"send", {"send", sub, "--vapid-key-file", (tmp.path() / "missing.pem").string()}, "--vapid-key-file"},
      {"vapid-keygen", {"vapid-keygen"}, "file"},
      {"serve", {"serve", "--listen", "nonsense"}, "--listen"},
      {"serve", {"serve", "--msg-limit", "many"}, "--msg-limit"},
      {"list", {"list", "extra-argument"}, "extra-argument"},
      {"messages", {"messages", "--limit", "0"}, "--limit"},
      {"messages", {"messages", "--limit", "ten"}, "--limit"},
      {"messages", {"messages", "--limit", "-3"}, "--limit"},
      {"messages", {"messages", "--state", "lost"}, "--state"},
      {"messages", {"messages", "--since"}, "--since"},
      {"messages", {"messages", "--since", ""}, "--since"},
      {"messages", {"messages", "--since", "yesterday"}, "--since"},
      {"messages", {"messages", "--since", "10y"}, "--since"},
      {"messages", {"messages", "--since", "-5m"}, "--since"},
      {"messages", {"messages", "--since", "2026-02-30"}, "--since"},
      {"messages", {"messages", "--since", "2026-13-01"}, "--since"},
      {"messages", {"messages", "--since", "2026-11-27T24:00:00Z"}, "--since"},
      {"messages", {"messages", "--since", "2026-11-27T10:00:00+25:00"}, "--since"},
      {"messages", {"messages", "--since", "2026-11-27T10:00:00Zjunk"}, "--since"},
      {"messages", {"messages", "--since", "2026-11-27T10:00:00."}, "--since"},
  };
  const Listed listed = listed_subcommands();
  for (const auto& row : rows) {
    if (!row.command.empty() && !listed.available.count(row.command)) continue;
    std::vector<std::string> args = {"--state-dir", (tmp.path() / "ua").string()};
    args.insert(args.end(), row.args.begin(), row.args.end());
    SCOPED_TRACE(::testing::PrintToString(row.args));
    expect_usage_error(run_cli(args), row.needle);
  }
}

TEST_F(UsageTest, PlannedSubcommandsSayTheyAreNotYetAvailable) {
  const Listed listed = listed_subcommands();
  if (listed.planned.empty()) GTEST_SKIP() << "every subcommand of docs/cli.md is available";
  for (const auto& name : listed.planned) {
    SCOPED_TRACE(name);
    const CliResult r = run_cli({name});
    EXPECT_EQ(r.status, 1) << r.describe();
    ASSERT_EQ(r.err_lines().size(), 1u) << r.describe();
    EXPECT_NE(r.err.find("not yet available"), std::string::npos) << r.describe();
  }
}

}  // namespace
}  // namespace webpush::testing
