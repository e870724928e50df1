// config.toml: parse_config (every key; errors naming the key and the line),
// load_config and default_config_path.
#include "config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "file_test.h"

#include "scoped_env.h"

namespace webpush::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kOrigin = "cfg.toml";

Config parse_ok(const std::string& text) {
  auto c = parse_config(text, kOrigin);
  EXPECT_TRUE(c) << text << "\n-> " << c.error();
  return c ? *c : Config{};
}

TEST(ParseConfig, AnEmptyFileSetsNothing) {
  for (const char* text : {"", "# only a comment\n", "\n\n", "[connection]\n[sinks]\n[retention]\n"}) {
    const Config c = parse_ok(text);
    EXPECT_FALSE(c.server || c.log_level || c.ping_interval || c.request_timeout || c.backoff_initial ||
                 c.backoff_max || c.insecure || c.ca_file || c.proxy || c.notify || c.jsonl || c.exec ||
                 c.exec_timeout || c.retention_max_age_days || c.retention_max_messages)
        << "'" << text << "'";
  }
}

TEST(ParseConfig, EveryKey) {
  const Config c = parse_ok(R"(
server = "wss://push.example.com/"
log_level = "debug"
[connection]
ping_interval = 300
request_timeout = 10.5
backoff_initial = 1
backoff_max = 300
insecure = true
ca_file = "/etc/ssl/extra.pem"
proxy = "proxy.example.com:3128"
[sinks]
notify = false
jsonl = "-"
exec = "/usr/local/bin/on-push --flag"
exec_timeout = 30
[retention]
max_age_days = 0.5
max_messages = 10000
)");
  EXPECT_EQ(c.server, "wss://push.example.com/");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.ping_interval, 300.0);
  EXPECT_EQ(c.request_timeout, 10.5);
  EXPECT_EQ(c.backoff_initial, 1.0);
  EXPECT_EQ(c.backoff_max, 300.0);
  EXPECT_EQ(c.insecure, true);
  EXPECT_EQ(c.ca_file, "/etc/ssl/extra.pem");
  EXPECT_EQ(c.proxy, "proxy.example.com:3128");
  EXPECT_EQ(c.notify, false);
  EXPECT_EQ(c.jsonl, "-");
  EXPECT_EQ(c.exec, "/usr/local/bin/on-push --flag");
  EXPECT_EQ(c.exec_timeout, 30.0);
  EXPECT_EQ(c.retention_max_age_days, 0.5);
  EXPECT_EQ(c.retention_max_messages, 10000);
}

// One key at a time: each sets its own field and nothing else.
struct KeyRow {
  const char* text;
  std::function<bool(const Config&)> check;
};

TEST(ParseConfig, EachKeyAlone) {
  const std::vector<KeyRow> rows = {
      {"server = 'ws://127.0.0.1:8080/'", [](const Config& c) { return c.server == "ws://127.0.0.1:8080/"; }},
      {"server = ''", [](const Config& c) { return c.server == ""; }},
      {"log_level = 'trace'", [](const Config& c) { return c.log_level == "trace"; }},
      {"log_level = 'info'", [](const Config& c) { return c.log_level == "info"; }},
      {"log_level = 'warn'", [](const Config& c) { return c.log_level == "warn"; }},
      {"log_level = 'error'", [](const Config& c) { return c.log_level == "error"; }},
      {"[connection]\nping_interval = 45", [](const Config& c) { return c.ping_interval == 45.0; }},
      {"[connection]\nping_interval = 1.5", [](const Config& c) { return c.ping_interval == 1.5; }},
      {"[connection]\nrequest_timeout = 1", [](const Config& c) { return c.request_timeout == 1.0; }},
      {"[connection]\nbackoff_initial = 0.1", [](const Config& c) { return c.backoff_initial == 0.1; }},
      {"[connection]\nbackoff_max = 3600", [](const Config& c) { return c.backoff_max == 3600.0; }},
      {"[connection]\ninsecure = false", [](const Config& c) { return c.insecure == false; }},
      {"[connection]\nca_file = '/x.pem'", [](const Config& c) { return c.ca_file == "/x.pem"; }},
      {"[connection]\nproxy = 'p:1'", [](const Config& c) { return c.proxy == "p:1"; }},
      {"[sinks]\nnotify = true", [](const Config& c) { return c.notify == true; }},
      {"[sinks]\njsonl = '/home/me/push.jsonl'", [](const Config& c) { return c.jsonl == "/home/me/push.jsonl"; }},
      {"[sinks]\nexec = 'cat'", [](const Config& c) { return c.exec == "cat"; }},
      {"[sinks]\nexec_timeout = 2.5", [](const Config& c) { return c.exec_timeout == 2.5; }},
      {"[retention]\nmax_age_days = 30", [](const Config& c) { return c.retention_max_age_days == 30.0; }},
      {"[retention]\nmax_messages = 1", [](const Config& c) { return c.retention_max_messages == 1; }},
      {"[retention]\nmax_messages = 1_000_000", [](const Config& c) { return c.retention_max_messages == 1000000; }},
      // Inline and dotted tables are the same tables.
      {"connection = { ping_interval = 60 }", [](const Config& c) { return c.ping_interval == 60.0; }},
      {"sinks.notify = false", [](const Config& c) { return c.notify == false; }},
  };
  for (const auto& row : rows) {
    const Config c = parse_ok(row.text);
    EXPECT_TRUE(row.check(c)) << row.text;
  }
}

