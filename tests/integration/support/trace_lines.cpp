#include "trace_lines.h"

#include <regex>
#include <sstream>

namespace webpush::testing {

namespace {

// A value written by the quoting rule: bare, or '…' with \\ \' \n \r \t \xHH.
std::string read_value(const std::string& s, std::size_t& i) {
  std::string out;
  if (i >= s.size() || s[i] != '\'') {
    const auto end = s.find(' ', i);
    out = s.substr(i, end == std::string::npos ? std::string::npos : end - i);
    i = end == std::string::npos ? s.size() : end;
    return out;
  }
  for (++i; i < s.size() && s[i] != '\''; ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    const char e = s[++i];
    if (e == 'x' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
    }
  }
  ++i;  // the closing quote
  return out;
}

}  // namespace

std::optional<TraceLine> parse_trace_line(const std::string& line) {
  static const std::regex kLine(R"(^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} ([a-z.]+)(?: (.*))?$)");
  std::smatch m;
  if (!std::regex_match(line, m, kLine)) return std::nullopt;
  TraceLine t{m[1].str(), {}, line};
  const std::string rest = m[2].str();
  for (std::size_t i = 0; i < rest.size();) {
    const auto eq = rest.find('=', i);
    if (eq == std::string::npos) break;
    const std::string key = rest.substr(i, eq - i);
    i = eq + 1;
    t.fields[key] = read_value(rest, i);
    while (i < rest.size() && rest[i] == ' ') ++i;
  }
  return t;
}

std::vector<TraceLine> trace_lines(const std::string& text) {
  std::vector<TraceLine> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (auto t = parse_trace_line(line)) out.push_back(std::move(*t));
  }
  return out;
}

}  // namespace webpush::testing
