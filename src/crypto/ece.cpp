#include "webpush/crypto/ece.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "ossl.h"

namespace webpush::crypto {
namespace {

constexpr std::uint8_t kAes128gcmCekInfo[] = "Content-Encoding: aes128gcm";  // + NUL: sizeof includes it
constexpr std::uint8_t kAes128gcmNonceInfo[] = "Content-Encoding: nonce";

std::uint32_t read_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

Result<Aes128gcmHeader> parse_aes128gcm_header(ByteView body) {
  if (body.size() < kAes128gcmHeaderMin) {
    return fail(Errc::truncated_header, fmt::format("aes128gcm: body of {} bytes is shorter than the {}-byte header",
                                                    body.size(), kAes128gcmHeaderMin));
  }
  Aes128gcmHeader h;
  std::memcpy(h.salt.data(), body.data(), h.salt.size());
  h.rs = read_be32(body.data() + 16);
  const std::size_t idlen = body[20];
  if (h.rs < kAes128gcmMinRs) {
    return fail(Errc::invalid_record_size,
                fmt::format("aes128gcm: record size {} is below the minimum of {}", h.rs, kAes128gcmMinRs));
  }
  if (body.size() < kAes128gcmHeaderMin + idlen) {
    return fail(Errc::truncated_header,
                fmt::format("aes128gcm: keyid of {} bytes runs past the {}-byte body", idlen, body.size()));
  }
  h.keyid = body.subspan(kAes128gcmHeaderMin, idlen);
  h.size = kAes128gcmHeaderMin + idlen;
  return h;
}

Result<ContentKey> derive_aes128gcm_key(ByteView ikm, ByteView salt) {
  auto prk = detail::hmac_sha256(salt, ikm);
  if (!prk) return tl::unexpected(prk.error());
  static constexpr std::uint8_t kOne[] = {0x01};
  auto cek = detail::hmac_sha256(*prk, kAes128gcmCekInfo, kOne);
  auto nonce = detail::hmac_sha256(*prk, kAes128gcmNonceInfo, kOne);
  if (!cek) return tl::unexpected(cek.error());
  if (!nonce) return tl::unexpected(nonce.error());
  ContentKey key;
  std::memcpy(key.cek.data(), cek->data(), key.cek.size());
  std::memcpy(key.nonce.data(), nonce->data(), key.nonce.size());
  return key;
}

Result<Bytes> aes128gcm_decrypt_records(ByteView records, const ContentKey& key, std::uint32_t rs) {
  if (rs < kAes128gcmMinRs) {
    return fail(Errc::invalid_record_size,
                fmt::format("aes128gcm: record size {} is below the minimum of {}", rs, kAes128gcmMinRs));
  }
  if (records.empty()) return fail(Errc::empty_ciphertext, "aes128gcm: no ciphertext after the header");

  Bytes out;
  out.reserve(records.size());
  std::uint64_t seq = 0;
  for (std::size_t offset = 0; offset < records.size(); offset += rs, ++seq) {
    const std::size_t len = std::min<std::size_t>(rs, records.size() - offset);
    const bool last = offset + len == records.size();
    const std::uint64_t number = seq + 1;  // records are numbered from 1 in messages
    if (len <= detail::kTagSize) {
      return fail(Errc::truncated_record,
                  fmt::format("aes128gcm: record {} has {} bytes, no more than its 16-byte tag", number, len));
    }
    const std::size_t start = out.size();
    auto opened =
        detail::aes128gcm_open(key.cek, detail::record_nonce(key.nonce, seq), records.subspan(offset, len), out);
    if (!opened) return tl::unexpected(opened.error());
    if (!*opened) {
      return fail(
          Errc::decrypt_failed,
          fmt::format("aes128gcm: record {} failed authentication (wrong key or auth secret, or corrupted)", number));
    }
    // The delimiter is the last non-zero byte; everything after it is padding.
    std::size_t end = out.size();
    while (end > start && out[end - 1] == 0) --end;
    if (end == start) {
      return fail(Errc::missing_delimiter,
                  fmt::format("aes128gcm: record {} ends without a padding delimiter", number));
    }
    const std::uint8_t delimiter = out[end - 1];
    if (delimiter == 0x02 && !last) {
      return fail(Errc::early_final_record,
                  fmt::format("aes128gcm: record {} has the final delimiter but more records follow", number));
    }
    if (delimiter == 0x01 && last) {
      return fail(Errc::missing_final_delimiter,
                  fmt::format("aes128gcm: last record {} has delimiter 0x01, the message is truncated", number));
    }
    if (delimiter != 0x01 && delimiter != 0x02) {
      return fail(Errc::nonzero_padding,
                  fmt::format("aes128gcm: record {} has non-zero padding byte 0x{:02x}", number, delimiter));
    }
    out.resize(end - 1);
  }
  return out;
}

Result<Bytes> aes128gcm_decrypt(ByteView body, ByteView ikm) {
  auto header = parse_aes128gcm_header(body);
  if (!header) return tl::unexpected(header.error());
  auto key = derive_aes128gcm_key(ikm, header->salt);
  if (!key) return tl::unexpected(key.error());
  return aes128gcm_decrypt_records(body.subspan(header->size), *key, header->rs);
}

Result<Bytes> aes128gcm_encrypt_records(ByteView plaintext, const ContentKey& key, const RecordOptions& options) {
  if (options.rs < kAes128gcmMinRs) {
    return fail(Errc::invalid_record_size,
                fmt::format("aes128gcm: record size {} is below the minimum of {}", options.rs, kAes128gcmMinRs));
  }
  // Each record holds up to rs - 17 bytes of data and padding, then the delimiter
  // and the tag. Padding is placed first, so the example of RFC 8188 §3.2 comes
  // out byte for byte.
  const std::size_t capacity = options.rs - detail::kTagSize - 1;
  std::size_t data_left = plaintext.size();
  std::size_t pad_left = options.padding;
  const std::size_t records = std::max<std::size_t>(1, (data_left + pad_left + capacity - 1) / capacity);
  Bytes out;
  out.reserve(data_left + pad_left + records * (detail::kTagSize + 1));
  Bytes record;
  record.reserve(std::min<std::size_t>(options.rs, data_left + pad_left + 1));
  std::size_t data_at = 0;
  for (std::uint64_t seq = 0;; ++seq) {
    const std::size_t pad = std::min(pad_left, capacity);
    const std::size_t data = std::min(data_left, capacity - pad);
    pad_left -= pad;
    data_left -= data;
    const bool last = pad_left == 0 && data_left == 0;
    record.assign(plaintext.begin() + static_cast<std::ptrdiff_t>(data_at),
                  plaintext.begin() + static_cast<std::ptrdiff_t>(data_at + data));
    data_at += data;
    record.push_back(last ? 0x02 : 0x01);
    record.resize(record.size() + pad, 0);
    auto sealed = detail::aes128gcm_seal(key.cek, detail::record_nonce(key.nonce, seq), record, out);
    if (!sealed) return tl::unexpected(sealed.error());
    if (last) break;
  }
  return out;
}

Result<Bytes> make_aes128gcm_header(ByteView salt, std::uint32_t rs, ByteView keyid) {
  if (salt.size() != 16)
    return fail(Errc::invalid_salt, fmt::format("aes128gcm: salt must be 16 bytes, got {}", salt.size()));
  if (rs < kAes128gcmMinRs) {
    return fail(Errc::invalid_record_size,
                fmt::format("aes128gcm: record size {} is below the minimum of {}", rs, kAes128gcmMinRs));
  }
  if (keyid.size() > 255) {
    return fail(Errc::invalid_key_id, fmt::format("aes128gcm: keyid of {} bytes exceeds 255", keyid.size()));
  }
  Bytes h;
  h.reserve(kAes128gcmHeaderMin + keyid.size());
  append(h, salt);
  h.push_back(static_cast<std::uint8_t>(rs >> 24));
  h.push_back(static_cast<std::uint8_t>(rs >> 16));
  h.push_back(static_cast<std::uint8_t>(rs >> 8));
  h.push_back(static_cast<std::uint8_t>(rs));
  h.push_back(static_cast<std::uint8_t>(keyid.size()));
  append(h, keyid);
  return h;
}

Result<Bytes> aes128gcm_encrypt(ByteView plaintext, ByteView ikm, ByteView salt, ByteView keyid,
                                const RecordOptions& options) {
  auto header = make_aes128gcm_header(salt, options.rs, keyid);
  if (!header) return header;
  auto key = derive_aes128gcm_key(ikm, salt);
  if (!key) return tl::unexpected(key.error());
  auto records = aes128gcm_encrypt_records(plaintext, *key, options);
  if (!records) return records;
  append(*header, *records);
  return header;
}

}  // namespace webpush::crypto
