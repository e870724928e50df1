// common.h: proxy_for (--proxy, https_proxy / all_proxy, no_proxy) and the state
// directory (XDG_STATE_HOME, HOME, --state-dir).
#include "common.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "scoped_env.h"

namespace webpush::cli {
namespace {

// Every variable proxy_for reads, unset unless a row sets it.
constexpr const char* kProxyVariables[] = {"https_proxy", "HTTPS_PROXY", "all_proxy",
                                           "ALL_PROXY",   "no_proxy",    "NO_PROXY"};

struct ProxyRow {
  const char* what;
  const char* server;
  const char* flag;
  std::vector<std::pair<const char*, const char*>> env;
  const char* expected;
};

TEST(ProxyFor, Table) {
  const char* const kServer = "wss://push.example.com/";
  const std::vector<ProxyRow> rows = {
      {"nothing set", kServer, "", {}, ""},
      // --proxy
      {"flag", kServer, "proxy.example.com:3128", {}, "proxy.example.com:3128"},
      {"flag as URL", kServer, "http://proxy.example.com:3128/", {}, "proxy.example.com:3128"},
      {"flag with user", kServer, "http://user:secret@proxy:3128", {}, "proxy:3128"},
      {"flag wins over env", kServer, "flag:1", {{"https_proxy", "env:2"}}, "flag:1"},
      {"flag ignores no_proxy", kServer, "flag:1", {{"no_proxy", "*"}}, "flag:1"},
      // the environment, in order of precedence
      {"https_proxy", kServer, "", {{"https_proxy", "http://a:1/"}}, "a:1"},
      {"HTTPS_PROXY", kServer, "", {{"HTTPS_PROXY", "http://b:2"}}, "b:2"},
      {"all_proxy", kServer, "", {{"all_proxy", "c:3"}}, "c:3"},
      {"ALL_PROXY", kServer, "", {{"ALL_PROXY", "http://d:4"}}, "d:4"},
      {"lower case first", kServer, "", {{"https_proxy", "a:1"}, {"HTTPS_PROXY", "b:2"}}, "a:1"},
      {"https before all", kServer, "", {{"all_proxy", "c:3"}, {"HTTPS_PROXY", "b:2"}}, "b:2"},
      {"empty counts as unset", kServer, "", {{"https_proxy", ""}, {"all_proxy", "c:3"}}, "c:3"},
      {"for ws:// too", "ws://push.example.com:8080/", "", {{"https_proxy", "a:1"}}, "a:1"},
      // no_proxy
      {"no_proxy host", kServer, "", {{"https_proxy", "a:1"}, {"no_proxy", "push.example.com"}}, ""},
      {"no_proxy domain", kServer, "", {{"https_proxy", "a:1"}, {"no_proxy", "example.com"}}, ""},
      {"no_proxy .domain", kServer, "", {{"https_proxy", "a:1"}, {"no_proxy", ".example.com"}}, ""},
      {"no_proxy star", kServer, "", {{"https_proxy", "a:1"}, {"no_proxy", "*"}}, ""},
      {"no_proxy list", kServer, "", {{"https_proxy", "a:1"}, {"no_proxy", "localhost, other.org ,example.com"}}, ""},
      {"NO_PROXY", kServer, "", {{"https_proxy", "a:1"}, {"NO_PROXY", "example.com"}}, ""},
      {"no_proxy before NO_PROXY",
       kServer,
       "",
       {{"https_proxy", "a:1"}, {"no_proxy", "x.org"}, {"NO_PROXY", "*"}},
       "a:1"},
      {"no_proxy suffix is not a domain", kServer, "", {{"https_proxy", "a:1"}, {"no_proxy", "ample.com"}}, "a:1"},
      {"no_proxy subdomain only", kServer, "", {{"https_proxy", "a:1"}, {"no_proxy", "sub.push.example.com"}}, "a:1"},
      {"no_proxy empty items", kServer, "", {{"https_proxy", "a:1"}, {"no_proxy", ",, ,"}}, "a:1"},
      {"no_proxy with a port does not match",
       kServer,
       "",
       {{"https_proxy", "a:1"}, {"no_proxy", "push.example.com:443"}},
       "a:1"},
      // never for loopback, nor for what is not a URL
      {"localhost", "ws://localhost:8080/", "flag:1", {{"https_proxy", "a:1"}}, ""},
      {"127.0.0.1", "wss://127.0.0.1/", "flag:1", {{"https_proxy", "a:1"}}, ""},
      {"127.1.2.3", "wss://127.1.2.3:9/", "", {{"https_proxy", "a:1"}}, ""},
      {"::1", "wss://[::1]:8443/", "flag:1", {{"https_proxy", "a:1"}}, ""},
      {"not a URL", "push.example.com", "flag:1", {{"https_proxy", "a:1"}}, ""},
  };
  for (const auto& row : rows) {
    test::ScopedEnv env;
    for (const char* name : kProxyVariables) env.set(name, std::nullopt);
    for (const auto& [name, value] : row.env) env.set(name, std::string(value));
    EXPECT_EQ(proxy_for(row.server, row.flag), row.expected) << row.what;
  }
}

// Host names are case-insensitive and parse_url lower-cases the server's host,
// so no_proxy should match whatever its case (curl compares without case).
TEST(ProxyFor, NoProxyIgnoresCase) {
  test::ScopedEnv env;
  for (const char* name : kProxyVariables) env.set(name, std::nullopt);
  env.set("https_proxy", std::string("a:1"));
  env.set("no_proxy", std::string("Example.COM"));
  EXPECT_EQ(proxy_for("wss://push.example.com/", ""), "");
}

// Only HTTP CONNECT proxies are spoken to; a SOCKS one in all_proxy is ignored
// (with a warning) rather than spoken to in the wrong protocol.
TEST(ProxyFor, ASocksProxyIsNotUsedAsAnHttpProxy) {
  struct Row {
    const char* all_proxy;
    const char* expected;
  };
  for (const Row& row : {Row{"socks5://127.0.0.2:1080", ""}, Row{"SOCKS://h:1", ""}, Row{"http://p:3128", "p:3128"},
                         Row{"HTTPS://p:443/", "p:443"}, Row{"p:8080", "p:8080"}}) {
    test::ScopedEnv env;
    for (const char* name : kProxyVariables) env.set(name, std::nullopt);
    env.set("all_proxy", std::string(row.all_proxy));
    EXPECT_EQ(proxy_for("wss://push.example.com/", ""), row.expected) << row.all_proxy;
  }
}

TEST(StateDir, DefaultFollowsXdgStateHomeThenHome) {
  struct Row {
    std::optional<std::string> xdg;
    std::optional<std::string> home;
    const char* expected;
  };
  const std::vector<Row> rows = {
      {"/xdg/state", "/home/me", "/xdg/state/webpushd"},
      {std::nullopt, "/home/me", "/home/me/.local/state/webpushd"},
      {"", "/home/me", "/home/me/.local/state/webpushd"},
      {"state", "/home/me", "/home/me/.local/state/webpushd"},  // relative: ignored, as the spec says
      {std::nullopt, std::nullopt, "/tmp/.local/state/webpushd"},
      {std::nullopt, "", "/tmp/.local/state/webpushd"},
  };
  for (const auto& row : rows) {
    test::ScopedEnv env;
    env.set("XDG_STATE_HOME", row.xdg);
    env.set("HOME", row.home);
    const std::string what = "XDG_STATE_HOME=" + row.xdg.value_or("(unset)") + " HOME=" + row.home.value_or("(unset)");
    EXPECT_EQ(default_state_dir(), std::filesystem::path(row.expected)) << what;
    EXPECT_EQ(state_dir(GlobalOptions{}), std::filesystem::path(row.expected)) << what;
  }
}

TEST(StateDir, TheOptionWins) {
  test::ScopedEnv env("XDG_STATE_HOME", std::string("/xdg/state"));
  GlobalOptions g;
  g.state_dir = "/var/lib/webpushd";
  EXPECT_EQ(state_dir(g), std::filesystem::path("/var/lib/webpushd"));
  g.state_dir = "relative/dir";
  EXPECT_EQ(state_dir(g), std::filesystem::path("relative/dir"));
}

TEST(PrintError, PrefixesTheProgramName) {
  ::testing::internal::CaptureStderr();
  print_error("something went wrong");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "webpushd: something went wrong\n");
}

}  // namespace
}  // namespace webpush::cli