TEST(ParseConfig, TheFcmSection) {
  const Config full = parse_ok(R"([fcm]
project_id = "p"
app_id = "1:2:web:3"
api_key = "k"
base_url = "https://fcm.example.com/base"
mcs = "mcs.example.com:443"
heartbeat_interval = 30
)");
  EXPECT_TRUE(full.fcm);
  EXPECT_EQ(full.fcm_project_id, "p");
  EXPECT_EQ(full.fcm_app_id, "1:2:web:3");
  EXPECT_EQ(full.fcm_api_key, "k");
  EXPECT_EQ(full.fcm_base_url, "https://fcm.example.com/base");
  EXPECT_EQ(full.fcm_mcs, "mcs.example.com:443");
  EXPECT_EQ(full.fcm_heartbeat_interval, 30.0);
  // An empty table turns FCM on with Google's defaults and no Firebase project.
  const Config empty = parse_ok("[fcm]\n");
  EXPECT_TRUE(empty.fcm);
  EXPECT_FALSE(empty.fcm_project_id || empty.fcm_base_url || empty.fcm_mcs || empty.fcm_heartbeat_interval);
  EXPECT_FALSE(parse_ok("").fcm);
  // http:// only to a loopback host.
  EXPECT_EQ(parse_ok("[fcm]\nbase_url = 'http://127.0.0.1:8080'").fcm_base_url, "http://127.0.0.1:8080");
  EXPECT_EQ(parse_ok("[fcm]\nbase_url = 'http://localhost/x'").fcm_base_url, "http://localhost/x");
  EXPECT_EQ(parse_ok("[fcm]\nbase_url = 'http://[::1]:80'").fcm_base_url, "http://[::1]:80");
}

TEST(ParseConfig, FcmErrorsAreOneLineNamingTheKey) {
  const std::vector<std::pair<const char*, const char*>> rows = {
      {"[fcm]\nproject_id = 'p'", "cfg.toml:1: [fcm] needs all of 'project_id', 'app_id' and 'api_key', or none"},
      {"[fcm]\nproject_id = 'p'\napp_id = 'a'",
       "cfg.toml:1: [fcm] needs all of 'project_id', 'app_id' and 'api_key', or none"},
      {"[fcm]\nbase_url = 'http://fcm.example.com'",
       "cfg.toml:2: 'fcm.base_url' must be an https:// URL (http:// only to a loopback host)"},
      {"[fcm]\nbase_url = 'http://127.example.com'",
       "cfg.toml:2: 'fcm.base_url' must be an https:// URL (http:// only to a loopback host)"},
      {"[fcm]\nbase_url = 'ftp://x'",
       "cfg.toml:2: 'fcm.base_url' must be an https:// URL (http:// only to a loopback host)"},
      {"[fcm]\nbase_url = 'https://'",
       "cfg.toml:2: 'fcm.base_url' must be an https:// URL (http:// only to a loopback host)"},
      {"[fcm]\nmcs = 'mtalk.google.com'", "cfg.toml:2: 'fcm.mcs' must be HOST:PORT (port 1 to 65535)"},
      {"[fcm]\nmcs = 'h:0'", "cfg.toml:2: 'fcm.mcs' must be HOST:PORT (port 1 to 65535)"},
      {"[fcm]\nmcs = 'h:65536'", "cfg.toml:2: 'fcm.mcs' must be HOST:PORT (port 1 to 65535)"},
      {"[fcm]\nmcs = ':5228'", "cfg.toml:2: 'fcm.mcs' must be HOST:PORT (port 1 to 65535)"},
      {"[fcm]\nheartbeat_interval = 0.5", "cfg.toml:2: 'fcm.heartbeat_interval' must be a number from 1 to 3600"},
      {"[fcm]\nheartbeat_interval = 3601", "cfg.toml:2: 'fcm.heartbeat_interval' must be a number from 1 to 3600"},
      {"[fcm]\napi_key = 1", "cfg.toml:2: 'fcm.api_key' must be a string"},
      {"[fcm]\nsender_id = '1'", "cfg.toml:2: unknown key 'fcm.sender_id'"},
      {"fcm = 1", "cfg.toml:1: 'fcm' must be a table ([fcm])"},
  };
  for (const auto& [text, message] : rows) {
    const auto c = parse_config(text, kOrigin);
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error().message(), message) << text;
  }
}

