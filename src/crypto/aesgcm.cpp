// Implemented separately; see include/webpush/crypto/aesgcm.h.
#include "webpush/crypto/aesgcm.h"
