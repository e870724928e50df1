#include "webpush/daemon/service_manager.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "webpush/event/errc.h"
#include "webpush/event/unique_fd.h"

namespace webpush::daemon {

Result<void> notify_service_manager(std::string_view state) {
  const char* socket_name = std::getenv("NOTIFY_SOCKET");
  if (socket_name == nullptr || *socket_name == '\0') return {};
  return notify_service_manager(socket_name, state);
}

Result<void> notify_service_manager(std::string_view socket_name, std::string_view state) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // A path, or "@name": a name in the abstract namespace (a leading NUL byte instead of '@').
  const bool valid = (socket_name.starts_with('/') || socket_name.starts_with('@')) && socket_name.size() >= 2 &&
                     socket_name.size() < sizeof(address.sun_path);
  if (!valid)
    return fail(event::Errc::io, fmt::format("NOTIFY_SOCKET '{}' is not a socket path or @name", socket_name));
  std::memcpy(address.sun_path, socket_name.data(), socket_name.size());
  if (address.sun_path[0] == '@') address.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_name.size());

  event::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(event::Errc::io, fmt::format("sd_notify: socket: {}", std::strerror(errno)));
  const ssize_t sent =
      ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address), length);
  if (sent < 0) {
    return fail(event::Errc::io, fmt::format("sd_notify: cannot send to {}: {}", socket_name, std::strerror(errno)));
  }
  return {};
}

}  // namespace webpush::daemon
