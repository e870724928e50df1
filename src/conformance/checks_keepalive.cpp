// Group "keepalive".
#include "webpush/conformance/check.h"

namespace webpush::conformance {

std::span<const Check> keepalive_checks() { return {}; }

}  // namespace webpush::conformance
