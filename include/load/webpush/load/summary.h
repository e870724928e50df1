// How a run's Results are told: the summary table a person reads at the end
// of `loadtest` (and of `loadtest merge`), and the JSON document for machines
// (`--json`; its keys are documented in the README and stay stable).
#pragma once

#include <string>

#include "webpush/load/results.h"

namespace webpush::load {

/// "823 us", "1.00 ms", "12.4 ms", "3.02 s": whole microseconds below a
/// millisecond, else three significant digits, like the histograms.
std::string format_latency(std::int64_t us);

/// The latency rows only (p50, p90, p99, p99.9, max, count) for the named histograms.
std::string latency_table(const Results& results);

/// Everything: the latency rows, then counts, rates, failures and costs.
std::string summary_table(const Results& results);

/// The JSON document of a run (one object, no trailing newline).
std::string results_json(const Results& results);

/// Whether the run shows a delivery fault: a lost, duplicated or undecryptable
/// message, or (sending) nothing accepted at all. The exit status follows it.
[[nodiscard]] bool has_delivery_fault(const Results& results) noexcept;

}  // namespace webpush::load
