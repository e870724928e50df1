#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "webpush/sinks/exec.h"

namespace webpush::sinks {
namespace {

struct OkRow {
  std::string command;
  std::vector<std::string> argv;
};

class SplitCommandOk : public ::testing::TestWithParam<OkRow> {};

TEST_P(SplitCommandOk, SplitsLikeAShellWithoutExpanding) {
  const auto& row = GetParam();
  auto argv = split_command(row.command);
  ASSERT_TRUE(argv) << argv.error();
  EXPECT_EQ(*argv, row.argv) << row.command;
}

INSTANTIATE_TEST_SUITE_P(
    Rows, SplitCommandOk,
    ::testing::Values(OkRow{"notify-send", {"notify-send"}}, OkRow{"  a   b\tc\n", {"a", "b", "c"}},
                      OkRow{"cmd 'two words' \"three more words\"", {"cmd", "two words", "three more words"}},
                      OkRow{"a''b \"\" ''", {"ab", "", ""}},  // empty quotes make (empty) words
                      OkRow{"x 'it'\\''s'", {"x", "it's"}},
                      OkRow{R"(x "a \"q\" \$HOME \`id\` \\ \n")", {"x", R"(a "q" $HOME `id` \ \n)"}},
                      OkRow{R"(x a\ b \'c\' \$d)", {"x", "a b", "'c'", "$d"}},
                      OkRow{"x a\\\nb", {"x", "ab"}},  // backslash-newline joins
                      OkRow{"x \"a\\\nb\"", {"x", "ab"}},
                      // Nothing is expanded or interpreted: no variables, no command substitution, no operators.
                      OkRow{"echo $HOME $(id) `id` ; rm -rf / && x | y > z < w & ~ * # c",
                            {"echo", "$HOME", "$(id)", "`id`", ";", "rm", "-rf", "/", "&&", "x", "|",
                             "y",    ">",     "z",     "<",    "w", "&",  "~",   "*", "#",  "c"}},
                      OkRow{"'$(touch /tmp/x)'", {"$(touch /tmp/x)"}}, OkRow{"a\"b\"'c'd", {"abcd"}},
                      OkRow{"'multi\nline'", {"multi\nline"}}, OkRow{"\"\xc3\xa9t\xc3\xa9\"", {"\xc3\xa9t\xc3\xa9"}}));

struct ErrRow {
  std::string command;
  std::string message_part;
};

class SplitCommandErr : public ::testing::TestWithParam<ErrRow> {};

TEST_P(SplitCommandErr, IsBadConfig) {
  const auto& row = GetParam();
  auto argv = split_command(row.command);
  ASSERT_FALSE(argv) << row.command;
  EXPECT_TRUE(argv.error().is(Errc::bad_config)) << argv.error();
  EXPECT_NE(argv.error().message().find(row.message_part), std::string::npos) << argv.error();
}

INSTANTIATE_TEST_SUITE_P(Rows, SplitCommandErr,
                         ::testing::Values(ErrRow{"", "empty"}, ErrRow{"  \t\n", "empty"},
                                           ErrRow{"cmd 'open", "unterminated '"},
                                           ErrRow{"cmd \"open", "unterminated \""},
                                           ErrRow{"cmd \"a\\\"", "unterminated \""},
                                           ErrRow{"cmd a\\", "lone backslash"}));

}  // namespace
}  // namespace webpush::sinks
