#include "webpush/load/http_sender.h"

#include "webpush/event/trace.h"
#include "webpush/load/curl_ca.h"

#include <chrono>
#include <cmath>
#include <ctime>

#include <strings.h>

#include <curl/curl.h>
#include <fmt/format.h>

namespace webpush::load {

std::int64_t monotonic_us() noexcept {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Targets::set(std::size_t index, PushTarget target) {
  const std::lock_guard lock(mutex_);
  if (index < targets_.size()) targets_[index] = std::move(target);
}

PushTarget Targets::get(std::size_t index) const {
  const std::lock_guard lock(mutex_);
  return index < targets_.size() ? targets_[index] : PushTarget{};
}

namespace detail {

// One POST on one easy handle; the handle is reused, so curl keeps its connection.
struct Request {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  Bytes body;
  std::int64_t seq = -1;
  std::int64_t started_us = 0;
  std::string location;  // with --trace: the message's URL names its id
};

}  // namespace detail

using detail::Request;

namespace {

std::size_t discard_body(char* /*data*/, std::size_t size, std::size_t n, void* /*self*/) { return size * n; }

std::size_t keep_location(char* data, std::size_t size, std::size_t n, void* self) {
  const std::string_view line(data, size * n);
  constexpr std::string_view kName = "location:";
  if (line.size() > kName.size() && strncasecmp(line.data(), kName.data(), kName.size()) == 0) {
    auto value = line.substr(kName.size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.remove_suffix(1);
    static_cast<Request*>(self)->location = value;
  }
  return size * n;
}

// The last path segment of a Location URL: the service's message id.
std::string_view message_id(std::string_view location) {
  const auto slash = location.rfind('/');
  return slash == std::string_view::npos ? location : location.substr(slash + 1);
}

}  // namespace

struct HttpSender::Engine {
  CURLM* multi = nullptr;
  std::vector<std::unique_ptr<Request>> requests;  // one per connection
  std::vector<Request*> idle;
  std::int64_t next_seq = 0;
  std::int64_t in_flight = 0;

  ~Engine() {
    for (auto& r : requests) {
      if (multi != nullptr && r->seq >= 0) curl_multi_remove_handle(multi, r->easy);
      curl_slist_free_all(r->headers);
      curl_easy_cleanup(r->easy);
    }
    if (multi != nullptr) curl_multi_cleanup(multi);
  }
};

HttpSender::HttpSender(SenderConfig config, Ledger& ledger, Targets& targets, Schedule schedule)
    : config_(std::move(config)), ledger_(&ledger), targets_(&targets), schedule_(schedule) {}

HttpSender::~HttpSender() { stop(); }

Result<void> HttpSender::start() {
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!initialised) return fail(Errc::setup, "libcurl could not be initialised");
  engine_ = std::make_unique<Engine>();
  engine_->multi = curl_multi_init();
  if (engine_->multi == nullptr) return fail(Errc::setup, "libcurl: no multi handle");
  const auto pool = static_cast<long>(std::max(config_.connections, 1));
  curl_multi_setopt(engine_->multi, CURLMOPT_MAX_HOST_CONNECTIONS, pool);
  curl_multi_setopt(engine_->multi, CURLMOPT_MAXCONNECTS, pool);
  for (long i = 0; i < pool; ++i) {
    auto r = std::make_unique<Request>();
    r->easy = curl_easy_init();
    if (r->easy == nullptr) return fail(Errc::setup, "libcurl: no easy handle");
    engine_->idle.push_back(r.get());
    engine_->requests.push_back(std::move(r));
  }
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error& e) {
    return fail(Errc::setup, fmt::format("cannot start the sender thread: {}", e.what()));
  }
  return {};
}

void HttpSender::stop() {
  stopping_ = true;
  if (engine_ && engine_->multi != nullptr) curl_multi_wakeup(engine_->multi);
  if (thread_.joinable()) thread_.join();
}

namespace {

void prepare(CURL* easy, const std::string& url, Request& r, const SenderConfig& config) {
  curl_easy_reset(easy);
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, reinterpret_cast<const char*>(r.body.data()));
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, r.headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &discard_body);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, config.timeout_ms);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "webpushd-loadtest");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  // HTTP/1.1: --connections means connections (HTTP/2 would multiplex them onto one).
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(easy, CURLOPT_PRIVATE, &r);
  if (event::Trace::enabled()) {
    r.location.clear();
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &keep_location);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &r);
  }
  if (!config.ca_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, &add_ca_file);
    curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, &config.ca_file);
  }
}

}  // namespace

