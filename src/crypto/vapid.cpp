#include "webpush/crypto/vapid.h"

#include <algorithm>
#include <array>
#include <exception>
#include <limits>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ossl.h"
#include "webpush/core/base64url.h"
#include "webpush/core/url.h"
#include "webpush/core/utf8.h"

namespace webpush::crypto {

using detail::Deleter;
using detail::MdCtxPtr;
using detail::openssl_error;

namespace {

using PlainBnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
// OPENSSL_free is a macro; the deleter needs a function.
void openssl_free(void* p) noexcept { OPENSSL_free(p); }
using OsslBufPtr = std::unique_ptr<unsigned char, Deleter<openssl_free>>;

constexpr std::size_t kCoordSize = 32;
constexpr int kCoordInt = static_cast<int>(kCoordSize);    // for the int-sized BN_* lengths
constexpr std::size_t kRawSignatureSize = 2 * kCoordSize;  // r || s (RFC 7518 §3.4)
constexpr std::string_view kJwtHeader = R"({"typ":"JWT","alg":"ES256"})";

// ---- text helpers --------------------------------------------------------------

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// ASCII case-insensitive comparison (no locale: header names are ASCII tokens).
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

// A value may be written as an RFC 7230 quoted-string; keys never contain
// quotes or backslashes, so stripping the outer pair is enough.
std::string_view unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

// Header text comes from the network: echo at most a short prefix, and only
// printable ASCII, so an error message cannot carry control characters into logs.
std::string printable(std::string_view s, std::size_t max = 32) { return printable_prefix(s, max); }

// ---- keys in headers ---------------------------------------------------------

Result<Bytes> decode_header_key(std::string_view text, std::string_view where) {
  // Application servers written against the drafts sometimes send padded or
  // standard-alphabet base64; autopush tolerates both, and so do we.
  auto key = base64_any_decode(text);
  if (!key) {
    return fail(Errc::invalid_vapid_header,
                fmt::format("vapid: {} is not base64url ({})", where, key.error().message()));
  }
  if (key->size() != kPublicKeySize) {
    return fail(Errc::invalid_vapid_header, fmt::format("vapid: {} must be a {}-byte P-256 public key, got {} bytes",
                                                        where, kPublicKeySize, key->size()));
  }
  return key;
}

// "vapid t=<jwt>, k=<key>": as autopush, every space is dropped from the
// parameters and each comma-separated item is split at its first '=' (the
// token and the key never contain '=' unless padded, and padding sits at the end).
Result<VapidCredentials> parse_vapid_scheme(std::string_view params) {
  std::string compact;
  compact.reserve(params.size());
  for (const char c : params) {
    if (!is_ows(c)) compact += c;
  }
  std::optional<std::string_view> token;
  std::optional<std::string_view> key;
  std::string_view rest = compact;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) continue;  // not a parameter; autopush skips these too
    const std::string_view name = item.substr(0, eq);
    const std::string_view value = unquote(item.substr(eq + 1));
    // Auth-param names are case-insensitive (RFC 7235 §2.1). A repeated t or k
    // is refused rather than resolved: which one a server picks is arbitrary,
    // and a proxy may have picked the other.
    std::optional<std::string_view>* slot = iequals(name, "t") ? &token : iequals(name, "k") ? &key : nullptr;
    if (slot == nullptr) continue;  // extension parameters are allowed and ignored
    if (slot->has_value()) {
      return fail(Errc::invalid_vapid_header,
                  fmt::format("vapid: Authorization has more than one {}= parameter", slot == &token ? "t" : "k"));
    }
    *slot = value;
  }
  if (!token) return fail(Errc::invalid_vapid_header, "vapid: Authorization has no t= parameter");
  if (!key) return fail(Errc::invalid_vapid_header, "vapid: Authorization has no k= parameter");
  if (token->empty()) return fail(Errc::invalid_vapid_header, "vapid: Authorization has an empty t= parameter");
  auto bytes = decode_header_key(*key, "Authorization k=");
  if (!bytes) return tl::unexpected(bytes.error());
  return VapidCredentials{VapidScheme::vapid, std::string(*token), std::move(*bytes)};
}

