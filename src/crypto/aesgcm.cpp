#include "webpush/crypto/aesgcm.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "ossl.h"
#include "webpush/core/base64url.h"

namespace webpush::crypto {
namespace {

constexpr std::uint8_t kAuthInfo[] = "Content-Encoding: auth";  // + NUL: sizeof includes it
constexpr std::uint8_t kAesgcmCekInfo[] = "Content-Encoding: aesgcm";
constexpr std::uint8_t kAesgcmNonceInfo[] = "Content-Encoding: nonce";
constexpr std::uint8_t kOne[] = {0x01};

constexpr std::size_t kPadLengthSize = 2;         // the padlen prefix of every record
constexpr std::size_t kMaxPadPerRecord = 0xffff;  // what padlen can express
// An encoder needs rs >= 3: the last record must be shorter than rs, and with
// rs = 2 every record (at least its 2-byte padlen) is full, so no message can end.
constexpr std::uint64_t kAesgcmMinEncodeRs = 3;
constexpr std::uint64_t kAesgcmMinRs = 2;

// Header text in messages is cut short: it comes from the network.
constexpr std::size_t kQuoteMax = 32;
std::string_view quoted(std::string_view s) { return s.substr(0, kQuoteMax); }

// ---- header parsing -----------------------------------------------------------

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_space(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Parameter names are case-insensitive in HTTP (RFC 7231 §3.1.1.1).
bool name_is(std::string_view name, std::string_view lower) {
  return name.size() == lower.size() && std::equal(name.begin(), name.end(), lower.begin(), [](char a, char b) {
           return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
         });
}

// The parameters of one list element that aesgcm reads; others are ignored.
struct Element {
  std::optional<std::string_view> keyid;
  std::optional<std::string_view> salt;
  std::optional<std::string_view> rs;
  std::optional<std::string_view> dh;
};

// Which parameters a header carries: Encryption has keyid, salt and rs;
// Crypto-Key has keyid and dh. Anything else (p256ecdsa, …) is ignored there.
enum Known : unsigned { kKeyid = 1, kSalt = 2, kRs = 4, kDh = 8 };

// Splits `text` at `sep` outside double quotes. The caller has checked that the
// quotes of the whole header are balanced, so a quote cannot run past the end.
template <class F>
void split_outside_quotes(std::string_view text, char sep, F&& each) {
  bool in_quotes = false;
  std::size_t begin = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') {
      in_quotes = !in_quotes;
    } else if (text[i] == sep && !in_quotes) {
      each(text.substr(begin, i - begin));
      begin = i + 1;
    }
  }
  each(text.substr(begin));
}

// Parses one `;`-separated parameter into `element`. Empty parameters (";;" or a
// trailing ";") are skipped, as Firefox does.
Result<void> parse_param(std::string_view param, unsigned known, std::string_view header, Element& element) {
  param = trim_space(param);
  if (param.empty()) return {};
  const std::size_t eq = param.find('=');
  if (eq == std::string_view::npos) {
    return fail(Errc::invalid_header, fmt::format("aesgcm: {} parameter '{}' has no '='", header, quoted(param)));
  }
  const std::string_view name = trim_space(param.substr(0, eq));
  std::string_view value = trim_space(param.substr(eq + 1));
  if (name.empty()) {
    return fail(Errc::invalid_header, fmt::format("aesgcm: {} parameter '{}' has no name", header, quoted(param)));
  }
  if (std::any_of(name.begin(), name.end(), [](char c) { return is_space(c) || c == '"'; })) {
    return fail(Errc::invalid_header,
                fmt::format("aesgcm: {} parameter name '{}' is not a token", header, quoted(name)));
  }
  // A value is a token or one quoted string; values here are base64url or
  // decimal, so a quote anywhere else is a syntax error, not data.
  if (!value.empty() && value.front() == '"') {
    if (value.size() < 2 || value.back() != '"') {
      return fail(Errc::invalid_header,
                  fmt::format("aesgcm: {} parameter '{}' has text after its quoted value", header, quoted(name)));
    }
    value = value.substr(1, value.size() - 2);
  }
  if (value.find('"') != std::string_view::npos) {
    return fail(Errc::invalid_header,
                fmt::format("aesgcm: {} parameter '{}' has a stray '\"' in its value", header, quoted(name)));
  }
  std::optional<std::string_view>* slot = nullptr;
  if ((known & kKeyid) && name_is(name, "keyid")) slot = &element.keyid;
  if ((known & kSalt) && name_is(name, "salt")) slot = &element.salt;
  if ((known & kRs) && name_is(name, "rs")) slot = &element.rs;
  if ((known & kDh) && name_is(name, "dh")) slot = &element.dh;
  if (slot == nullptr) return {};
  // Firefox keeps the last duplicate, ecec rejects duplicates in Encryption. We
  // reject them wherever we read them: two salts or two keys are ambiguous, and
  // implementations that pick differently must not decrypt different messages.
  if (slot->has_value()) {
    return fail(Errc::invalid_header, fmt::format("aesgcm: {} element repeats parameter '{}'", header, quoted(name)));
  }
  *slot = value;
  return {};
}

// Parses a whole comma-separated header and calls each(const Element&) for every
// non-empty element in order (RFC 7230 §7: empty list elements are ignored). The
// whole header is checked for syntax, also past the elements the caller uses.
template <class F>
Result<void> for_each_element(std::string_view text, unsigned known, std::string_view header, F&& each) {
  if (std::count(text.begin(), text.end(), '"') % 2 != 0) {
    return fail(Errc::invalid_header, fmt::format("aesgcm: {} header has an unterminated quoted string", header));
  }
  Result<void> status;
  split_outside_quotes(text, ',', [&](std::string_view item) {
    if (!status || trim_space(item).empty()) return;
    Element element;
    split_outside_quotes(item, ';', [&](std::string_view param) {
      if (status) status = parse_param(param, known, header, element);
    });
    if (status) each(element);
  });
  return status;
}

// base64url with `=` padding ignored: autopush strips it, other senders keep it,
// and padding carries no information.
Result<Bytes> decode_b64(std::string_view value) {
  while (!value.empty() && value.back() == '=') value.remove_suffix(1);
  return base64url_decode(value);
}

Result<std::uint64_t> parse_rs(std::string_view value) {
  if (value.empty()) return fail(Errc::invalid_record_size, "aesgcm: record size (rs) is empty");
  std::uint64_t rs = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') {
      return fail(Errc::invalid_record_size,
                  fmt::format("aesgcm: record size '{}' is not a decimal number", quoted(value)));
    }
    rs = rs * 10 + static_cast<std::uint64_t>(c - '0');
    // Stop before the accumulator could overflow; the digits shown say how big.
    if (rs > kAesgcmMaxRs) {
      return fail(Errc::invalid_record_size,
                  fmt::format("aesgcm: record size {} exceeds the maximum of {}", quoted(value), kAesgcmMaxRs));
    }
  }
  if (rs < kAesgcmMinRs) {
    return fail(Errc::invalid_record_size,
                fmt::format("aesgcm: record size {} is below the minimum of {}", rs, kAesgcmMinRs));
  }
  return rs;
}