struct ErrRow {
  const char* text;
  ConfigErrc code;
  const char* message;  // exact
};

TEST(ParseConfig, ErrorsNameTheKeyAndTheLine) {
  const std::vector<ErrRow> rows = {
      // unknown keys, at the top and in each table
      {"foo = 1", ConfigErrc::unknown_key, "cfg.toml:1: unknown key 'foo'"},
      {"\n\n[connection]\nping_interval = 300\npingg_interval = 300", ConfigErrc::unknown_key,
       "cfg.toml:5: unknown key 'connection.pingg_interval'"},
      {"[sinks]\nnotify = true\nemail = 'me'", ConfigErrc::unknown_key, "cfg.toml:3: unknown key 'sinks.email'"},
      {"[retention]\nmax_days = 3", ConfigErrc::unknown_key, "cfg.toml:2: unknown key 'retention.max_days'"},
      {"[connection.extra]\nx = 1", ConfigErrc::unknown_key, "cfg.toml:1: unknown key 'connection.extra'"},
      {"[service]\nlisten = '127.0.0.1:8080'", ConfigErrc::unknown_key, "cfg.toml:1: unknown key 'service'"},
      // wrong types
      {"server = 5", ConfigErrc::wrong_type, "cfg.toml:1: 'server' must be a string"},
      {"server = ['a']", ConfigErrc::wrong_type, "cfg.toml:1: 'server' must be a string"},
      {"log_level = 1", ConfigErrc::wrong_type, "cfg.toml:1: 'log_level' must be a string"},
      {"log_level = 'verbose'", ConfigErrc::wrong_type,
       "cfg.toml:1: 'log_level' must be trace, debug, info, warn or error"},
      {"log_level = 'INFO'", ConfigErrc::wrong_type,
       "cfg.toml:1: 'log_level' must be trace, debug, info, warn or error"},
      {"connection = 5", ConfigErrc::wrong_type, "cfg.toml:1: 'connection' must be a table ([connection])"},
      {"sinks = 'x'", ConfigErrc::wrong_type, "cfg.toml:1: 'sinks' must be a table ([sinks])"},
      {"retention = []", ConfigErrc::wrong_type, "cfg.toml:1: 'retention' must be a table ([retention])"},
      {"[connection]\nping_interval = '300'", ConfigErrc::wrong_type,
       "cfg.toml:2: 'connection.ping_interval' must be a number from 1 to 86400"},
      {"[connection]\nrequest_timeout = true", ConfigErrc::wrong_type,
       "cfg.toml:2: 'connection.request_timeout' must be a number from 1 to 600"},
      {"[connection]\ninsecure = 'yes'", ConfigErrc::wrong_type,
       "cfg.toml:2: 'connection.insecure' must be true or false"},
      {"[connection]\ninsecure = 1", ConfigErrc::wrong_type, "cfg.toml:2: 'connection.insecure' must be true or false"},
      {"[connection]\nca_file = 1", ConfigErrc::wrong_type, "cfg.toml:2: 'connection.ca_file' must be a string"},
      {"[connection]\nproxy = false", ConfigErrc::wrong_type, "cfg.toml:2: 'connection.proxy' must be a string"},
      {"[sinks]\nnotify = 'no'", ConfigErrc::wrong_type, "cfg.toml:2: 'sinks.notify' must be true or false"},
      {"[sinks]\njsonl = 1", ConfigErrc::wrong_type, "cfg.toml:2: 'sinks.jsonl' must be a string"},
      {"[sinks]\nexec = ['on-push', '--flag']", ConfigErrc::wrong_type, "cfg.toml:2: 'sinks.exec' must be a string"},
      {"[retention]\nmax_messages = 10.0", ConfigErrc::wrong_type,
       "cfg.toml:2: 'retention.max_messages' must be an integer from 1 to 1000000000"},
      {"[retention]\nmax_messages = '10'", ConfigErrc::wrong_type,
       "cfg.toml:2: 'retention.max_messages' must be an integer from 1 to 1000000000"},
      // out of range
      {"[connection]\nping_interval = 0", ConfigErrc::wrong_type,
       "cfg.toml:2: 'connection.ping_interval' must be a number from 1 to 86400"},
      {"[connection]\nping_interval = -300", ConfigErrc::wrong_type,
       "cfg.toml:2: 'connection.ping_interval' must be a number from 1 to 86400"},
      {"[connection]\nrequest_timeout = 0.0", ConfigErrc::wrong_type,
       "cfg.toml:2: 'connection.request_timeout' must be a number from 1 to 600"},
      {"[connection]\nbackoff_initial = -1", ConfigErrc::wrong_type,
       "cfg.toml:2: 'connection.backoff_initial' must be a number from 0.1 to 3600"},
      {"[connection]\nbackoff_max = nan", ConfigErrc::wrong_type,
       "cfg.toml:2: 'connection.backoff_max' must be a number from 1 to 86400"},
      {"[connection]\nbackoff_max = -inf", ConfigErrc::wrong_type,
       "cfg.toml:2: 'connection.backoff_max' must be a number from 1 to 86400"},
      {"[sinks]\nexec_timeout = 0", ConfigErrc::wrong_type,
       "cfg.toml:2: 'sinks.exec_timeout' must be a number from 0.001 to 86400"},
      {"[retention]\nmax_age_days = -1", ConfigErrc::wrong_type,
       "cfg.toml:2: 'retention.max_age_days' must be a number from 0.001 to 36500"},
      {"[retention]\nmax_messages = -1", ConfigErrc::wrong_type,
       "cfg.toml:2: 'retention.max_messages' must be an integer from 1 to 1000000000"},
      // integers a double cannot hold exactly: toml++ gives no double for them
      {"[connection]\nping_interval = 9007199254740993", ConfigErrc::wrong_type,
       "cfg.toml:2: 'connection.ping_interval' must be a number from 1 to 86400"},
      {"[retention]\nmax_age_days = -9223372036854775808", ConfigErrc::wrong_type,
       "cfg.toml:2: 'retention.max_age_days' must be a number from 0.001 to 36500"},
  };
  for (const auto& row : rows) {
    const auto c = parse_config(row.text, kOrigin);
    ASSERT_FALSE(c) << row.text;
    EXPECT_TRUE(c.error().is(row.code)) << row.text << "\n-> " << c.error();
    EXPECT_EQ(c.error().message(), row.message) << row.text;
  }
}