// The draft scheme keeps the key in Crypto-Key: a comma-separated list of
// ';'-separated name=value parameters, where p256ecdsa may share the header
// (or even an element) with the aesgcm dh and keyid.
Result<Bytes> crypto_key_p256ecdsa(std::string_view crypto_key) {
  std::optional<std::string_view> found;
  std::string_view rest = crypto_key;
  while (!rest.empty()) {
    const auto sep = rest.find_first_of(",;");
    const std::string_view item = trim_ows(rest.substr(0, sep));
    rest = sep == std::string_view::npos ? std::string_view{} : rest.substr(sep + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    if (!iequals(trim_ows(item.substr(0, eq)), "p256ecdsa")) continue;
    if (found) return fail(Errc::invalid_vapid_header, "vapid: Crypto-Key has more than one p256ecdsa parameter");
    found = unquote(trim_ows(item.substr(eq + 1)));
  }
  if (!found) return fail(Errc::invalid_vapid_header, "vapid: Crypto-Key has no p256ecdsa parameter");
  return decode_header_key(*found, "Crypto-Key p256ecdsa=");
}

// ---- JSON ------------------------------------------------------------------------

// Parses untrusted JSON without letting an exception out: malformed text yields
// nullopt (allow_exceptions = false), and the one exception that remains
// possible, running out of memory on a huge document, is caught as well.
std::optional<nlohmann::json> parse_json(ByteView text) {
  try {
    auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return std::nullopt;
    return j;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// ---- ES256 -------------------------------------------------------------------------

// JWS wants r || s, each left-padded to 32 bytes (RFC 7518 §3.4); OpenSSL
// produces and consumes the DER SEQUENCE of two INTEGERs, so convert both ways.
Result<std::string> es256_sign(EVP_PKEY* pkey, std::string_view signing_input) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const auto* in = reinterpret_cast<const unsigned char*>(signing_input.data());
  std::size_t der_len = 0;
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, pkey, nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_len, in, signing_input.size()) != 1) {
    return tl::unexpected(openssl_error("vapid: ES256 sign setup"));
  }
  Bytes der(der_len);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_len, in, signing_input.size()) != 1) {
    return tl::unexpected(openssl_error("vapid: ES256 sign"));
  }
  const unsigned char* p = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (!sig) return tl::unexpected(openssl_error("vapid: ES256 signature decoding"));
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::array<std::uint8_t, kRawSignatureSize> raw{};
  if (BN_bn2binpad(r, raw.data(), kCoordInt) != kCoordInt ||
      BN_bn2binpad(s, raw.data() + kCoordSize, kCoordInt) != kCoordInt) {
    return tl::unexpected(openssl_error("vapid: ES256 signature encoding"));
  }
  return base64url_encode(raw);
}

// true when the signature verifies; false when it does not (including r or s of
// zero or beyond the group order, which OpenSSL rejects as a bad signature).
Result<bool> es256_verify(EVP_PKEY* pkey, std::string_view signing_input, ByteView raw) {
  PlainBnPtr r(BN_bin2bn(raw.data(), kCoordInt, nullptr));
  PlainBnPtr s(BN_bin2bn(raw.data() + kCoordSize, kCoordInt, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return tl::unexpected(openssl_error("vapid: ES256 signature setup"));
  }
  // ECDSA_SIG_set0 took ownership of r and s.
  (void)r.release();
  (void)s.release();
  unsigned char* der_raw = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig.get(), &der_raw);
  OsslBufPtr der(der_raw);
  if (der_len <= 0 || !der) return tl::unexpected(openssl_error("vapid: ES256 signature encoding"));

  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, pkey, nullptr) != 1) {
    return tl::unexpected(openssl_error("vapid: ES256 verify setup"));
  }
  const int rc = EVP_DigestVerify(ctx.get(), der.get(), static_cast<std::size_t>(der_len),
                                  reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
  // 0 is a mismatch, a negative value a signature OpenSSL refused to consider;
  // neither is our failure, and both leave entries in the error queue.
  ERR_clear_error();
  return rc == 1;
}

// a + b, clamped to the int64 range (exp and now are untrusted or caller-chosen).
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  if (b > 0 && a > kMax - b) return kMax;
  if (b < 0 && a < kMin - b) return kMin;
  return a + b;
}

}  // namespace

// ---- public API ----------------------------------------------------------------------

Result<VapidClaims> vapid_claims_for(std::string_view endpoint, std::string_view sub, std::int64_t now,
                                     std::int64_t lifetime) {
  auto url = parse_url(endpoint);
  if (!url) return tl::unexpected(url.error().with_context("vapid"));
  if (lifetime > kVapidMaxLifetime) {
    return fail(Errc::token_expiry_too_far,
                fmt::format("vapid: token lifetime of {} s exceeds the maximum of {} s", lifetime, kVapidMaxLifetime));
  }
  if (lifetime <= 0) {
    return fail(Errc::token_expired, fmt::format("vapid: token lifetime of {} s is not positive", lifetime));
  }
  if (now > std::numeric_limits<std::int64_t>::max() - lifetime) {
    return fail(Errc::token_expiry_too_far, fmt::format("vapid: now {} + lifetime {} overflows", now, lifetime));
  }
  return VapidClaims{url->origin(), now + lifetime, std::string(sub)};
}

