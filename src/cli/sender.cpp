#include "sender.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "webpush/core/base64url.h"
#include "webpush/crypto/aesgcm.h"
#include "webpush/crypto/webpush.h"

namespace webpush::cli {

namespace {

std::string read_file(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Result<Bytes> private_scalar(EVP_PKEY* pkey) {
  BIGNUM* d = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1) {
    return fail(SendErrc::bad_key, "the PEM key has no private EC scalar");
  }
  Bytes out(32);
  const int n = BN_bn2binpad(d, out.data(), static_cast<int>(out.size()));
  BN_clear_free(d);
  if (n != 32) return fail(SendErrc::bad_key, "the PEM key is not a P-256 key");
  return out;
}

}  // namespace

Result<crypto::KeyPair> load_vapid_key(const std::string& path) {
  bool ok = false;
  std::string text = read_file(path, ok);
  if (!ok) return fail(SendErrc::bad_key, fmt::format("cannot read VAPID key file {}", path));
  if (text.find("-----BEGIN") != std::string::npos) {
    BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
    EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (pkey == nullptr) return fail(SendErrc::bad_key, fmt::format("{}: not a PEM private key", path));
    auto d = private_scalar(pkey);
    EVP_PKEY_free(pkey);
    if (!d) return tl::unexpected(d.error().with_context(path));
    auto key = crypto::KeyPair::from_private(*d);
    if (!key) return fail(SendErrc::bad_key, fmt::format("{}: {}", path, key.error().message()));
    return key;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  auto d = base64_any_decode(text);
  if (!d || d->size() != 32) {
    return fail(SendErrc::bad_key, fmt::format("{}: expected a PEM key or a base64url 32-byte private key", path));
  }
  auto key = crypto::KeyPair::from_private(*d);
  if (!key) return fail(SendErrc::bad_key, fmt::format("{}: {}", path, key.error().message()));
  return key;
}

Result<crypto::KeyPair> generate_vapid_key_file(const std::string& path) {
  auto key = crypto::KeyPair::generate();
  if (!key) return tl::unexpected(key.error());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail(SendErrc::bad_key,
                fmt::format("cannot create {}: {} (it must not exist yet)", path, std::strerror(errno)));
  }
  BIO* bio = BIO_new(BIO_s_mem());
  const bool written = PEM_write_bio_PrivateKey(bio, key->pkey(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  const bool saved = written && len > 0 && ::write(fd, data, static_cast<std::size_t>(len)) == len && fsync(fd) == 0;
  BIO_free(bio);
  ::close(fd);
  if (!saved) return fail(SendErrc::bad_key, fmt::format("cannot write {}", path));
  return key;
}

// ---- Sender -------------------------------------------------------------------

namespace {

// What one POST carries: the (encrypted) body and its headers, in the order sent.
struct PushRequest {
  std::vector<std::string> headers;
  Bytes body;
  std::string crypto_key;  // the Crypto-Key header value, built from encryption and VAPID
};

Result<void> add_encrypted_body(PushRequest& req, ByteView payload, const crypto::PublicKey& ua_key,
                                const PushSubscription& sub, const std::string& encoding) {
  if (encoding == "aesgcm") {
    auto m = crypto::aesgcm_encrypt(payload, ua_key, sub.auth);
    if (!m) return fail(SendErrc::encrypt, m.error().message());
    req.body = std::move(m->body);
    req.headers.push_back("Content-Encoding: aesgcm");
    req.headers.push_back("Encryption: " + m->encryption);
    req.crypto_key = m->crypto_key;
    return {};
  }
  auto b = crypto::webpush_encrypt(payload, ua_key, sub.auth);
  if (!b) return fail(SendErrc::encrypt, b.error().message());
  req.body = std::move(*b);
  req.headers.push_back("Content-Encoding: aes128gcm");
  return {};
}

Result<void> add_vapid(PushRequest& req, const PushSubscription& sub, const SendOptions& options) {
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto claims = crypto::vapid_claims_for(sub.endpoint, options.vapid_subject, now);
  if (!claims) return fail(SendErrc::encrypt, claims.error().message());
  auto vapid = crypto::vapid_headers(*options.vapid, *claims, options.vapid_scheme);
  if (!vapid) return fail(SendErrc::encrypt, vapid.error().message());
  req.headers.push_back("Authorization: " + vapid->authorization);
  if (!vapid->crypto_key.empty()) req.crypto_key += (req.crypto_key.empty() ? "" : ",") + vapid->crypto_key;
  return {};
}

Result<PushRequest> build_request(const PushSubscription& sub, ByteView payload, const SendOptions& options) {
  auto ua_key = crypto::PublicKey::from_bytes(sub.p256dh);
  if (!ua_key) return fail(SendErrc::encrypt, ua_key.error().message());
  PushRequest req;
  req.headers = {fmt::format("TTL: {}", options.ttl), "Content-Type: application/octet-stream"};
  if (options.encoding != "none") {  // "none": a push without data, as RFC 8030 allows
    if (auto ok = add_encrypted_body(req, payload, *ua_key, sub, options.encoding); !ok)
      return tl::unexpected(ok.error());
  }
  if (!options.urgency.empty()) req.headers.push_back("Urgency: " + options.urgency);
  if (!options.topic.empty()) req.headers.push_back("Topic: " + options.topic);
  if (options.vapid != nullptr) {
    if (auto ok = add_vapid(req, sub, options); !ok) return tl::unexpected(ok.error());
  }
  if (!req.crypto_key.empty()) req.headers.push_back("Crypto-Key: " + req.crypto_key);
  return req;
}

}  // namespace

struct Sender::Impl {
  CURL* curl = nullptr;
  std::string body;
  std::string location;
  std::string ttl;

  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) {
    auto* impl = static_cast<Impl*>(self);
    impl->body.append(data, size * n);
    return size * n;
  }
  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) {
    auto* impl = static_cast<Impl*>(self);
    std::string_view line(data, size * n);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
      }
      if (name == "location") impl->location = value;
      if (name == "ttl") impl->ttl = value;
    }
    return size * n;
  }

  void set_request(const std::string& url, const PushRequest& req, curl_slist* list, long timeout_ms) {
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, reinterpret_cast<const char*>(req.body.data()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Impl::on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Impl::on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "webpushd-send");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  }

  Result<SendResponse> post(const std::string& url, const PushRequest& req, long timeout_ms) {
    curl_slist* list = nullptr;
    for (const auto& h : req.headers) list = curl_slist_append(list, h.c_str());
    list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
    body.clear();
    location.clear();
    ttl.clear();
    set_request(url, req, list, timeout_ms);
    const auto start = std::chrono::steady_clock::now();
    const CURLcode rc = curl_easy_perform(curl);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    curl_slist_free_all(list);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
    if (rc != CURLE_OK) return fail(SendErrc::http, fmt::format("POST {} failed: {}", url, curl_easy_strerror(rc)));
    SendResponse r;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    r.location = location;
    r.ttl = ttl;
    r.body = body;
    r.seconds = seconds;
    return r;
  }
};

Sender::Sender() : impl_(std::make_unique<Impl>()) {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)initialised;
  impl_->curl = curl_easy_init();
}

Sender::~Sender() {
  if (impl_->curl != nullptr) curl_easy_cleanup(impl_->curl);
}

Result<SendResponse> Sender::send(const PushSubscription& sub, ByteView payload, const SendOptions& options) {
  if (impl_->curl == nullptr) return fail(SendErrc::http, "libcurl could not be initialised");
  auto req = build_request(sub, payload, options);
  if (!req) return tl::unexpected(req.error());
  return impl_->post(sub.endpoint, *req, options.timeout_ms);
}

}  // namespace webpush::cli
