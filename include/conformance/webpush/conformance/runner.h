// Choosing and running checks: `--only` picks checks by id or whole groups by
// name; the run goes group by group, check by check, on one thread, and hands
// each finished row to the caller as it comes (the terminal's progress).
//
// Thread: the caller's.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "webpush/conformance/check.h"
#include "webpush/conformance/report.h"

namespace webpush::conformance {

struct Selected {
  const Group* group = nullptr;
  const Check* check = nullptr;
};

/// Every check (`only` empty), or those `only` names: check ids
/// ("delivery.topic") and group ids ("vapid"), in table order. Errors: setup,
/// naming the unknown item and the groups there are.
Result<std::vector<Selected>> select_checks(const std::vector<std::string>& only);

/// Runs `selected` one after another. A check marked probe_limits is a SKIP
/// unless options().probe_limits. `on_start` hears of each check as it
/// begins, `on_row` of each row when it is done (either may be empty).
Report run_checks(Context& context, const std::vector<Selected>& selected,
                  const std::function<void(const Selected&)>& on_start, const std::function<void(const Row&)>& on_row);

}  // namespace webpush::conformance
