#include "control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "webpush/daemon/control.h"

namespace webpush::cli {

std::string_view to_string(ControlErrc e) noexcept {
  switch (e) {
    case ControlErrc::io: return "io";
    case ControlErrc::refused: return "refused";
  }
  return "unknown";
}

std::optional<ControlClient> ControlClient::connect(const std::filesystem::path& state_dir) {
  const std::string path = daemon::control_socket_path(state_dir).string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return std::nullopt;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return std::nullopt;  // no socket, or a stale one: no daemon
  }
  return ControlClient(fd);
}

ControlClient::~ControlClient() {
  if (fd_ >= 0) ::close(fd_);
}

Result<nlohmann::ordered_json> ControlClient::request(const nlohmann::json& request,
                                                      std::chrono::milliseconds timeout) {
  const std::string line = request.dump() + "\n";
  std::size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EINTR) return fail(ControlErrc::io, fmt::format("control socket: {}", std::strerror(errno)));
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
      const std::string reply = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      auto j = nlohmann::ordered_json::parse(reply, nullptr, false);
      if (j.is_discarded() || !j.is_object()) return fail(ControlErrc::io, "the daemon sent a malformed reply");
      if (!j.value("ok", false)) return fail(ControlErrc::refused, j.value("error", std::string("request refused")));
      return j;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail(ControlErrc::io, "the daemon did not answer in time");
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n == 0) return fail(ControlErrc::io, "the daemon closed the control connection");
    if (n < 0 && errno != EINTR && errno != EAGAIN) {
      return fail(ControlErrc::io, fmt::format("control socket: {}", std::strerror(errno)));
    }
    if (n > 0) buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace webpush::cli
