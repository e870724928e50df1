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
#include "webpush/load/curl_ca.h"
#include "webpush/load/push_request.h"

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

using load::PushRequest;

Result<PushRequest> build_request(const PushSubscription& sub, ByteView payload, const SendOptions& options) {
  auto req = load::build_push_request({sub.endpoint, sub.p256dh, sub.auth}, payload, options.push,
                                      static_cast<std::int64_t>(std::time(nullptr)));
  if (!req) return fail(SendErrc::encrypt, req.error().message());
  return req;
}

}  // namespace

struct Sender::Impl {
  CURL* curl = nullptr;
  std::string body;
  std::string location;
  std::string ttl;
  std::string ca_file;  // CURLOPT_SSL_CTX_DATA points here

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
    if (!ca_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, &load::add_ca_file);
      curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, &ca_file);
    }
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
  impl_->ca_file = options.ca_file;
  return impl_->post(sub.endpoint, *req, options.timeout_ms);
}

}  // namespace webpush::cli
