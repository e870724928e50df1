// Group "delivery".
#include "webpush/conformance/check.h"

namespace webpush::conformance {

std::span<const Check> delivery_checks() { return {}; }

}  // namespace webpush::conformance
