// split_command: POSIX shell word splitting and quote removal, nothing else.
// The command is then exec'ed directly, so no shell ever sees it or a payload.
#include <fmt/format.h>

#include "webpush/sinks/exec.h"

namespace webpush::sinks {

namespace {

// The '...' at `i`: appends its content to `word` as it is; moves `i` past the closing quote.
Result<void> append_single_quoted(std::string_view command, std::size_t& i, std::string& word) {
  const auto end = command.find('\'', i + 1);
  if (end == std::string_view::npos) {
    return fail(Errc::bad_config, fmt::format("unterminated ' quote at offset {} in the command: {}", i, command));
  }
  word.append(command.substr(i + 1, end - i - 1));
  i = end + 1;
  return {};
}

// The "..." at `i`: appends its content to `word`, where a backslash escapes only
// $ ` " \ and removes a newline; moves `i` past the closing quote.
Result<void> append_double_quoted(std::string_view command, std::size_t& i, std::string& word) {
  const std::size_t start = i;
  const std::size_t n = command.size();
  ++i;
  while (i < n) {
    const char d = command[i];
    if (d == '"') {
      ++i;
      return {};
    }
    if (d == '\\' && i + 1 < n) {
      const char e = command[i + 1];
      if (e == '$' || e == '`' || e == '"' || e == '\\') {
        word += e;
        i += 2;
        continue;
      }
      if (e == '\n') {
        i += 2;
        continue;
      }
    }
    word += d;
    ++i;
  }
  return fail(Errc::bad_config, fmt::format("unterminated \" quote at offset {} in the command: {}", start, command));
}

}  // namespace

Result<std::vector<std::string>> split_command(std::string_view command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // a word has started (even an empty one: "" or '')
  std::size_t i = 0;
  const std::size_t n = command.size();
  while (i < n) {
    const char c = command[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      ++i;
    } else if (c == '\\') {
      if (i + 1 >= n) return fail(Errc::bad_config, fmt::format("command ends with a lone backslash: {}", command));
      if (command[i + 1] != '\n') {
        word += command[i + 1];
        in_word = true;
      }
      i += 2;
    } else if (c == '\'' || c == '"') {
      auto quoted = c == '\'' ? append_single_quoted(command, i, word) : append_double_quoted(command, i, word);
      if (!quoted) return tl::unexpected(quoted.error());
      in_word = true;
    } else {
      word += c;
      in_word = true;
      ++i;
    }
  }
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) return fail(Errc::bad_config, "the command is empty");
  return words;
}

}  // namespace webpush::sinks
