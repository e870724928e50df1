#include "webpush/conformance/http_probe.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace webpush::conformance {

namespace {

constexpr std::size_t kMaxBody = 64 * 1024;
constexpr std::size_t kMaxHeaders = 64 * 1024;  // libcurl 7.88 has no limit of its own

struct SlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* answer = static_cast<HttpAnswer*>(user);
  const std::size_t len = size * n;
  answer->body.append(data, std::min(len, kMaxBody - std::min(kMaxBody, answer->body.size())));
  return len;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* answer = static_cast<HttpAnswer*>(user);
  const std::string_view line(data, size * n);
  answer->header_bytes += line.size();
  if (answer->header_bytes > kMaxHeaders) return 0;  // curl then fails the request
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) {
    if (line.rfind("HTTP/", 0) == 0) answer->headers.clear();  // a new response (after 100 Continue)
    return size * n;
  }
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  answer->headers[name] = std::string(value);
  return size * n;
}

// Whether `headers` has a line for `name_colon` ("Name:"), in any case.
bool has_header(const std::vector<std::string>& headers, std::string_view name_colon) {
  return std::any_of(headers.begin(), headers.end(), [&](const std::string& h) {
    return h.size() >= name_colon.size() &&
           std::equal(name_colon.begin(), name_colon.end(), h.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
           });
  });
}

}  // namespace

std::string HttpAnswer::header(std::string_view lower_name) const {
  const auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? std::string() : it->second;
}

std::string HttpAnswer::describe() const {
  const auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("errno") && parsed["errno"].is_number_integer()) {
    return fmt::format("{} errno {}", status, parsed["errno"].get<long long>());
  }
  return std::to_string(status);
}

struct HttpProbe::Impl {
  CURL* curl = nullptr;
  std::string ca_file;
  Millis timeout;
  ~Impl() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

HttpProbe::HttpProbe(std::string ca_file, Millis timeout) : impl_(std::make_unique<Impl>()) {
  impl_->curl = curl_easy_init();
  impl_->ca_file = std::move(ca_file);
  impl_->timeout = timeout;
}

HttpProbe::~HttpProbe() = default;

Result<HttpAnswer> HttpProbe::request(std::string_view method, std::string_view url,
                                      const std::vector<std::string>& headers, ByteView body) {
  CURL* c = impl_->curl;
  if (c == nullptr) return fail(Errc::http, "libcurl could not start");
  curl_easy_reset(c);
  HttpAnswer answer;
  const std::string url_text(url);
  const std::string method_text(method);
  std::unique_ptr<curl_slist, SlistDeleter> list;
  for (const auto& h : headers) list.reset(curl_slist_append(list.release(), h.c_str()));
  // libcurl would add these on its own; a check decides every header itself.
  for (const char* h : {"Expect:", "Accept:", "Content-Type:"}) {
    if (!has_header(headers, h)) list.reset(curl_slist_append(list.release(), h));
  }
  curl_easy_setopt(c, CURLOPT_URL, url_text.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  if (method == "POST" || method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, reinterpret_cast<const char*>(body.data()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &answer);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(impl_->timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "webpushd-check-service");
  if (!impl_->ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, impl_->ca_file.c_str());
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) return fail(Errc::http, fmt::format("{} {}: {}", method, url, curl_easy_strerror(rc)));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

}  // namespace webpush::conformance
