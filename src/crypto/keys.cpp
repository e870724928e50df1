#include "webpush/crypto/keys.h"

#include <cstring>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include <fmt/format.h>

#include "ossl.h"

namespace webpush::crypto {

using detail::Deleter;
using detail::openssl_error;
using detail::PkeyCtxPtr;

void PkeyDeleter::operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }

namespace {

using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX_free>>;
using GroupPtr = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP_free>>;
using PointPtr = std::unique_ptr<EC_POINT, Deleter<EC_POINT_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;

char kGroupName[] = "prime256v1";

// A parameters-only P-256 key. Copying its parameters into a new key and then
// setting the encoded point is several times cheaper than EVP_PKEY_fromdata(),
// which rebuilds the curve group on every call.
EVP_PKEY* curve_template() {
  static EVP_PKEY* const tmpl = [] {
    EVP_PKEY* out = nullptr;
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (ctx && EVP_PKEY_paramgen_init(ctx.get()) == 1 && EVP_PKEY_CTX_set_group_name(ctx.get(), kGroupName) == 1) {
      EVP_PKEY_paramgen(ctx.get(), &out);
    }
    return out;
  }();
  return tmpl;
}

Result<std::array<std::uint8_t, kPublicKeySize>> encoded_point(EVP_PKEY* pkey) {
  std::array<std::uint8_t, kPublicKeySize> point{};
  std::size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(), point.size(), &len) !=
          1 ||
      len != kPublicKeySize) {
    return tl::unexpected(openssl_error("P-256 public key export"));
  }
  return point;
}

}  // namespace

PublicKey::PublicKey(PkeyPtr pkey, ByteView point) : pkey_(std::move(pkey)) {
  std::memcpy(point_.data(), point.data(), point_.size());
}

Result<PublicKey> PublicKey::from_bytes(ByteView point) {
  if (point.size() != kPublicKeySize) {
    return fail(Errc::invalid_key,
                fmt::format("P-256 public key must be {} bytes, got {}", kPublicKeySize, point.size()));
  }
  if (point[0] != 0x04) {
    return fail(Errc::invalid_key,
                fmt::format("P-256 public key must be uncompressed (0x04), starts with 0x{:02x}", point[0]));
  }
  EVP_PKEY* tmpl = curve_template();
  if (tmpl == nullptr) return tl::unexpected(openssl_error("P-256 group setup"));
  PkeyPtr pkey(EVP_PKEY_new());
  if (!pkey || EVP_PKEY_copy_parameters(pkey.get(), tmpl) != 1) {
    return tl::unexpected(openssl_error("P-256 key allocation"));
  }
  // Decoding the point checks that it lies on the curve (EC_POINT_oct2point).
  if (EVP_PKEY_set1_encoded_public_key(pkey.get(), point.data(), point.size()) != 1) {
    ERR_clear_error();
    return fail(Errc::invalid_key, "P-256 public key is not a point on the curve");
  }
  return PublicKey(std::move(pkey), point);
}

KeyPair::KeyPair(PkeyPtr pkey, ByteView point) : pkey_(std::move(pkey)) {
  std::memcpy(point_.data(), point.data(), point_.size());
}

Result<KeyPair> KeyPair::generate() {
  EVP_PKEY* tmpl = curve_template();
  if (tmpl == nullptr) return tl::unexpected(openssl_error("P-256 group setup"));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, tmpl, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return tl::unexpected(openssl_error("P-256 key generation"));
  }
  PkeyPtr pkey(raw);
  auto point = encoded_point(pkey.get());
  if (!point) return tl::unexpected(point.error());
  return KeyPair(std::move(pkey), *point);
}

Result<KeyPair> KeyPair::from_private(ByteView scalar) {
  if (scalar.size() != kPrivateKeySize) {
    return fail(Errc::invalid_key,
                fmt::format("P-256 private key must be {} bytes, got {}", kPrivateKeySize, scalar.size()));
  }
  GroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  BnCtxPtr bn_ctx(BN_CTX_new());
  BnPtr d(BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), nullptr));
  if (!group || !bn_ctx || !d) return tl::unexpected(openssl_error("P-256 import setup"));
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return fail(Errc::invalid_key, "P-256 private key is zero or not below the group order");
  }
  // Q = d * G; the public key is needed for the RFC 8291 key info.
  PointPtr q(EC_POINT_new(group.get()));
  std::array<std::uint8_t, kPublicKeySize> point{};
  if (!q || EC_POINT_mul(group.get(), q.get(), d.get(), nullptr, nullptr, bn_ctx.get()) != 1 ||
      EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, point.data(), point.size(),
                         bn_ctx.get()) != point.size()) {
    return tl::unexpected(openssl_error("P-256 public key computation"));
  }

  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kGroupName, 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return tl::unexpected(openssl_error("P-256 import parameters"));
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return tl::unexpected(openssl_error("P-256 private key import"));
  }
  return KeyPair(PkeyPtr(raw), point);
}

SecretBytes KeyPair::private_bytes() const {
  BIGNUM* raw = nullptr;
  SecretBytes out(kPrivateKeySize);
  if (EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_PRIV_KEY, &raw) != 1) {
    // Only possible for a key without its private half, which KeyPair never holds.
    ERR_clear_error();
    return {};
  }
  BnPtr d(raw);
  if (BN_bn2binpad(d.get(), out.data(), static_cast<int>(out.size())) != static_cast<int>(out.size())) return {};
  return out;
}

Result<PublicKey> KeyPair::public_key() const { return PublicKey::from_bytes(point_); }

Result<std::array<std::uint8_t, 32>> ecdh(const KeyPair& mine, const PublicKey& peer) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, mine.pkey(), nullptr));
  std::array<std::uint8_t, 32> secret{};
  std::size_t len = secret.size();
  // validate_peer = 0: the point was checked to be on the curve when it was
  // decoded, which for P-256 (cofactor 1) is the full validation; a second
  // check would cost another scalar multiplication per message.
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.pkey(), 0) != 1 ||
      EVP_PKEY_derive(ctx.get(), secret.data(), &len) != 1 || len != secret.size()) {
    return tl::unexpected(openssl_error("ECDH"));
  }
  return secret;
}

Result<Bytes> random_bytes(std::size_t n) {
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) return tl::unexpected(openssl_error("RAND_bytes"));
  return out;
}

Result<SecretBytes> generate_auth_secret() {
  SecretBytes out(kAuthSecretSize);
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) return tl::unexpected(openssl_error("RAND_bytes"));
  return out;
}

}  // namespace webpush::crypto
