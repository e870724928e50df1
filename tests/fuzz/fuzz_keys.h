// Fixed receiver keys for the decrypt fuzzers (RFC 8291 Appendix A user agent),
// so that seeds made with them reach the record layer.
#pragma once

#include <cstdlib>

#include "webpush/core/base64url.h"
#include "webpush/crypto/keys.h"

namespace webpush::fuzz {

inline const crypto::KeyPair& receiver_key() {
  static const crypto::KeyPair key = [] {
    auto k = crypto::KeyPair::from_private(*base64url_decode("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"));
    if (!k) std::abort();
    return std::move(*k);
  }();
  return key;
}

inline const Bytes& auth_secret() {
  static const Bytes auth = *base64url_decode("BTBZMqHH6r4Tts7J_aSIgg");
  return auth;
}

}  // namespace webpush::fuzz
