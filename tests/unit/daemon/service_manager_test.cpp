// The readiness protocol spoken without libsystemd: what a service manager
// listening on $NOTIFY_SOCKET receives, for a path and for an abstract name.
#include "webpush/daemon/service_manager.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace webpush::daemon {
namespace {

// A datagram socket standing in for systemd's notification socket.
class FakeManager {
 public:
  explicit FakeManager(const std::string& name) : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    if (a.sun_path[0] == '@') a.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&a), len) == 0;
  }
  ~FakeManager() { ::close(fd_); }
  [[nodiscard]] bool bound() const { return bound_; }
  // The next datagram; the sender has returned, so it is queued already (no wait).
  [[nodiscard]] std::string received() const {
    char buf[256];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    return n < 0 ? std::string("(nothing)") : std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  int fd_;
  bool bound_ = false;
};

std::string socket_path() {
  return (std::filesystem::temp_directory_path() / ("webpushd-notify-" + std::to_string(::getpid()))).string();
}

TEST(ServiceManager, SendsTheStateToASocketPath) {
  const std::string path = socket_path();
  std::filesystem::remove(path);
  FakeManager manager(path);
  ASSERT_TRUE(manager.bound());
  ASSERT_TRUE(notify_service_manager(path, "READY=1").has_value());
  EXPECT_EQ(manager.received(), "READY=1");
  ASSERT_TRUE(notify_service_manager(path, "STATUS=connected\nSTOPPING=1").has_value());
  EXPECT_EQ(manager.received(), "STATUS=connected\nSTOPPING=1");
  std::filesystem::remove(path);
}

TEST(ServiceManager, SendsToAnAbstractName) {
  const std::string name = "@webpushd-notify-test-" + std::to_string(::getpid());
  FakeManager manager(name);
  ASSERT_TRUE(manager.bound());
  ASSERT_TRUE(notify_service_manager(name, "READY=1").has_value());
  EXPECT_EQ(manager.received(), "READY=1");
}

TEST(ServiceManager, ReadsNotifySocketFromTheEnvironment) {
  const std::string path = socket_path();
  std::filesystem::remove(path);
  FakeManager manager(path);
  ASSERT_TRUE(manager.bound());
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  EXPECT_TRUE(notify_service_manager("READY=1").has_value());
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(manager.received(), "READY=1");
  EXPECT_TRUE(notify_service_manager("READY=1").has_value()) << "no service manager: nothing to do";
  std::filesystem::remove(path);
}

TEST(ServiceManager, RefusesWhatIsNotASocketName) {
  for (const char* bad : {"relative/path", "@", "/", ""}) {
    auto sent = notify_service_manager(bad, "READY=1");
    ASSERT_FALSE(sent.has_value()) << bad;
    EXPECT_NE(sent.error().message().find("NOTIFY_SOCKET"), std::string::npos);
  }
  EXPECT_FALSE(notify_service_manager(std::string(200, '/'), "READY=1").has_value()) << "longer than sun_path";
}

TEST(ServiceManager, SaysWhyWhenNobodyListens) {
  const std::string path = socket_path() + "-absent";
  auto sent = notify_service_manager(path, "READY=1");
  ASSERT_FALSE(sent.has_value());
  EXPECT_NE(sent.error().message().find(path), std::string::npos) << sent.error().message();
}

}  // namespace
}  // namespace webpush::daemon
