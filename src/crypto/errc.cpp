#include "webpush/crypto/errc.h"

namespace webpush::crypto {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::internal: return "internal";
    case Errc::invalid_key: return "invalid_key";
    case Errc::invalid_auth_secret: return "invalid_auth_secret";
    case Errc::invalid_salt: return "invalid_salt";
    case Errc::truncated_header: return "truncated_header";
    case Errc::invalid_record_size: return "invalid_record_size";
    case Errc::invalid_key_id: return "invalid_key_id";
    case Errc::empty_ciphertext: return "empty_ciphertext";
    case Errc::body_too_large: return "body_too_large";
    case Errc::truncated_record: return "truncated_record";
    case Errc::decrypt_failed: return "decrypt_failed";
    case Errc::missing_delimiter: return "missing_delimiter";
    case Errc::missing_final_delimiter: return "missing_final_delimiter";
    case Errc::early_final_record: return "early_final_record";
    case Errc::nonzero_padding: return "nonzero_padding";
    case Errc::invalid_padding_length: return "invalid_padding_length";
    case Errc::plaintext_too_large: return "plaintext_too_large";
    case Errc::unsupported_encoding: return "unsupported_encoding";
    case Errc::invalid_header: return "invalid_header";
    case Errc::missing_salt: return "missing_salt";
    case Errc::missing_dh: return "missing_dh";
    case Errc::unknown_key_id: return "unknown_key_id";
    case Errc::invalid_vapid_header: return "invalid_vapid_header";
    case Errc::invalid_jwt: return "invalid_jwt";
    case Errc::missing_claim: return "missing_claim";
    case Errc::bad_signature: return "bad_signature";
    case Errc::token_expired: return "token_expired";
    case Errc::token_expiry_too_far: return "token_expiry_too_far";
    case Errc::wrong_audience: return "wrong_audience";
    case Errc::key_mismatch: return "key_mismatch";
  }
  return "unknown";
}

}  // namespace webpush::crypto
