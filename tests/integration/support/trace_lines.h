// Reading `--trace` lines by their documented format (docs/cli.md "Trace
// lines"): "HH:MM:SS.uuuuuu EVENT key=value …", each value bare or in single
// quotes with \\ \' \n \r \t and \xHH escapes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace webpush::testing {

struct TraceLine {
  std::string event;
  std::map<std::string, std::string> fields;
  std::string text;  // the whole line

  /// The field's value; empty when the line has no such field (see has()).
  [[nodiscard]] std::string at(const std::string& key) const {
    const auto it = fields.find(key);
    return it == fields.end() ? std::string() : it->second;
  }
  [[nodiscard]] bool has(const std::string& key) const { return fields.count(key) != 0; }
};

/// One line read by the format; nullopt when it is not a trace line.
[[nodiscard]] std::optional<TraceLine> parse_trace_line(const std::string& line);

/// The trace lines of `text`, in order; other lines (log lines) are skipped.
[[nodiscard]] std::vector<TraceLine> trace_lines(const std::string& text);

}  // namespace webpush::testing
