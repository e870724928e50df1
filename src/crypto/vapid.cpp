// Implemented separately; see include/webpush/crypto/vapid.h.
#include "webpush/crypto/vapid.h"
