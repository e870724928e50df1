// The outcome of a `check-service` run and its three renderings: the text
// rows the terminal shows as the checks finish, the JSON object `--json`
// prints (stable, documented in docs/cli.md), and the HTML page `--report`
// writes (the loadtest report's page style, no script).
//
// Pure: no I/O, no clock. Thread: any.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "webpush/conformance/check.h"

namespace webpush::conformance {

struct Row {
  const Group* group = nullptr;
  const Check* check = nullptr;
  Outcome outcome;
  std::int64_t duration_ms = 0;
};

struct Report {
  std::string server;
  std::string version;  ///< webpushd's version
  std::int64_t started_unix_ms = 0;
  std::int64_t duration_ms = 0;
  bool probe_limits = false;
  std::vector<Row> rows;

  [[nodiscard]] int count(Verdict v) const;
  /// Whether every check that ran passed (skips do not count against it).
  [[nodiscard]] bool passed() const { return count(Verdict::fail) == 0; }
};

/// A group's heading line, "Handshake and identity (handshake)".
[[nodiscard]] std::string render_group_heading(const Group& group);
/// One check's lines: "PASS  id  title  [reference]" and, indented, what was observed.
[[nodiscard]] std::string render_text_row(const Row& row);
/// "31 checks in 12.4 s: 30 passed, 1 failed, 0 skipped".
[[nodiscard]] std::string render_text_summary(const Report& report);
/// The --json object.
[[nodiscard]] nlohmann::json to_json(const Report& report);
/// The --report page.
[[nodiscard]] std::string render_html(const Report& report);

}  // namespace webpush::conformance
