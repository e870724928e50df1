#include "webpush/crypto/webpush.h"

#include <cstring>

#include <fmt/format.h>

#include "ossl.h"
#include "webpush/crypto/aesgcm.h"

namespace webpush::crypto {
namespace {

constexpr std::uint8_t kKeyInfo[] = "WebPush: info";  // + NUL

Result<void> check_auth_secret(ByteView auth_secret) {
  if (auth_secret.size() != kAuthSecretSize) {
    return fail(Errc::invalid_auth_secret,
                fmt::format("auth secret must be {} bytes, got {}", kAuthSecretSize, auth_secret.size()));
  }
  return {};
}

// IKM = HKDF(auth_secret, ecdh_secret, "WebPush: info\0" || ua_public || as_public, 32).
Result<detail::Sha256> webpush_ikm(ByteView ecdh_secret, ByteView auth_secret, ByteView ua_public, ByteView as_public) {
  return detail::hkdf_sha256(auth_secret, ecdh_secret, kKeyInfo, ua_public, as_public);
}

}  // namespace

Result<Bytes> webpush_decrypt(ByteView body, const ReceiverKeys& keys, const DecryptOptions& options) {
  if (body.empty()) return fail(Errc::empty_ciphertext, "aes128gcm: empty body");
  if (options.max_body != 0 && body.size() > options.max_body) {
    return fail(Errc::body_too_large,
                fmt::format("aes128gcm: body of {} bytes exceeds the limit of {}", body.size(), options.max_body));
  }
  if (auto ok = check_auth_secret(keys.auth_secret); !ok) return tl::unexpected(ok.error());
  auto header = parse_aes128gcm_header(body);
  if (!header) return tl::unexpected(header.error());
  if (header->keyid.size() != kPublicKeySize) {
    return fail(Errc::invalid_key_id,
                fmt::format("aes128gcm: keyid must be the sender's {}-byte public key, got {} bytes", kPublicKeySize,
                            header->keyid.size()));
  }
  auto sender = PublicKey::from_bytes(header->keyid);
  if (!sender) return tl::unexpected(sender.error().with_context("aes128gcm: sender key"));
  auto secret = ecdh(keys.key, *sender);
  if (!secret) return tl::unexpected(secret.error());
  const detail::CleanseOnExit wipe_secret(*secret);
  auto ikm = webpush_ikm(*secret, keys.auth_secret, keys.key.public_bytes(), header->keyid);
  if (!ikm) return tl::unexpected(ikm.error());
  const detail::CleanseOnExit wipe_ikm(*ikm);
  auto key = derive_aes128gcm_key(*ikm, header->salt);
  if (!key) return tl::unexpected(key.error());
  const detail::CleanseOnExit wipe_key(*key);
  return aes128gcm_decrypt_records(body.subspan(header->size), *key, header->rs);
}

Result<Bytes> webpush_encrypt_with_keys(ByteView plaintext, const PublicKey& ua_public, ByteView auth_secret,
                                        const KeyPair& as_key, ByteView salt, const EncryptOptions& options) {
  if (auto ok = check_auth_secret(auth_secret); !ok) return tl::unexpected(ok.error());
  if (salt.size() != kSaltSize) {
    return fail(Errc::invalid_salt, fmt::format("aes128gcm: salt must be {} bytes, got {}", kSaltSize, salt.size()));
  }
  if (options.rs < kAes128gcmMinRs) {
    return fail(Errc::invalid_record_size,
                fmt::format("aes128gcm: record size {} is below the minimum of {}", options.rs, kAes128gcmMinRs));
  }
  // RFC 8291 §4: a single record, so rs must exceed plaintext + delimiter + padding + tag.
  const std::size_t record = plaintext.size() + 1 + options.padding + detail::kTagSize;
  if (record > options.rs) {
    return fail(Errc::plaintext_too_large,
                fmt::format("aes128gcm: {} bytes of plaintext and {} of padding need a record of {} bytes, rs is {}",
                            plaintext.size(), options.padding, record, options.rs));
  }
  const std::size_t body_size = kWebPushHeaderSize + record;
  if (options.max_body != 0 && body_size > options.max_body) {
    return fail(
        Errc::body_too_large,
        fmt::format("aes128gcm: the body would be {} bytes, over the limit of {} (at most {} bytes of "
                    "plaintext fit)",
                    body_size, options.max_body,
                    options.max_body > kWebPushHeaderSize + 17 ? options.max_body - kWebPushHeaderSize - 17 : 0));
  }
  auto secret = ecdh(as_key, ua_public);
  if (!secret) return tl::unexpected(secret.error());
  auto ikm = webpush_ikm(*secret, auth_secret, ua_public.bytes(), as_key.public_bytes());
  if (!ikm) return tl::unexpected(ikm.error());
  return aes128gcm_encrypt(plaintext, *ikm, salt, as_key.public_bytes(),
                           RecordOptions{.rs = options.rs, .padding = options.padding});
}

Result<Bytes> webpush_encrypt(ByteView plaintext, const PublicKey& ua_public, ByteView auth_secret,
                              const EncryptOptions& options) {
  auto as_key = KeyPair::generate();
  if (!as_key) return tl::unexpected(as_key.error());
  auto salt = random_bytes(kSaltSize);
  if (!salt) return tl::unexpected(salt.error());
  return webpush_encrypt_with_keys(plaintext, ua_public, auth_secret, *as_key, *salt, options);
}

Result<Bytes> decrypt_push(const PushPayload& payload, const ReceiverKeys& keys, const DecryptOptions& options) {
  if (payload.encoding == "aes128gcm") return webpush_decrypt(payload.body, keys, options);
  if (payload.encoding == "aesgcm") {
    auto params = parse_aesgcm_params(payload.encryption, payload.crypto_key);
    if (!params) return tl::unexpected(params.error());
    return aesgcm_decrypt(payload.body, *params, keys, options);
  }
  if (payload.encoding.empty()) return fail(Errc::unsupported_encoding, "message has no Content-Encoding");
  return fail(
      Errc::unsupported_encoding,
      fmt::format("unsupported Content-Encoding '{}' (expected aes128gcm or aesgcm)", payload.encoding.substr(0, 64)));
}

namespace {

// Every record holds its tag and `overhead` bytes of framing (the aes128gcm
// delimiter, the aesgcm padding length) besides data and padding.
Result<RecordLayout> layout_of(std::size_t body, std::uint64_t sealed_rs, std::size_t overhead, std::size_t plaintext,
                               std::string_view encoding) {
  RecordLayout l;
  l.plaintext = plaintext;
  l.records = static_cast<std::size_t>((body + sealed_rs - 1) / sealed_rs);
  const std::size_t framing = l.records * (detail::kTagSize + overhead);
  if (body == 0 || framing > body || body - framing < plaintext) {
    return fail(Errc::plaintext_too_large, fmt::format("{}: a body of {} bytes in {} record(s) cannot hold {} bytes "
                                                       "of data",
                                                       encoding, body, l.records, plaintext));
  }
  l.padding = body - framing - plaintext;
  return l;
}

}  // namespace

Result<RecordLayout> record_layout(const PushPayload& payload, std::size_t plaintext_size) {
  if (payload.encoding == "aes128gcm") {
    auto header = parse_aes128gcm_header(payload.body);
    if (!header) return tl::unexpected(header.error());
    auto l = layout_of(payload.body.size() - header->size, header->rs, 1, plaintext_size, payload.encoding);
    if (!l) return l;
    l->rs = header->rs;
    l->header = header->size;
    l->body = payload.body.size();
    return l;
  }
  if (payload.encoding == "aesgcm") {
    auto params = parse_aesgcm_params(payload.encryption, payload.crypto_key);
    if (!params) return tl::unexpected(params.error());
    // A body never ends on a record boundary: the records are those it starts, plus one.
    const std::uint64_t sealed = params->rs + detail::kTagSize;
    auto l = layout_of(payload.body.size(), sealed, 2, plaintext_size, payload.encoding);
    if (!l) return l;
    if (payload.body.size() % sealed == 0) {
      return fail(Errc::truncated_record,
                  fmt::format("aesgcm: body of {} bytes ends on a record boundary", payload.body.size()));
    }
    l->rs = params->rs;
    l->body = payload.body.size();
    return l;
  }
  return fail(Errc::unsupported_encoding,
              fmt::format("unsupported Content-Encoding '{}'", payload.encoding.substr(0, 64)));
}

}  // namespace webpush::crypto
