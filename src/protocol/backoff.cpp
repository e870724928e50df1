#include "webpush/protocol/backoff.h"

#include <algorithm>
#include <cmath>

namespace webpush::protocol {

Duration Backoff::next() {
  const double base = static_cast<double>(policy_.initial.count()) *
                      std::pow(std::max(1.0, policy_.multiplier), static_cast<double>(std::min(failures_, 62)));
  const double capped = std::min(base, static_cast<double>(policy_.cap.count()));
  const double u = std::clamp(jitter_->next(), 0.0, 1.0);
  const double delay = capped * (1.0 - std::clamp(policy_.jitter, 0.0, 1.0) * u);
  if (failures_ < 1'000'000) ++failures_;
  return Duration(static_cast<std::int64_t>(delay));
}

}  // namespace webpush::protocol
