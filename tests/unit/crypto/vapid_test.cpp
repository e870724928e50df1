// Tests for vapid; see include/webpush/crypto/vapid.h.
#include <gtest/gtest.h>
