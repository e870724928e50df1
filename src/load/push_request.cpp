#include "webpush/load/push_request.h"

#include <fmt/format.h>

#include "webpush/crypto/aesgcm.h"
#include "webpush/crypto/webpush.h"
#include "webpush/load/histogram.h"

namespace webpush::load {

namespace {

// The Crypto-Key header collects aesgcm's dh= and the older VAPID form's p256ecdsa=.
struct Draft {
  PushRequest request;
  std::string crypto_key;
};

Result<void> add_encrypted_body(Draft& d, ByteView payload, const crypto::PublicKey& ua_key, const PushTarget& target,
                                const std::string& encoding) {
  if (encoding == "aesgcm") {
    auto m = crypto::aesgcm_encrypt(payload, ua_key, target.auth);
    if (!m) return fail(Errc::encrypt, m.error().message());
    d.request.body = std::move(m->body);
    d.request.headers.push_back("Content-Encoding: aesgcm");
    d.request.headers.push_back("Encryption: " + m->encryption);
    d.crypto_key = m->crypto_key;
    return {};
  }
  auto b = crypto::webpush_encrypt(payload, ua_key, target.auth);
  if (!b) return fail(Errc::encrypt, b.error().message());
  d.request.body = std::move(*b);
  d.request.headers.push_back("Content-Encoding: aes128gcm");
  return {};
}

Result<void> add_vapid(Draft& d, const PushTarget& target, const PushOptions& options, std::int64_t now_unix_s) {
  auto claims = crypto::vapid_claims_for(target.endpoint, options.vapid_subject, now_unix_s);
  if (!claims) return fail(Errc::encrypt, claims.error().message());
  auto vapid = crypto::vapid_headers(*options.vapid, *claims, options.vapid_scheme);
  if (!vapid) return fail(Errc::encrypt, vapid.error().message());
  d.request.headers.push_back("Authorization: " + vapid->authorization);
  if (!vapid->crypto_key.empty()) d.crypto_key += (d.crypto_key.empty() ? "" : ",") + vapid->crypto_key;
  return {};
}

}  // namespace

Result<PushRequest> build_push_request(const PushTarget& target, ByteView payload, const PushOptions& options,
                                       std::int64_t now_unix_s) {
  auto ua_key = crypto::PublicKey::from_bytes(target.p256dh);
  if (!ua_key) return fail(Errc::encrypt, ua_key.error().message());
  Draft d;
  d.request.headers = {fmt::format("TTL: {}", options.ttl), "Content-Type: application/octet-stream"};
  if (options.encoding != "none") {  // "none": a push without data, as RFC 8030 allows
    if (auto ok = add_encrypted_body(d, payload, *ua_key, target, options.encoding); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  if (!options.urgency.empty()) d.request.headers.push_back("Urgency: " + options.urgency);
  if (!options.topic.empty()) d.request.headers.push_back("Topic: " + options.topic);
  if (options.vapid != nullptr) {
    if (auto ok = add_vapid(d, target, options, now_unix_s); !ok) return tl::unexpected(ok.error());
  }
  if (!d.crypto_key.empty()) d.request.headers.push_back("Crypto-Key: " + d.crypto_key);
  return std::move(d.request);
}

}  // namespace webpush::load
