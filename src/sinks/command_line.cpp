// split_command: POSIX shell word splitting and quote removal, nothing else.
// The command is then exec'ed directly, so no shell ever sees it or a payload.
#include <fmt/format.h>

#include "webpush/sinks/exec.h"

namespace webpush::sinks {

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
    } else if (c == '\'') {
      const auto end = command.find('\'', i + 1);
      if (end == std::string_view::npos) {
        return fail(Errc::bad_config, fmt::format("unterminated ' quote at offset {} in the command: {}", i, command));
      }
      word.append(command.substr(i + 1, end - i - 1));
      in_word = true;
      i = end + 1;
    } else if (c == '"') {
      const std::size_t start = i;
      ++i;
      bool closed = false;
      while (i < n) {
        const char d = command[i];
        if (d == '"') {
          closed = true;
          ++i;
          break;
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
      if (!closed) {
        return fail(Errc::bad_config,
                    fmt::format("unterminated \" quote at offset {} in the command: {}", start, command));
      }
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