Result<void> check_aesgcm_auth_secret(ByteView auth_secret) {
  if (auth_secret.size() != kAuthSecretSize) {
    return fail(Errc::invalid_auth_secret,
                fmt::format("aesgcm: auth secret must be {} bytes, got {}", kAuthSecretSize, auth_secret.size()));
  }
  return {};
}

// ---- keys and records ------------------------------------------------------------

// draft-ietf-webpush-encryption-04 §3.3-3.5 over draft-ietf-httpbis-encryption-encoding-03 §4.
// PRK is computed once and expanded twice, as in derive_aes128gcm_key, rather than
// calling hkdf_sha256 twice, which would recompute it.
Result<ContentKey> derive_aesgcm_key(ByteView ecdh_secret, ByteView auth_secret, ByteView salt, ByteView ua_public,
                                     ByteView as_public) {
  auto ikm = detail::hkdf_sha256(auth_secret, ecdh_secret, kAuthInfo);
  if (!ikm) return tl::unexpected(ikm.error());
  auto prk = detail::hmac_sha256(salt, *ikm);
  if (!prk) return tl::unexpected(prk.error());

  // context = "P-256\0" || 0x0041 || ua_public || 0x0041 || as_public (140 bytes).
  static constexpr std::uint8_t kLabel[] = "P-256";
  std::array<std::uint8_t, sizeof kLabel + 2 * (2 + kPublicKeySize)> context{};
  std::uint8_t* p = std::copy(std::begin(kLabel), std::end(kLabel), context.begin());
  for (const ByteView key : {ua_public, as_public}) {
    *p++ = 0;
    *p++ = static_cast<std::uint8_t>(kPublicKeySize);
    p = std::copy(key.begin(), key.end(), p);
  }

  auto cek = detail::hmac_sha256(*prk, kAesgcmCekInfo, context, kOne);
  if (!cek) return tl::unexpected(cek.error());
  auto nonce = detail::hmac_sha256(*prk, kAesgcmNonceInfo, context, kOne);
  if (!nonce) return tl::unexpected(nonce.error());
  ContentKey key;
  std::memcpy(key.cek.data(), cek->data(), key.cek.size());
  std::memcpy(key.nonce.data(), nonce->data(), key.nonce.size());
  return key;
}

