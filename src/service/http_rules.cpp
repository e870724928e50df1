#include "webpush/service/http_rules.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include <nlohmann/json.hpp>

namespace webpush::service {

namespace {

constexpr std::string_view kMoreInfo = "http://autopush.readthedocs.io/en/latest/http.html#error-codes";

bool is_b64url_char(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '_';
}

std::string_view trim(std::string_view s, std::string_view chars = " \t") {
  const auto b = s.find_first_not_of(chars);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(chars);
  return s.substr(b, e - b + 1);
}

// Rust's i64::from_str: an optional sign then at least one digit, nothing else.
std::optional<std::int64_t> parse_i64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool negative = false;
  if (s.front() == '+' || s.front() == '-') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::uint64_t magnitude = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (!negative && magnitude > kMax) return std::nullopt;
  if (negative && magnitude > kMax + 1) return std::nullopt;
  if (negative)
    return magnitude == kMax + 1 ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(magnitude);
  return static_cast<std::int64_t>(magnitude);
}

// ARS assert_base64_item_exists.
std::optional<std::string> require_item(std::string_view header_name, const std::optional<std::string>& header,
                                        std::string_view key) {
  if (!header) return "Missing " + std::string(header_name) + " header";
  const auto p = find_crypto_param(*header, key);
  if (p.invalid) return "Invalid " + std::string(header_name) + " header";
  if (!p.value) return "Missing " + std::string(key) + " value in " + std::string(header_name) + " header";
  if (!is_base64url_token(*p.value)) {
    return "Invalid " + std::string(key) + " value in " + std::string(header_name) + " header";
  }
  return std::nullopt;
}

// ARS assert_not_exists.
std::optional<std::string> forbid_item(std::string_view header_name, const std::optional<std::string>& header,
                                       std::string_view key) {
  if (!header) return std::nullopt;
  const auto p = find_crypto_param(*header, key);
  if (p.invalid) return "Invalid " + std::string(header_name) + " header";
  if (p.value) return "Do not include '" + std::string(key) + "' header in " + std::string(header_name) + " header";
  return std::nullopt;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Draft VAPID ("WebPush"/"Bearer") keeps the key in Crypto-Key; ARS answers 400 errno 110 when it is missing.
std::optional<ApiError> check_draft_vapid_key(const std::optional<std::string>& crypto_key) {
  if (!crypto_key) return ApiError{400, 110, "Missing Crypto-Key header"};
  const auto p = find_crypto_param(*crypto_key, "p256ecdsa");
  if (p.invalid) return ApiError{400, 110, "Invalid Crypto-Key header"};
  if (!p.value) return ApiError{400, 110, "Missing p256ecdsa in Crypto-Key header"};
  return std::nullopt;
}

}  // namespace

std::optional<std::string> header_value(const HttpHeaders& headers, std::string_view name) {
  const auto it = headers.find(name);
  if (it == headers.end()) return std::nullopt;
  for (const char c : it->second) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u > 0x7e) return std::nullopt;
  }
  return it->second;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::string error_body(const ApiError& error) {
  nlohmann::json j = {
      {"code", error.status},
      {"errno", error.errnum ? nlohmann::json(*error.errnum) : nlohmann::json(nullptr)},
      {"error", reason_phrase(error.status)},
      {"message", error.message},
      {"more_info", kMoreInfo},
  };
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_base64url_token(std::string_view s) noexcept {
  const auto pad = s.find('=');
  const std::string_view head = s.substr(0, pad);
  if (head.empty() || !std::all_of(head.begin(), head.end(), is_b64url_char)) return false;
  if (pad == std::string_view::npos) return true;
  const std::string_view tail = s.substr(pad);
  return std::all_of(tail.begin(), tail.end(), [](char c) { return c == '='; });
}

std::string strip_crypto_header(std::string_view value) {
  std::string unquoted;
  unquoted.reserve(value.size());
  for (const char c : value) {
    if (c != '"') unquoted += c;
  }
  // Drop a run of '=' that follows a base64url character and ends at ',', ';' or the end.
  std::string out;
  out.reserve(unquoted.size());
  for (std::size_t i = 0; i < unquoted.size();) {
    if (unquoted[i] == '=' && i > 0 && is_b64url_char(unquoted[i - 1])) {
      std::size_t j = i;
      while (j < unquoted.size() && unquoted[j] == '=') ++j;
      if (j == unquoted.size() || unquoted[j] == ',' || unquoted[j] == ';') {
        i = j;
        continue;
      }
      out.append(unquoted, i, j - i);
      i = j;
      continue;
    }
    out += unquoted[i++];
  }
  return out;
}

CryptoParam find_crypto_param(std::string_view header, std::string_view key) {
  CryptoParam result;
  std::size_t pos = 0;
  while (true) {
    const auto comma = header.find(',', pos);
    const std::string_view section = header.substr(pos, comma == std::string_view::npos ? comma : comma - pos);
    std::size_t ipos = 0;
    while (true) {
      const auto semi = section.find(';', ipos);
      const std::string_view item = section.substr(ipos, semi == std::string_view::npos ? semi : semi - ipos);
      const auto eq = item.find('=');
      if (eq == std::string_view::npos) return CryptoParam{true, std::nullopt};
      if (!result.value && trim(item.substr(0, eq)) == key) {
        result.value = std::string(trim(item.substr(eq + 1), " \""));
      }
      if (semi == std::string_view::npos) break;
      ipos = semi + 1;
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return result;
}

ApiResult<PushMeta> validate_push_headers(const PushHeaders& headers, bool has_body, std::int64_t max_ttl) {
  PushMeta meta;
  const auto ttl = headers.ttl ? parse_i64(trim(*headers.ttl)) : std::nullopt;
  if (!ttl) return api_error(400, 111, "Missing TTL value");

  if (has_body) {
    const std::optional<std::string> encryption =
        headers.encryption ? std::optional(strip_crypto_header(*headers.encryption)) : std::nullopt;
    const std::optional<std::string> crypto_key =
        headers.crypto_key ? std::optional(strip_crypto_header(*headers.crypto_key)) : std::nullopt;
    if (!headers.content_encoding) return api_error(400, 110, "Missing Content-Encoding header");
    const std::string_view encoding = *headers.content_encoding;
    if (encoding == "aesgcm") {
      if (auto e = require_item("Encryption", encryption, "salt")) return api_error(400, 110, *e);
      if (headers.encryption_key) {
        return api_error(400, 110, "Encryption-Key header is not valid for webpush draft 02 or later");
      }
      if (crypto_key) {
        if (auto e = require_item("Crypto-Key", crypto_key, "dh")) return api_error(400, 110, *e);
      }
    } else if (encoding == "aes128gcm") {
      if (auto e = forbid_item("aes128gcm Encryption", encryption, "salt")) return api_error(400, 110, *e);
      if (auto e = forbid_item("aes128gcm Crypto-Key", crypto_key, "dh")) return api_error(400, 110, *e);
    } else {
      return api_error(400, 110, "Unknown Content-Encoding header");
    }
    meta.encoding = std::string(encoding);
    meta.encryption = encryption.value_or("");
    meta.crypto_key = crypto_key.value_or("");
  }

  if (*ttl < 0) return api_error(400, 114, "ttl: TTL must be greater than 0");
  if (headers.topic) {
    if (headers.topic->size() > 32) return api_error(400, 113, "topic: Topic must be no greater than 32 characters");
    if (!is_base64url_token(*headers.topic)) {
      return api_error(400, 113, "topic: Topic must be URL and Filename safe Base64 alphabet");
    }
    meta.topic = *headers.topic;
  }
  if (headers.urgency) {
    const std::string_view u = trim(*headers.urgency);
    if (u != "very-low" && u != "low" && u != "normal" && u != "high") {
      return api_error(400, std::nullopt, "Urgency must be one of very-low, low, normal, high");
    }
  }
  meta.ttl = std::min(*ttl, max_ttl);
  return meta;
}

PushHeaders push_headers(const HttpHeaders& headers) {
  PushHeaders h;
  h.ttl = header_value(headers, "ttl");
  h.topic = header_value(headers, "topic");
  h.urgency = header_value(headers, "urgency");
  h.content_encoding = header_value(headers, "content-encoding");
  h.encryption = header_value(headers, "encryption");
  h.crypto_key = header_value(headers, "crypto-key");
  h.encryption_key = header_value(headers, "encryption-key");
  return h;
}

ApiResult<PushMeta> validate_push_request(const HttpHeaders& headers, std::size_t body_size, std::size_t max_data_bytes,
                                          std::int64_t max_ttl) {
  if (body_size > max_data_bytes) return api_error(413, 104, "A payload reached size limit.");
  return validate_push_headers(push_headers(headers), body_size > 0, max_ttl);
}

ApiResult<std::optional<crypto::VapidCredentials>> parse_push_vapid(const std::optional<std::string>& authorization,
                                                                    const std::optional<std::string>& crypto_key) {
  if (!authorization) return std::optional<crypto::VapidCredentials>();
  const std::string scheme = lower(std::string_view(*authorization).substr(0, authorization->find(' ')));
  if (scheme == "webpush" || scheme == "bearer") {
    if (auto bad = check_draft_vapid_key(crypto_key)) return tl::unexpected(std::move(*bad));
  }
  auto parsed = crypto::parse_vapid_headers(*authorization, crypto_key.value_or(""));
  if (!parsed) return api_error(401, 109, parsed.error().message());
  return std::optional<crypto::VapidCredentials>(std::move(*parsed));
}

}  // namespace webpush::service