TEST(ParseConfig, NotTomlIsASyntaxErrorWithItsLine) {
  const std::vector<std::pair<const char*, const char*>> rows = {
      {"server = ", "cfg.toml:1: "},
      {"server = 'a'\nserver = 'b'", "cfg.toml:2: "},  // a key given twice
      {"[connection]\nping_interval = 3 00", "cfg.toml:2: "},
      {"\n\n[sinks", "cfg.toml:3: "},
      {"log_level = \"info", "cfg.toml:1: "},
  };
  for (const auto& [text, prefix] : rows) {
    const auto c = parse_config(text, kOrigin);
    ASSERT_FALSE(c) << text;
    EXPECT_TRUE(c.error().is(ConfigErrc::syntax)) << text << "\n-> " << c.error();
    EXPECT_THAT(c.error().message(), StartsWith(prefix)) << text;
    EXPECT_GT(c.error().message().size(), std::string(prefix).size()) << "says what is wrong";
  }
}

TEST(ParseConfig, TheFirstErrorWins) {
  // Unknown keys of the top level are looked at before any value.
  const auto c = parse_config("server = 5\nbogus = 1", kOrigin);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "cfg.toml:2: unknown key 'bogus'");
}

// The flags of `run` take only values in a range (commands.h / run.cpp:
// --ping-interval 1..86400, --request-timeout 1..600, --backoff-initial
// 0.1..3600, --backoff-max 1..86400, --retention-days 0.001..36500,
// --retention-messages 1..10^9); the config file should refuse what the flags
// refuse, since run.cpp turns seconds into milliseconds with a cast that
// overflows (undefined) for inf or 1e300, and 0.0001 s becomes 0 ms.
TEST(ParseConfig, ValuesTheFlagsRefuseAreErrors) {
  const std::vector<std::pair<const char*, const char*>> rows = {
      {"[connection]\nping_interval = inf", "connection.ping_interval"},
      {"[connection]\nping_interval = 1e300", "connection.ping_interval"},
      {"[connection]\nping_interval = 86401", "connection.ping_interval"},
      {"[connection]\nping_interval = 0.0001", "connection.ping_interval"},
      {"[connection]\nrequest_timeout = 601", "connection.request_timeout"},
      {"[connection]\nbackoff_initial = 0.01", "connection.backoff_initial"},
      {"[connection]\nbackoff_max = 86401", "connection.backoff_max"},
      {"[sinks]\nexec_timeout = inf", "sinks.exec_timeout"},
      {"[retention]\nmax_age_days = 36501", "retention.max_age_days"},
      {"[retention]\nmax_messages = 0", "retention.max_messages"},
  };
  for (const auto& [text, key] : rows) {
    const auto c = parse_config(text, kOrigin);
    ASSERT_FALSE(c) << text;
    EXPECT_TRUE(c.error().is(ConfigErrc::wrong_type)) << text;
    EXPECT_THAT(c.error().message(), StartsWith("cfg.toml:2: '" + std::string(key) + "'")) << text;
  }
}