Result<Bytes> decrypt_records(ByteView body, const ContentKey& key, std::uint64_t rs) {
  const std::uint64_t sealed = rs + detail::kTagSize;
  // Records are cut at fixed rs + 16 boundaries, so only the last may be short;
  // a body ending on a boundary has lost its final record (draft -03 §2).
  if (body.size() % sealed == 0) {
    return fail(Errc::truncated_record,
                fmt::format("aesgcm: body of {} bytes ends on a record boundary (rs {} + 16-byte tag), the last "
                            "record is missing",
                            body.size(), rs));
  }
  Bytes out;
  out.reserve(body.size());
  std::uint64_t seq = 0;
  for (std::size_t offset = 0; offset < body.size(); ++seq) {
    const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(sealed, body.size() - offset));
    const std::uint64_t number = seq + 1;  // records are numbered from 1 in messages
    if (len < detail::kTagSize) {
      return fail(Errc::truncated_record,
                  fmt::format("aesgcm: record {} has {} bytes, less than its 16-byte tag", number, len));
    }
    const std::size_t start = out.size();
    auto opened = detail::aes128gcm_open(key.cek, detail::record_nonce(key.nonce, seq), body.subspan(offset, len), out);
    if (!opened) return tl::unexpected(opened.error());
    if (!*opened) {
      return fail(
          Errc::decrypt_failed,
          fmt::format("aesgcm: record {} failed authentication (wrong key or auth secret, or corrupted)", number));
    }
    offset += len;
    const std::size_t plain = out.size() - start;
    if (plain < kPadLengthSize) {
      return fail(
          Errc::invalid_padding_length,
          fmt::format("aesgcm: record {} has {} bytes, too short for its 2-byte padding length", number, plain));
    }
    const std::size_t pad = (std::size_t{out[start]} << 8) | out[start + 1];
    if (pad > plain - kPadLengthSize) {
      return fail(Errc::invalid_padding_length,
                  fmt::format("aesgcm: record {} declares {} bytes of padding but holds only {}", number, pad,
                              plain - kPadLengthSize));
    }
    const auto pad_begin = out.begin() + static_cast<std::ptrdiff_t>(start + kPadLengthSize);
    const auto pad_end = pad_begin + static_cast<std::ptrdiff_t>(pad);
    if (const auto bad = std::find_if(pad_begin, pad_end, [](std::uint8_t b) { return b != 0; }); bad != pad_end) {
      return fail(Errc::nonzero_padding, fmt::format("aesgcm: record {} has non-zero padding byte 0x{:02x} at {}",
                                                     number, *bad, bad - pad_begin));
    }
    // Decrypted in place; sliding the data over its prefix costs less than a second buffer.
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(start), pad_end);
  }
  return out;
}

// How a message is cut into records. Every record but the last is exactly rs
// bytes of plaintext (a decoder cuts at fixed boundaries), and the last is
// shorter. Padding is placed from the first record on, at most 65535 per record.
struct Layout {
  std::size_t records = 0;
  std::size_t last_content = 0;  // padding + data in the last record, < rs - 2
  std::size_t body_size = 0;
};

Result<Layout> plan_records(std::size_t data, std::size_t padding, std::uint64_t rs) {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  if (padding > kMax - data) {
    return fail(Errc::plaintext_too_large,
                fmt::format("aesgcm: {} bytes of plaintext and {} of padding overflow", data, padding));
  }
  const std::size_t capacity = static_cast<std::size_t>(rs) - kPadLengthSize;  // rs >= 3: capacity >= 1
  const std::size_t total = data + padding;
  Layout layout;
  // total / capacity full records, then one shorter record; when total fills the
  // full records exactly, the last record holds only its padlen of zero.
  layout.records = total / capacity + 1;
  layout.last_content = total % capacity;
  constexpr std::size_t kOverhead = kPadLengthSize + detail::kTagSize;
  if (layout.records > (kMax - total) / kOverhead) {
    return fail(Errc::plaintext_too_large, fmt::format("aesgcm: {} bytes of plaintext and padding in records of {} "
                                                       "overflow the body size",
                                                       total, rs));
  }
  layout.body_size = total + layout.records * kOverhead;
  // Padding has to fit beside the data: at most 65535 per record, and no more
  // than the record's content. Only records over 65537 bytes can run short.
  const std::size_t per_record = std::min(kMaxPadPerRecord, capacity);
  const std::size_t room = (layout.records - 1) * per_record + std::min(per_record, layout.last_content);
  if (padding > room) {
    return fail(Errc::plaintext_too_large, fmt::format("aesgcm: {} bytes of padding do not fit beside {} bytes of data "
                                                       "in {} record(s) of rs {} (at most {} per record)",
                                                       padding, data, layout.records, rs, kMaxPadPerRecord));
  }
  return layout;
}