Result<std::string> vapid_sign(const KeyPair& key, const VapidClaims& claims) {
  static const std::string header = base64url_encode(as_bytes(kJwtHeader));
  // nlohmann::json keeps keys sorted, so the claims come out as aud, exp, sub,
  // the order of the RFC 8292 example.
  nlohmann::json body = {{"aud", claims.aud}, {"exp", claims.exp}};
  if (!claims.sub.empty()) body["sub"] = claims.sub;
  std::string body_text;
  try {
    body_text = body.dump();
  } catch (const nlohmann::json::exception&) {
    // dump() refuses strings that are not UTF-8. The header allows only
    // `internal` here; the message says what is actually wrong.
    return fail(Errc::internal, "vapid: claims aud or sub are not valid UTF-8");
  }
  std::string jwt = header;
  jwt += '.';
  jwt += base64url_encode(as_bytes(body_text));
  auto sig = es256_sign(key.pkey(), jwt);
  if (!sig) return tl::unexpected(sig.error());
  jwt += '.';
  jwt += *sig;
  return jwt;
}

Result<VapidHeaders> vapid_headers(const KeyPair& key, const VapidClaims& claims, VapidScheme scheme) {
  auto jwt = vapid_sign(key, claims);
  if (!jwt) return tl::unexpected(jwt.error());
  const std::string k = base64url_encode(key.public_bytes());
  if (scheme == VapidScheme::vapid) return VapidHeaders{fmt::format("vapid t={}, k={}", *jwt, k), {}};
  return VapidHeaders{fmt::format("WebPush {}", *jwt), fmt::format("p256ecdsa={}", k)};
}

Result<VapidCredentials> parse_vapid_headers(std::string_view authorization, std::string_view crypto_key) {
  authorization = trim_ows(authorization);
  if (authorization.empty()) return fail(Errc::invalid_vapid_header, "vapid: Authorization is empty");
  const auto space = std::find_if(authorization.begin(), authorization.end(), is_ows);
  const std::string_view scheme(authorization.begin(), space);
  const std::string_view params(space, authorization.end());

  if (iequals(scheme, "vapid")) return parse_vapid_scheme(params);
  if (iequals(scheme, "webpush") || iequals(scheme, "bearer")) {
    std::string token;
    for (const char c : params) {
      if (!is_ows(c)) token += c;
    }
    if (token.empty()) {
      return fail(Errc::invalid_vapid_header,
                  fmt::format("vapid: Authorization has no token after the {} scheme", printable(scheme)));
    }
    auto key = crypto_key_p256ecdsa(crypto_key);
    if (!key) return tl::unexpected(key.error());
    return VapidCredentials{VapidScheme::webpush, std::move(token), std::move(*key)};
  }
  return fail(Errc::invalid_vapid_header,
              fmt::format("vapid: Authorization has unknown scheme '{}' (expected vapid, WebPush or Bearer)",
                          printable(scheme)));
}

namespace {

// A JWT split at its dots, each segment decoded.
struct DecodedJwt {
  std::string_view signing_input;  // header.claims, as sent: what the signature covers
  std::array<Bytes, 3> segments;   // header, claims, signature
};

// header.claims.signature, each unpadded base64url.
Result<DecodedJwt> decode_jwt(std::string_view jwt) {
  const auto dot1 = jwt.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos) {
    return fail(Errc::invalid_jwt,
                fmt::format("vapid: JWT must have 3 segments, has {}", std::count(jwt.begin(), jwt.end(), '.') + 1));
  }
  const std::string_view segments[] = {jwt.substr(0, dot1), jwt.substr(dot1 + 1, dot2 - dot1 - 1),
                                       jwt.substr(dot2 + 1)};
  constexpr const char* kSegmentNames[] = {"header", "claims", "signature"};
  DecodedJwt out{jwt.substr(0, dot2), {}};
  for (int i = 0; i < 3; ++i) {
    // JWS compact serialisation is unpadded base64url (RFC 7515 §2); a padded
    // segment is refused, as by the jsonwebtoken crate autopush uses.
    if (segments[i].find('=') != std::string_view::npos) {
      return fail(Errc::invalid_jwt, fmt::format("vapid: JWT {} segment has '=' padding", kSegmentNames[i]));
    }
    auto bytes = base64url_decode(segments[i]);
    if (!bytes) {
      return fail(Errc::invalid_jwt, fmt::format("vapid: JWT {} segment is not base64url ({})", kSegmentNames[i],
                                                 bytes.error().message()));
    }
    out.segments[i] = std::move(*bytes);
  }
  return out;
}

