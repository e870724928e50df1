// `webpushd completion bash|zsh|fish`: the bash script, sourced into a real
// bash, completes subcommands, each command's options, file and directory
// values, and subscription names from the store (`list --names`); zsh and fish
// scripts are generated from the same definitions.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "cli/cli_process.h"
#include "support/service_process.h"
#include "support/support.h"

namespace webpush::testing {
namespace completion_test {

class CompletionTest : public ::testing::Test {
 protected:
  TempDir dir{"webpushd-completion"};
  std::filesystem::path script = dir.path() / "webpushd.bash";
  void SetUp() override {
    isolate_environment(dir.path());
    const CliResult r = run_cli({"completion", "bash"});
    ASSERT_EQ(r.status, 0) << r.describe();
    std::ofstream(script) << r.out;
  }

  /// What bash offers after `words` (the last one being completed), one per line.
  std::vector<std::string> complete(const std::string& words, const std::filesystem::path& state_dir = {}) {
    const std::string command = fmt::format(
        "{}bash -c 'source {}; COMP_WORDS=(\"$WEBPUSHD\" {}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _webpushd; "
        "printf \"%s\\n\" \"${{COMPREPLY[@]}}\"' 2>&1",
        state_dir.empty() ? "" : "WEBPUSHD_STATE_DIR=" + state_dir.string() + " ", script.string(), words);
    FILE* p = ::popen(command.c_str(), "r");
    if (p == nullptr) throw SupportError("popen failed");
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    ::pclose(p);
    auto lines = split_lines(out);
    std::erase(lines, "");
    return lines;
  }
};

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST_F(CompletionTest, SubcommandsAndTheirOptions) {
  const auto commands = complete("lo");
  EXPECT_EQ(commands, (std::vector<std::string>{"loadtest"}));
  const auto top = complete("\"\"");
  for (const char* c : {"run", "subscribe", "send", "serve", "loadtest", "check-service", "completion"}) {
    EXPECT_TRUE(has(top, c)) << c;
  }
  const auto run_opts = complete("run --j");
  EXPECT_EQ(run_opts, (std::vector<std::string>{"--jsonl"}));
  const auto check_opts = complete("check-service --p");
  EXPECT_TRUE(has(check_opts, "--probe-limits"));
  EXPECT_TRUE(has(check_opts, "--ping-wait"));
  EXPECT_TRUE(has(complete("run --st"), "--state-dir")) << "global options complete after a subcommand";
  EXPECT_TRUE(has(complete("loadtest m"), "merge"));
  EXPECT_FALSE(has(complete("serve --f"), "--fault")) << "hidden options stay hidden";
}

TEST_F(CompletionTest, FileAndDirectoryValues) {
  std::ofstream(dir.path() / "sub.json") << "{}";
  std::filesystem::create_directory(dir.path() / "statedir");
  const auto files = complete("send --vapid-key-file " + (dir.path() / "su").string());
  EXPECT_EQ(files, (std::vector<std::string>{(dir.path() / "sub.json").string()}));
  const auto dirs = complete("--state-dir " + (dir.path() / "st").string());
  EXPECT_EQ(dirs, (std::vector<std::string>{(dir.path() / "statedir").string()}));
}

TEST_F(CompletionTest, SubscriptionNamesComeFromTheStore) {
  ServiceProcess service({.state_dir = dir.path() / "service"});
  const auto ua = dir.path() / "ua";
  subscribe(ua, service.ws_url(), "laptop");
  subscribe(ua, service.ws_url(), "phone");
  EXPECT_EQ(complete("unsubscribe \"\"", ua), (std::vector<std::string>{"laptop", "phone"}));
  EXPECT_EQ(complete("messages --subscription l", ua), (std::vector<std::string>{"laptop"}));
  EXPECT_TRUE(complete("unsubscribe \"\"", dir.path() / "empty").empty()) << "no store: no names, no error";
}

TEST_F(CompletionTest, ZshAndFishScripts) {
  const CliResult zsh = run_cli({"completion", "zsh"});
  ASSERT_EQ(zsh.status, 0) << zsh.describe();
  EXPECT_TRUE(zsh.out.starts_with("#compdef webpushd\n")) << zsh.out.substr(0, 80);
  EXPECT_NE(zsh.out.find("--probe-limits"), std::string::npos);
  const CliResult fish = run_cli({"completion", "fish"});
  ASSERT_EQ(fish.status, 0) << fish.describe();
  EXPECT_NE(fish.out.find("complete -c webpushd -n __fish_use_subcommand -a check-service"), std::string::npos);
  EXPECT_NE(fish.out.find("-l probe-limits"), std::string::npos);
  EXPECT_EQ(fish.out.find("-l fault"), std::string::npos);
  EXPECT_EQ(run_cli({"completion", "tcsh"}).status, 2);
}

}  // namespace completion_test
}  // namespace webpush::testing
