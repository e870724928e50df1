#include "resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include <fmt/format.h>

#include "webpush/transport/errc.h"

namespace webpush::transport::detail {

bool is_numeric_host(const std::string& host) {
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

// Shared by the loop side and the resolving thread; the thread writes the
// answer, then signals `fd` (which it co-owns, so it cannot be closed and reused
// under it).
struct Resolution::Shared {
  std::string host;
  event::UniqueFd fd;
  std::mutex mutex;
  Result<std::vector<std::string>> answer = fail(Errc::dns, "not resolved yet");
};

namespace {

std::optional<std::string> numeric_text(const addrinfo& ai) {
  char text[INET6_ADDRSTRLEN] = {};
  const void* addr = ai.ai_family == AF_INET6
                         ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(ai.ai_addr)->sin6_addr)
                         : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(ai.ai_addr)->sin_addr);
  if (inet_ntop(ai.ai_family, addr, text, sizeof text) == nullptr) return std::nullopt;
  return std::string(text);
}

Result<std::vector<std::string>> resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return fail(Errc::dns, fmt::format("cannot resolve {}: {}", host, rc != 0 ? gai_strerror(rc) : "no address"));
  }
  std::vector<std::string> addresses;
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    auto text = numeric_text(*ai);
    if (text && std::find(addresses.begin(), addresses.end(), *text) == addresses.end()) {
      addresses.push_back(std::move(*text));
    }
  }
  freeaddrinfo(res);
  if (addresses.empty()) return fail(Errc::dns, fmt::format("cannot resolve {}: unusable address", host));
  return addresses;
}

}  // namespace

Result<std::unique_ptr<Resolution>> Resolution::start(event::EventLoop& loop, std::string host, Callback done) {
  std::unique_ptr<Resolution> r(new Resolution());
  r->done_ = std::move(done);
  r->shared_ = std::make_shared<Shared>();
  r->shared_->host = std::move(host);
  r->shared_->fd.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!r->shared_->fd.valid()) return fail(Errc::setup, fmt::format("eventfd: {}", std::strerror(errno)));
  event::UniqueFd watched(dup(r->shared_->fd.get()));
  if (!watched.valid()) return fail(Errc::setup, fmt::format("dup: {}", std::strerror(errno)));
  Resolution* raw = r.get();
  auto watch = event::FdWatch::create(loop, std::move(watched), [raw] { raw->on_done(); });
  if (!watch) return tl::unexpected(watch.error());
  r->watch_ = std::move(*watch);
  try {
    std::thread([shared = r->shared_] {
      auto answer = resolve(shared->host);
      {
        const std::lock_guard lock(shared->mutex);
        shared->answer = std::move(answer);
      }
      const std::uint64_t one = 1;
      // An eventfd write of 1 cannot fail short of a counter overflow.
      [[maybe_unused]] const auto n = ::write(shared->fd.get(), &one, sizeof one);
    }).detach();
  } catch (const std::system_error& e) {
    return fail(Errc::setup, fmt::format("cannot start a resolver thread: {}", e.what()));
  }
  return r;
}

Resolution::~Resolution() = default;

void Resolution::on_done() {
  std::uint64_t n = 0;
  if (::read(watch_->fd(), &n, sizeof n) != sizeof n) return;
  Result<std::vector<std::string>> answer = fail(Errc::dns, "");
  {
    const std::lock_guard lock(shared_->mutex);
    answer = std::move(shared_->answer);
  }
  if (done_) done_(std::move(answer));
}

}  // namespace webpush::transport::detail
