// The daemon's control socket under hostile clients, the watch stream, and
// `webpushd demo` end to end.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/daemon_process.h"
#include "support/service_process.h"
#include "support/support.h"

namespace webpush::testing {
namespace {

using nlohmann::json;

// A raw client of the control socket: lines out, lines in, with deadlines.
class ControlConn {
 public:
  explicit ControlConn(const std::filesystem::path& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw SupportError("cannot connect to " + path.string() + ": " + std::strerror(errno));
    }
  }
  ~ControlConn() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send_raw(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the daemon may hang up on an oversized line
      off += static_cast<std::size_t>(n);
    }
  }
  /// The next line, or "" on EOF; throws on timeout.
  std::string line(Millis timeout = kDefaultTimeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (const auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(remaining(deadline).count())) <= 0) throw SupportError("no reply in time");
      char b[4096];
      const ssize_t n = ::read(fd_, b, sizeof b);
      if (n <= 0) return "";
      buf_.append(b, static_cast<std::size_t>(n));
    }
  }
  json request(const std::string& line_text) {
    send_raw(line_text + "\n");
    return json::parse(line());
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

class ControlTest : public ::testing::Test {
 protected:
  TempDir tmp{"webpushd-control"};
  ServiceProcess service{{.state_dir = tmp.path() / "svc"}};
  DaemonProcess daemon{{.state_dir = tmp.path() / "ua", .server = service.ws_url()}};
  std::filesystem::path sock = tmp.path() / "ua" / "control.sock";

  void SetUp() override { daemon.wait_log("connected to"); }
};

TEST_F(ControlTest, SocketIsPrivate) {
  struct stat st {};
  ASSERT_EQ(stat(sock.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ControlTest, MalformedAndUnknownRequestsGetErrorsAndTheConnectionStays) {
  ControlConn c(sock);
  const struct {
    const char* line;
    const char* error_part;
  } rows[] = {
      {"{bad json", "not a JSON object"},
      {"[1,2,3]", "not a JSON object"},
      {R"({"command":"status"})", "no \"cmd\""},
      {R"({"cmd":42})", "no \"cmd\""},
      {R"({"cmd":"reboot"})", "unknown command 'reboot'"},
      {R"({"cmd":"subscribe"})", "needs a \"name\""},
      {R"({"cmd":"subscribe","name":"x","vapid_key":"!!"})", "not base64url"},
      {R"({"cmd":"subscribe","name":"y","vapid_key":"AAAA"})", "not a P-256 public key"},
      {R"({"cmd":"unsubscribe","name":"nobody"})", "no subscription named 'nobody'"},
      {R"({"cmd":"unsubscribe"})", "needs a \"name\" or an \"id\""},
  };
  for (const auto& row : rows) {
    const json reply = c.request(row.line);
    EXPECT_FALSE(reply.value("ok", true)) << row.line;
    EXPECT_NE(reply.value("error", "").find(row.error_part), std::string::npos) << row.line << " → " << reply.dump();
  }
  // Still the same connection, still answering.
  const json status = c.request(R"({"cmd":"status"})");
  EXPECT_TRUE(status.value("ok", false));
  EXPECT_TRUE(status["status"].value("connected", false));
}

TEST_F(ControlTest, OversizedLineGetsAnErrorThenTheConnectionCloses) {
  ControlConn c(sock);
  c.send_raw(std::string(70 * 1024, 'x'));
  const json reply = json::parse(c.line());
  EXPECT_FALSE(reply.value("ok", true));
  EXPECT_NE(reply.value("error", "").find("longer than 65536"), std::string::npos) << reply.dump();
  EXPECT_EQ(c.line(), "");  // closed
  ControlConn again(sock);  // the daemon is unharmed
  EXPECT_TRUE(again.request(R"({"cmd":"status"})").value("ok", false));
}

TEST_F(ControlTest, SubscribeListWatchAndUnsubscribe) {
  ControlConn c(sock);
  const json sub = c.request(R"({"cmd":"subscribe","name":"phone"})");
  ASSERT_TRUE(sub.value("ok", false)) << sub.dump();
  EXPECT_EQ(sub["name"], "phone");
  EXPECT_TRUE(sub["subscription"]["keys"].contains("p256dh"));
  const json dup = c.request(R"({"cmd":"subscribe","name":"phone"})");
  EXPECT_FALSE(dup.value("ok", true));
  EXPECT_NE(dup.value("error", "").find("already exists"), std::string::npos);

  const json list = c.request(R"({"cmd":"list"})");
  ASSERT_EQ(list["subscriptions"].size(), 1u);
  EXPECT_FALSE(list["subscriptions"][0].contains("private_key"));

  ControlConn watcher(sock);
  ASSERT_TRUE(watcher.request(R"({"cmd":"watch"})").value("ok", false));
  std::string output;
  std::ofstream(tmp.path() / "sub.json") << sub["subscription"].dump();
  ASSERT_EQ(ServiceProcess::run_once({"send", (tmp.path() / "sub.json").string(), "--payload", "watched"}, output), 0)
      << output;
  const json event = json::parse(watcher.line());
  EXPECT_EQ(event["event"]["type"], "message");
  EXPECT_EQ(event["event"]["payload"], "watched");

  EXPECT_TRUE(c.request(R"({"cmd":"unsubscribe","name":"phone"})").value("ok", false));
  EXPECT_EQ(c.request(R"({"cmd":"list"})")["subscriptions"].size(), 0u);
}

TEST_F(ControlTest, WatcherThatDisconnectsMidStreamDoesNotDisturbTheDaemon) {
  ControlConn c(sock);
  const json sub = c.request(R"({"cmd":"subscribe","name":"tv"})");
  ASSERT_TRUE(sub.value("ok", false));
  std::ofstream(tmp.path() / "sub.json") << sub["subscription"].dump();
  {
    ControlConn watcher(sock);
    ASSERT_TRUE(watcher.request(R"({"cmd":"watch"})").value("ok", false));
    watcher.close();  // gone before any event
  }
  std::string output;
  ASSERT_EQ(ServiceProcess::run_once({"send", (tmp.path() / "sub.json").string(), "--count", "20"}, output), 0)
      << output;
  for (int i = 1; i <= 20; ++i) {
    daemon.wait_event([](const json& j) { return j.value("type", "") == "message"; });
  }
  EXPECT_TRUE(c.request(R"({"cmd":"status"})")["status"].value("connected", false));
  EXPECT_EQ(daemon.stop(), 0);
}

TEST(Demo, RunsTheWholeLoopAndCleansUp) {
  TempDir tmp{"webpushd-demo-test"};
  std::string output;
  const std::string env_tmp = tmp.path().string();
  setenv("TMPDIR", env_tmp.c_str(), 1);
  const int rc = ServiceProcess::run_once({"demo", "--message", "demo test message"}, output, Millis(60000));
  unsetenv("TMPDIR");
  ASSERT_EQ(rc, 0) << output;
  EXPECT_NE(output.find("[7/7] stop and clean up"), std::string::npos) << output;
  EXPECT_NE(output.find("received: \"demo test message\""), std::string::npos) << output;
  EXPECT_NE(output.find("end-to-end latency"), std::string::npos) << output;
  // Nothing left behind in its temporary directory.
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path())) << output;
}

}  // namespace
}  // namespace webpush::testing