Result<void> check_jwt_header(const Bytes& decoded) {
  const auto header = parse_json(decoded);
  if (!header || !header->is_object()) return fail(Errc::invalid_jwt, "vapid: JWT header is not a JSON object");
  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) return fail(Errc::invalid_jwt, "vapid: JWT header has no alg");
  // Only ES256: accepting "none" or an HMAC alg would let anyone forge tokens.
  if (alg->get_ref<const std::string&>() != "ES256") {
    return fail(Errc::invalid_jwt,
                fmt::format("vapid: JWT alg is '{}', expected ES256", printable(alg->get_ref<const std::string&>())));
  }
  return {};
}

Result<void> check_jwt_signature(const PublicKey& key, const DecodedJwt& jwt) {
  const Bytes& signature = jwt.segments[2];
  if (signature.size() != kRawSignatureSize) {
    return fail(Errc::bad_signature, fmt::format("vapid: JWT signature must be {} bytes (raw r || s), got {}",
                                                 kRawSignatureSize, signature.size()));
  }
  auto verified = es256_verify(key.pkey(), jwt.signing_input, signature);
  if (!verified) return tl::unexpected(verified.error());
  if (!*verified) return fail(Errc::bad_signature, "vapid: JWT signature does not verify with the key");
  return {};
}

// The aud, exp and sub claims; aud and exp are required.
Result<VapidClaims> read_claims(const Bytes& decoded) {
  const auto claims = parse_json(decoded);
  if (!claims) return fail(Errc::invalid_jwt, "vapid: JWT claims are not valid JSON");
  if (!claims->is_object()) return fail(Errc::invalid_jwt, "vapid: JWT claims are not a JSON object");
  const auto aud = claims->find("aud");
  if (aud == claims->end()) return fail(Errc::missing_claim, "vapid: JWT has no aud claim");
  if (!aud->is_string()) return fail(Errc::missing_claim, "vapid: JWT aud claim is not a string");
  const auto exp = claims->find("exp");
  if (exp == claims->end()) return fail(Errc::missing_claim, "vapid: JWT has no exp claim");
  if (!exp->is_number_integer()) return fail(Errc::missing_claim, "vapid: JWT exp claim is not an integer");

  VapidClaims out;
  out.aud = aud->get<std::string>();
  // An exp beyond the int64 range is an integer, just absurdly far ahead.
  out.exp =
      exp->is_number_unsigned() && exp->get<std::uint64_t>() > std::uint64_t{std::numeric_limits<std::int64_t>::max()}
          ? std::numeric_limits<std::int64_t>::max()
          : exp->get<std::int64_t>();
  const auto sub = claims->find("sub");
  if (sub != claims->end() && sub->is_string()) out.sub = sub->get<std::string>();
  return out;
}

Result<void> check_claims(const VapidClaims& claims, const VapidExpectations& expect) {
  if (claims.exp <= expect.now) {
    return fail(Errc::token_expired, fmt::format("vapid: JWT expired at {}, now is {}", claims.exp, expect.now));
  }
  if (claims.exp > saturating_add(expect.now, kVapidMaxLifetime)) {
    return fail(Errc::token_expiry_too_far, fmt::format("vapid: JWT exp {} is more than {} s after now ({})",
                                                        claims.exp, kVapidMaxLifetime, expect.now));
  }
  if (claims.aud != expect.audience) {
    return fail(Errc::wrong_audience, fmt::format("vapid: JWT aud '{}' is not the endpoint origin '{}'",
                                                  printable(claims.aud, 100), printable(expect.audience, 100)));
  }
  return {};
}

}  // namespace

Result<VapidClaims> vapid_verify(const VapidCredentials& credentials, const VapidExpectations& expect) {
  auto key = PublicKey::from_bytes(credentials.key);
  if (!key) return tl::unexpected(key.error().with_context("vapid: key"));
  if (expect.registered_key && !std::equal(credentials.key.begin(), credentials.key.end(),
                                           expect.registered_key->begin(), expect.registered_key->end())) {
    return fail(Errc::key_mismatch, "vapid: key differs from the applicationServerKey the subscription is bound to");
  }
  auto jwt = decode_jwt(credentials.jwt);
  if (!jwt) return tl::unexpected(jwt.error());
  if (auto header = check_jwt_header(jwt->segments[0]); !header) return tl::unexpected(header.error());
  // The signature is checked before the claims are read, so nothing the sender
  // wrote past the header is interpreted until it is known to be theirs.
  if (auto signature = check_jwt_signature(*key, *jwt); !signature) return tl::unexpected(signature.error());
  auto claims = read_claims(jwt->segments[1]);
  if (!claims) return tl::unexpected(claims.error());
  if (auto checked = check_claims(*claims, expect); !checked) return tl::unexpected(checked.error());
  return claims;
}

}  // namespace webpush::crypto