Result<Bytes> encrypt_records(ByteView plaintext, std::size_t padding, const ContentKey& key, std::uint64_t rs,
                              const Layout& layout) {
  const std::size_t capacity = static_cast<std::size_t>(rs) - kPadLengthSize;
  const std::size_t per_record = std::min(kMaxPadPerRecord, capacity);
  Bytes out;
  out.reserve(layout.body_size);
  Bytes record;
  record.reserve(kPadLengthSize + (layout.records > 1 ? capacity : layout.last_content));
  std::size_t data_at = 0;
  std::size_t pad_left = padding;
  for (std::size_t seq = 0; seq < layout.records; ++seq) {
    const std::size_t content = seq + 1 < layout.records ? capacity : layout.last_content;
    const std::size_t pad = std::min({pad_left, per_record, content});
    const std::size_t data = content - pad;
    pad_left -= pad;
    record.assign(kPadLengthSize + pad, 0);
    record[0] = static_cast<std::uint8_t>(pad >> 8);
    record[1] = static_cast<std::uint8_t>(pad);
    append(record, plaintext.subspan(data_at, data));
    data_at += data;
    auto sealed = detail::aes128gcm_seal(key.cek, detail::record_nonce(key.nonce, seq), record, out);
    if (!sealed) return tl::unexpected(sealed.error());
  }
  return out;
}

}  // namespace

Result<AesgcmParams> parse_aesgcm_params(std::string_view encryption, std::string_view crypto_key) {
  // Encryption: only the first element counts (Firefox, ecec); Web Push allows one.
  std::optional<Element> first;
  auto enc = for_each_element(encryption, kKeyid | kSalt | kRs, "Encryption", [&](const Element& e) {
    if (!first) first = e;
  });
  if (!enc) return tl::unexpected(enc.error());
  if (!first || !first->salt) return fail(Errc::missing_salt, "aesgcm: Encryption header has no salt");

  AesgcmParams params;
  auto salt = decode_b64(*first->salt);
  if (!salt) {
    return fail(Errc::invalid_salt, fmt::format("aesgcm: salt is not base64url ({})", salt.error().message()));
  }
  if (salt->size() != params.salt.size()) {
    return fail(Errc::invalid_salt,
                fmt::format("aesgcm: salt must be {} bytes, got {}", params.salt.size(), salt->size()));
  }
  std::memcpy(params.salt.data(), salt->data(), params.salt.size());
  if (first->rs) {
    auto rs = parse_rs(*first->rs);
    if (!rs) return tl::unexpected(rs.error());
    params.rs = *rs;
  }

  // Crypto-Key: with a keyid, the first element of that keyid which has a dh;
  // without, the first element with a dh (p256ecdsa and the like sit in others).
  const std::optional<std::string_view> keyid = first->keyid;
  std::optional<std::string_view> dh;
  bool keyid_seen = false;
  auto ck = for_each_element(crypto_key, kKeyid | kDh, "Crypto-Key", [&](const Element& e) {
    if (dh || !e.dh) {
      if (keyid && e.keyid == keyid) keyid_seen = true;
      return;
    }
    if (!keyid || e.keyid == keyid) {
      dh = e.dh;
      keyid_seen = true;
    }
  });
  if (!ck) return tl::unexpected(ck.error());
  if (!dh) {
    if (keyid && !keyid_seen) {
      return fail(Errc::unknown_key_id,
                  fmt::format("aesgcm: Crypto-Key has no entry for keyid '{}' named by Encryption", quoted(*keyid)));
    }
    if (keyid) {
      return fail(Errc::missing_dh, fmt::format("aesgcm: Crypto-Key entry for keyid '{}' has no dh", quoted(*keyid)));
    }
    return fail(Errc::missing_dh, "aesgcm: Crypto-Key header has no dh");
  }
  auto dh_bytes = decode_b64(*dh);
  if (!dh_bytes) {
    return fail(Errc::invalid_key, fmt::format("aesgcm: dh is not base64url ({})", dh_bytes.error().message()));
  }
  if (dh_bytes->empty()) return fail(Errc::invalid_key, "aesgcm: dh is empty");
  params.dh = std::move(*dh_bytes);
  return params;
}