void HttpSender::run() noexcept {
  Engine& e = *engine_;
  const std::int64_t total = ledger_->messages();
  const auto subscriptions = static_cast<std::int64_t>(targets_->size());
  while (!stopping_) {
    const std::int64_t now = monotonic_us();
    const std::int64_t due = std::min(schedule_.due_count(now), total);
    while (e.next_seq < due && !e.idle.empty() && subscriptions > 0) post(e.next_seq++);
    int running = 0;
    curl_multi_perform(e.multi, &running);
    collect();
    if (e.next_seq >= total && e.in_flight == 0) break;
    int wait_ms = 100;
    if (e.next_seq < total && !e.idle.empty()) {
      const auto ahead = schedule_.due_us(e.next_seq) - monotonic_us();
      wait_ms = static_cast<int>(std::clamp<std::int64_t>((ahead + 999) / 1000, 0, 100));
    }
    if (wait_ms > 0) curl_multi_poll(e.multi, nullptr, 0, wait_ms, nullptr);
  }
  timespec cpu{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) {
    cpu_seconds_ = static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) / 1e9;
  }
  finished_at_us_ = monotonic_us();
  finished_ = true;
}

void HttpSender::count_failure(std::string reason) { ++failures_[std::move(reason)]; }

void HttpSender::post(std::int64_t seq) {
  Engine& e = *engine_;
  const auto index = static_cast<std::size_t>(seq % static_cast<std::int64_t>(targets_->size()));
  const PushTarget target = targets_->get(index);
  auto req =
      target.endpoint.empty()
          ? Result<PushRequest>(fail(Errc::encrypt, "the subscription is not registered"))
          : build_push_request(target, encode_payload({seq, static_cast<std::int64_t>(index)}, config_.payload_size),
                               config_.push, static_cast<std::int64_t>(std::time(nullptr)));
  if (!req) {
    count_failure("post: " + req.error().message());
    ledger_->answered(seq, false);
    refused_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Request& r = *e.idle.back();
  e.idle.pop_back();
  r.body = std::move(req->body);
  for (const auto& h : req->headers) r.headers = curl_slist_append(r.headers, h.c_str());
  r.headers = curl_slist_append(r.headers, "Expect:");  // no 100-continue round trip
  prepare(r.easy, target.endpoint, r, config_);
  r.seq = seq;
  r.started_us = monotonic_us();
  ledger_->posted(seq, r.started_us);
  if (event::Trace::enabled()) event::Trace::emit("post.sent", fmt::format("seq={}", seq));
  curl_multi_add_handle(e.multi, r.easy);
  ++e.in_flight;
  posted_.fetch_add(1, std::memory_order_relaxed);
}

void HttpSender::collect() {
  Engine& e = *engine_;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(e.multi, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Request* r = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &r);
    long status = 0;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    const bool ok = msg->data.result == CURLE_OK && status >= 200 && status < 300;
    if (ok) {
      post_latency_.record(monotonic_us() - r->started_us);
      accepted_.fetch_add(1, std::memory_order_relaxed);
    } else {
      count_failure(msg->data.result != CURLE_OK ? fmt::format("post: {}", curl_easy_strerror(msg->data.result))
                                                 : fmt::format("post: HTTP {}", status));
      refused_.fetch_add(1, std::memory_order_relaxed);
    }
    ledger_->answered(r->seq, ok);
    if (event::Trace::enabled()) {
      event::Trace::emit("post.answered",
                         fmt::format("seq={} status={} id={}", r->seq, status, message_id(r->location)));
    }
    curl_multi_remove_handle(e.multi, r->easy);
    curl_slist_free_all(r->headers);
    r->headers = nullptr;
    r->seq = -1;
    e.idle.push_back(r);
    --e.in_flight;
  }
}

}  // namespace webpush::load
