// The man pages against the program they describe. Every subcommand that
// `webpushd --help` lists (and, recursively, each command's own subcommands)
// has a subsection in webpushd(1), and every option each `--help` prints is a
// term there; every option term in the page is one the program has (a hidden
// or removed option is not documented). Every key the config parser accepts
// (config_keys(), the table of its unknown-key check) is a term of
// webpushd.toml(5), and every term there is such a key. The lists come from the
// program, never from a copy kept here. The pages are the built roff files
// ($WEBPUSHD_MAN1, $WEBPUSHD_MAN5), set only when meson found scdoc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli_process.h"
#include "config.h"
#include "support/support.h"

namespace webpush::testing {
namespace manpage_test {

// What one `--help` lists: its options (long and short) and its subcommands.
struct Help {
  std::set<std::string> options;
  std::vector<std::string> subcommands;
};

// CLI11's layout: a section header ("Options:", "Subcommands:") at column 0, then
// each item at column 2 ("  -h,--help   Print…", "  run   run the…"); wrapped
// descriptions are indented further and never start at column 2.
Help parse_help(const std::string& text) {
  Help help;
  std::string section;
  for (const auto& line : split_lines(text)) {
    if (!line.empty() && line[0] != ' ') {
      section = line;
      continue;
    }
    if (line.size() < 3 || line.compare(0, 2, "  ") != 0 || line[2] == ' ') continue;
    const std::string first = line.substr(2, line.find(' ', 2) - 2);
    if (section == "Options:") {
      std::istringstream names(first);
      for (std::string name; std::getline(names, name, ',');) {
        if (name.starts_with("-")) help.options.insert(name);
      }
    } else if (section == "Subcommands:") {
      help.subcommands.push_back(first);
    }
  }
  return help;
}

// Every command, "" for the program itself and "loadtest merge" for a nested one.
std::map<std::string, Help> program_help() {
  std::map<std::string, Help> out;
  std::vector<std::string> todo = {""};
  while (!todo.empty()) {
    const std::string command = todo.back();
    todo.pop_back();
    std::vector<std::string> args;
    std::istringstream words(command);
    for (std::string w; words >> w;) args.push_back(w);
    args.push_back("--help");
    const CliResult r = run_cli(args);
    if (r.status != 0) throw SupportError("webpushd " + command + " --help failed: " + r.describe());
    Help help = parse_help(r.out);
    for (const auto& sub : help.subcommands) todo.push_back(command.empty() ? sub : command + " " + sub);
    out[command] = std::move(help);
  }
  return out;
}

// A roff page as scdoc writes it, by section: "NAME", "COMMANDS/run" (.SH, then
// .SS). The escapes that can sit inside a name are undone (\& and \-).
using Page = std::map<std::string, std::vector<std::string>>;

std::string unescape(std::string line) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"\\&", ""}, {"\\-", "-"}}) {
    for (auto at = line.find(from); at != std::string::npos; at = line.find(from, at))
      line.replace(at, from.size(), to);
  }
  return line;
}

std::string heading(std::string text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  return text;
}

Page read_page(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw SupportError("cannot read " + path);
  Page page;
  std::string sh;
  std::string current;
  for (std::string line; std::getline(in, line);) {
    line = unescape(line);
    if (line.starts_with(".SH ")) {
      sh = heading(line.substr(4));
      current = sh;
    } else if (line.starts_with(".SS ")) {
      current = sh + "/" + heading(line.substr(4));
    }
    page[current].push_back(line);
  }
  return page;
}

// The bold words of a section's terms: scdoc writes a "*term*\n\tdescription" as
// the term's line followed by ".RS 4". Terms starting with `prefix` only.
std::set<std::string> terms(const std::vector<std::string>& lines, const std::string& prefix) {
  std::set<std::string> out;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (!lines[i + 1].starts_with(".RS") || !line.starts_with("\\fB" + prefix)) continue;
    for (auto at = line.find("\\fB"); at != std::string::npos; at = line.find("\\fB", at)) {
      const auto end = line.find("\\fR", at);
      if (end == std::string::npos) break;
      const std::string word = line.substr(at + 3, end - at - 3);
      if (word.size() > prefix.size() && word.starts_with(prefix)) out.insert(word);
      at = end;
    }
  }
  return out;
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : " ") + x;
  return out;
}

// The path in `variable`, or empty when the pages were not built.
std::string built_page(const char* variable) {
  const char* path = std::getenv(variable);
  return path != nullptr ? path : "";
}

