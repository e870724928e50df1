// Internal to the daemon layer: makes FCM's protobuf codec (fcm/codec.h)
// available before an FcmLink is made, loading the module webpushd-fcm.so
// unless the codec is linked into the program (the tests).
#pragma once

#include "webpush/core/error.h"

namespace webpush::daemon::detail {

/// Loads the module the first time (it then stays loaded) and puts its codec in
/// use. Errors (event::Errc::setup, starting with "fcm: "): the module is not
/// installed or cannot be loaded, or it is from another build.
Result<void> load_fcm_codec();

}  // namespace webpush::daemon::detail