// ---- load_config / default_config_path -----------------------------------------------

using ConfigFileTest = test::FileTest;

TEST_F(ConfigFileTest, LoadsAFile) {
  const auto path = write("config.toml", "[sinks]\nnotify = false\n");
  const auto c = load_config(path);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->notify, false);
}

TEST_F(ConfigFileTest, ErrorsNameTheFile) {
  const auto path = write("config.toml", "\n[sinks]\nnotify = 1\n");
  const auto c = load_config(path);
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error().is(ConfigErrc::wrong_type));
  EXPECT_EQ(c.error().message(), path.string() + ":3: 'sinks.notify' must be true or false");
}

TEST_F(ConfigFileTest, AMissingFileIsUnreadable) {
  const auto path = dir_ / "absent.toml";
  const auto c = load_config(path);
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error().is(ConfigErrc::unreadable));
  EXPECT_EQ(c.error().message(), "cannot read config file " + path.string());
}

TEST(DefaultConfigPath, FollowsXdgConfigHomeThenHome) {
  struct Row {
    std::optional<std::string> xdg;
    std::optional<std::string> home;
    const char* expected;
  };
  const std::vector<Row> rows = {
      {"/xdg", "/home/me", "/xdg/webpushd/config.toml"},
      {"/xdg/", "/home/me", "/xdg/webpushd/config.toml"},
      {std::nullopt, "/home/me", "/home/me/.config/webpushd/config.toml"},
      {"", "/home/me", "/home/me/.config/webpushd/config.toml"},
      {"relative/xdg", "/home/me", "/home/me/.config/webpushd/config.toml"},  // not absolute: ignored
      {std::nullopt, std::nullopt, "/tmp/.config/webpushd/config.toml"},
      {std::nullopt, "", "/tmp/.config/webpushd/config.toml"},
  };
  for (const auto& row : rows) {
    test::ScopedEnv env;
    env.set("XDG_CONFIG_HOME", row.xdg);
    env.set("HOME", row.home);
    EXPECT_EQ(default_config_path().lexically_normal(), std::filesystem::path(row.expected))
        << "XDG_CONFIG_HOME=" << row.xdg.value_or("(unset)") << " HOME=" << row.home.value_or("(unset)");
  }
}

}  // namespace
}  // namespace webpush::cli