Result<Bytes> aesgcm_decrypt(ByteView body, const AesgcmParams& params, const ReceiverKeys& keys,
                             const DecryptOptions& options) {
  if (body.empty()) return fail(Errc::empty_ciphertext, "aesgcm: empty body");
  if (options.max_body != 0 && body.size() > options.max_body) {
    return fail(Errc::body_too_large,
                fmt::format("aesgcm: body of {} bytes exceeds the limit of {}", body.size(), options.max_body));
  }
  if (auto ok = check_aesgcm_auth_secret(keys.auth_secret); !ok) return tl::unexpected(ok.error());
  // parse_aesgcm_params guarantees the range; hand-built params must not divide by
  // zero or overflow below.
  if (params.rs < kAesgcmMinRs || params.rs > kAesgcmMaxRs) {
    return fail(Errc::invalid_record_size,
                fmt::format("aesgcm: record size {} is outside {}..{}", params.rs, kAesgcmMinRs, kAesgcmMaxRs));
  }
  auto sender = PublicKey::from_bytes(params.dh);
  if (!sender) return tl::unexpected(sender.error().with_context("aesgcm: sender key (dh)"));
  auto secret = ecdh(keys.key, *sender);
  if (!secret) return tl::unexpected(secret.error());
  const detail::CleanseOnExit wipe_secret(*secret);
  auto key = derive_aesgcm_key(*secret, keys.auth_secret, params.salt, keys.key.public_bytes(), sender->bytes());
  if (!key) return tl::unexpected(key.error());
  const detail::CleanseOnExit wipe_key(*key);
  return decrypt_records(body, *key, params.rs);
}

Result<AesgcmMessage> aesgcm_encrypt_with_keys(ByteView plaintext, const PublicKey& ua_public, ByteView auth_secret,
                                               const KeyPair& as_key, ByteView salt,
                                               const AesgcmEncryptOptions& options) {
  if (auto ok = check_aesgcm_auth_secret(auth_secret); !ok) return tl::unexpected(ok.error());
  if (salt.size() != kSaltSize) {
    return fail(Errc::invalid_salt, fmt::format("aesgcm: salt must be {} bytes, got {}", kSaltSize, salt.size()));
  }
  if (options.rs < kAesgcmMinEncodeRs || options.rs > kAesgcmMaxRs) {
    return fail(Errc::invalid_record_size, fmt::format("aesgcm: record size {} is outside {}..{} (an encoder needs "
                                                       "rs >= 3 to end a message)",
                                                       options.rs, kAesgcmMinEncodeRs, kAesgcmMaxRs));
  }
  auto layout = plan_records(plaintext.size(), options.padding, options.rs);
  if (!layout) return tl::unexpected(layout.error());
  if (options.max_body != 0 && layout->body_size > options.max_body) {
    return fail(Errc::body_too_large,
                fmt::format("aesgcm: the body would be {} bytes ({} of plaintext, {} of padding, {} record(s) of "
                            "rs {}), over the limit of {}",
                            layout->body_size, plaintext.size(), options.padding, layout->records, options.rs,
                            options.max_body));
  }
  auto secret = ecdh(as_key, ua_public);
  if (!secret) return tl::unexpected(secret.error());
  auto key = derive_aesgcm_key(*secret, auth_secret, salt, ua_public.bytes(), as_key.public_bytes());
  if (!key) return tl::unexpected(key.error());
  auto body = encrypt_records(plaintext, options.padding, *key, options.rs, *layout);
  if (!body) return tl::unexpected(body.error());

  AesgcmMessage message;
  message.body = std::move(*body);
  message.encryption = "salt=" + base64url_encode(salt);
  if (options.rs != kAesgcmDefaultRs) message.encryption += fmt::format(";rs={}", options.rs);
  message.crypto_key = "dh=" + base64url_encode(as_key.public_bytes());
  return message;
}

Result<AesgcmMessage> aesgcm_encrypt(ByteView plaintext, const PublicKey& ua_public, ByteView auth_secret,
                                     const AesgcmEncryptOptions& options) {
  auto as_key = KeyPair::generate();
  if (!as_key) return tl::unexpected(as_key.error());
  auto salt = random_bytes(kSaltSize);
  if (!salt) return tl::unexpected(salt.error());
  return aesgcm_encrypt_with_keys(plaintext, ua_public, auth_secret, *as_key, *salt, options);
}

}  // namespace webpush::crypto
