// What the long-running process maps: `webpushd run` becomes the daemon program
// webpushd-run (same pid), which links neither libcurl nor libsystemd, maps
// libnotify and GLib only when a notify sink is configured, and libprotobuf-lite
// (the FCM module) only when FCM runs (tests/integration/fcm/daemon_fcm_test.py). The figures
// themselves come from tests/bench/footprint.sh; this keeps the structure that
// makes them possible from regressing.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "support/daemon_process.h"
#include "support/service_process.h"
#include "support/support.h"

namespace webpush::testing {
namespace {

std::filesystem::path program_of(pid_t pid) {
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe");
}

// The file names of the shared libraries a process maps ("libc.so.6", …).
std::set<std::string> libraries_of(pid_t pid) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::set<std::string> out;
  for (std::string line; std::getline(maps, line);) {
    const auto slash = line.rfind('/');
    if (slash != std::string::npos && line.find(".so", slash) != std::string::npos) out.insert(line.substr(slash + 1));
  }
  return out;
}

bool maps_library(const std::set<std::string>& libs, const std::string& prefix) {
  for (const auto& l : libs) {
    if (l.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

class Footprint : public ::testing::Test {
 protected:
  TempDir tmp{"webpushd-footprint"};
  ServiceProcess service{{.state_dir = tmp.path() / "svc"}};
};

TEST_F(Footprint, RunBecomesTheDaemonProgramWithoutCurlSystemdOrGlib) {
  DaemonProcess daemon(
      {.state_dir = tmp.path() / "ua", .server = service.ws_url(), .extra_args = {"--no-notify", "--no-unifiedpush"}});
  daemon.wait_log("connected to");
  EXPECT_EQ(program_of(daemon.pid()).filename(), "webpushd-run") << "same pid, the lean program";
  const auto libs = libraries_of(daemon.pid());
  ASSERT_TRUE(maps_library(libs, "libcrypto.so")) << "the map was read";
  ASSERT_TRUE(maps_library(libs, "libwebsockets.so"));
  for (const char* absent : {"libcurl", "libsystemd", "libglib-2.0", "libgio-2.0", "libnotify", "libgnutls", "libldap",
                             "libkrb5", "libprotobuf", "webpushd-notify", "webpushd-unifiedpush", "webpushd-fcm"}) {
    EXPECT_FALSE(maps_library(libs, absent)) << absent << " is mapped into the idle daemon";
  }
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(Footprint, TheNotifyModuleIsLoadedOnlyWhenANotifySinkIsConfigured) {
  // No session bus: the sink cannot start, but the module (and GLib) were loaded to try.
  DaemonProcess daemon({.state_dir = tmp.path() / "ua",
                        .server = service.ws_url(),
                        .env = {"DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/webpushd-test-bus"}});
  daemon.wait_log("connected to");
  const auto libs = libraries_of(daemon.pid());
  if (!maps_library(libs, "webpushd-notify")) {
    GTEST_SKIP() << "this build has no notify sink (-Dnotify=disabled or no libnotify)";
  }
  EXPECT_TRUE(maps_library(libs, "libglib-2.0"));
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(Footprint, TheUnifiedPushModuleIsLoadedOnlyWhenTheDistributorStarts) {
  // A session bus address that leads nowhere: the distributor tries (module and GLib loaded) and is unavailable.
  DaemonProcess daemon({.state_dir = tmp.path() / "ua",
                        .server = service.ws_url(),
                        .extra_args = {"--no-notify"},
                        .env = {"DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/webpushd-test-bus"}});
  daemon.wait_log("connected to");
  const auto libs = libraries_of(daemon.pid());
  if (!maps_library(libs, "webpushd-unifiedpush")) {
    GTEST_SKIP() << "this build has no UnifiedPush distributor (-Dunifiedpush=disabled or no gio-2.0)";
  }
  EXPECT_TRUE(maps_library(libs, "libgio-2.0"));
  EXPECT_FALSE(maps_library(libs, "webpushd-notify"));
  // The bus connection fails asynchronously: before or after the push service connected.
  const std::string bus_failed = "unifiedpush: cannot connect to the session bus";
  if (daemon.log().find(bus_failed) == std::string::npos) daemon.wait_log(bus_failed);
  EXPECT_NE(daemon.log().find(bus_failed), std::string::npos) << daemon.log();
  EXPECT_EQ(daemon.stop(), 0);
}

TEST_F(Footprint, WithoutTheDaemonProgramRunStillWorksInProcess) {
  // webpushd alone in a directory: no webpushd-run beside it or in ../libexec.
  const auto alone = tmp.path() / "bin" / "webpushd";
  std::filesystem::create_directories(alone.parent_path());
  std::filesystem::copy_file(ServiceProcess::binary(), alone);
  const std::string real = ServiceProcess::binary();
  ::setenv("WEBPUSHD", alone.c_str(), 1);
  DaemonProcess daemon({.state_dir = tmp.path() / "ua", .server = service.ws_url(), .extra_args = {"--no-notify"}});
  ::setenv("WEBPUSHD", real.c_str(), 1);
  daemon.wait_log("connected to");
  const auto program = program_of(daemon.pid());
  if (program.filename() == "webpushd-run") GTEST_SKIP() << "an installed " << program << " was found";
  EXPECT_EQ(program, alone);
  EXPECT_EQ(daemon.stop(), 0);
}

}  // namespace
}  // namespace webpush::testing