constexpr const char* kNotBuilt =
    "the man pages were not built: meson found no scdoc (option -Dman=auto); install scdoc and reconfigure";

class ManPage : public ::testing::Test {
 protected:
  void SetUp() override {
    man1_ = built_page("WEBPUSHD_MAN1");
    man5_ = built_page("WEBPUSHD_MAN5");
    if (man1_.empty() || man5_.empty()) GTEST_SKIP() << kNotBuilt;
  }
  std::string man1_;
  std::string man5_;
};

TEST_F(ManPage, HelpParserFindsTheCommandsAndOptions) {
  // The lists below drive the other tests: they must not be empty by mistake.
  const auto help = program_help();
  ASSERT_TRUE(help.count("run") && help.count("loadtest merge") && help.count("completion")) << help.size();
  EXPECT_TRUE(help.at("").options.count("--state-dir"));
  EXPECT_TRUE(help.at("").options.count("-V"));
  EXPECT_TRUE(help.at("run").options.count("--ping-interval"));
  EXPECT_TRUE(help.at("loadtest").options.count("--hdr-log"));
  EXPECT_EQ(help.at("loadtest merge").options, (std::set<std::string>{"-h", "--help", "--json"}));
  std::size_t options = 0;
  for (const auto& [command, h] : help) options += h.options.size();
  EXPECT_GT(options, 100u);

  const Page page = read_page(man1_);
  EXPECT_TRUE(terms(page.at("COMMANDS/run"), "-").count("--ping-interval"));
  EXPECT_FALSE(terms(page.at("COMMANDS/run"), "-").count("--state-dir")) << "another section's term";
}

TEST_F(ManPage, EveryCommandAndOptionOfHelpIsDocumented) {
  const Page page = read_page(man1_);
  for (const auto& [command, help] : program_help()) {
    const std::string section = command.empty() ? "GLOBAL OPTIONS" : "COMMANDS/" + command;
    ASSERT_TRUE(page.count(section)) << "webpushd(1) has no section " << section;
    const auto documented = terms(page.at(section), "-");
    std::set<std::string> missing;
    for (const auto& option : help.options) {
      // --help is a global option: documented once, for every command.
      if (!command.empty() && (option == "--help" || option == "-h")) continue;
      if (!documented.count(option)) missing.insert(option);
    }
    EXPECT_TRUE(missing.empty()) << "webpushd(1) " << section << " lacks " << join(missing);
  }
}

TEST_F(ManPage, EveryDocumentedOptionExists) {
  const Page page = read_page(man1_);
  const auto help = program_help();
  for (const auto& [section, lines] : page) {
    std::string command;
    if (section.starts_with("COMMANDS/")) {
      command = section.substr(9);
    } else if (section != "GLOBAL OPTIONS") {
      continue;
    }
    ASSERT_TRUE(help.count(command)) << "webpushd(1) documents a command the program lacks: " << command;
    std::set<std::string> unknown;
    for (const auto& option : terms(lines, "-")) {
      if (!help.at(command).options.count(option)) unknown.insert(option);
    }
    EXPECT_TRUE(unknown.empty()) << "webpushd(1) " << section
                                 << " documents what --help does not list: " << join(unknown);
  }
}

TEST_F(ManPage, EveryConfigKeyIsDocumented) {
  const std::vector<std::string> keys = cli::config_keys();
  ASSERT_GE(keys.size(), 10u);
  ASSERT_NE(std::find(keys.begin(), keys.end(), "retention.max_age_days"), keys.end());
  ASSERT_NE(std::find(keys.begin(), keys.end(), "server"), keys.end());

  // Keys outside any table are terms of KEYS itself, the others of "KEYS/[table]".
  std::map<std::string, std::set<std::string>> expected;
  for (const auto& key : keys) {
    const auto dot = key.find('.');
    const std::string section = dot == std::string::npos ? "KEYS" : "KEYS/[" + key.substr(0, dot) + "]";
    expected[section].insert(dot == std::string::npos ? key : key.substr(dot + 1));
  }
  const Page page = read_page(man5_);
  for (const auto& [section, names] : expected) {
    ASSERT_TRUE(page.count(section)) << "webpushd.toml(5) has no section " << section;
    EXPECT_EQ(terms(page.at(section), ""), names) << "webpushd.toml(5) " << section;
  }
  for (const auto& [section, lines] : page) {
    if (section.starts_with("KEYS/")) {
      EXPECT_TRUE(expected.count(section)) << "a table the parser refuses: " << section;
    }
  }
}

}  // namespace manpage_test
}  // namespace webpush::testing
