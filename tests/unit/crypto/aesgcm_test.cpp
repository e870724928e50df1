// Tests for aesgcm; see include/webpush/crypto/aesgcm.h.
#include <gtest/gtest.h>
