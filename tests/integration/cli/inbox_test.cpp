// `webpushd list` and `webpushd messages` against a real store: empty and corrupt
// state directories, and a real flow (serve → subscribe → run --jsonl - → send)
// whose inbox must read back exactly as the daemon's jsonl sink printed it.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "cli_process.h"
#include "support/daemon_process.h"
#include "support/http_client.h"
#include "support/service_process.h"
#include "support/support.h"

namespace webpush::testing {
namespace {

using nlohmann::json;

const std::regex kRfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
const std::regex kTableTime(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)");

class InboxTest : public ::testing::Test {
 protected:
  void SetUp() override { isolate_environment(tmp.path()); }

  // `webpushd --state-dir <ua> args…`
  CliResult cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--state-dir", ua_dir.string()});
    return run_cli(args);
  }

  std::filesystem::path write(const std::string& name, const std::string& content) {
    const auto p = tmp.path() / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

  TempDir tmp{"webpushd-cli-inbox"};
  std::filesystem::path ua_dir = tmp.path() / "ua";
  std::filesystem::path svc_dir = tmp.path() / "svc";
};

// The display column (in code points) where `needle` starts in `line`.
std::size_t column(const std::string& line, const std::string& needle) {
  const std::size_t at = line.find(needle);
  if (at == std::string::npos) return at;
  std::size_t col = 0;
  for (std::size_t i = 0; i < at; ++i) col += (static_cast<unsigned char>(line[i]) & 0xc0) != 0x80 ? 1 : 0;
  return col;
}

void expect_one_line(const std::string& text, const std::string& needle, const CliResult& r) {
  const auto lines = split_lines(text);
  ASSERT_EQ(lines.size(), 1u) << r.describe();
  EXPECT_NE(lines[0].find(needle), std::string::npos) << r.describe();
}

TEST_F(InboxTest, NoStateDirectoryMeansEmptyNotAnError) {
  for (const bool make_dir : {false, true}) {
    SCOPED_TRACE(make_dir ? "empty state directory" : "no state directory");
    if (make_dir) {
      std::filesystem::create_directory(ua_dir);
      std::filesystem::permissions(ua_dir, std::filesystem::perms::owner_all);
    }

    CliResult r = cli({"list"});
    EXPECT_EQ(r.status, 0) << r.describe();
    EXPECT_EQ(r.out, "") << r.describe();
    expect_one_line(r.err, "no subscriptions yet", r);

    r = cli({"list", "--json"});
    EXPECT_EQ(r.status, 0) << r.describe();
    EXPECT_EQ(r.out, "[]\n") << r.describe();
    EXPECT_EQ(r.err, "") << r.describe();

    r = cli({"messages"});
    EXPECT_EQ(r.status, 0) << r.describe();
    EXPECT_EQ(r.out, "") << r.describe();
    expect_one_line(r.err, "no messages yet", r);

    r = cli({"messages", "--json", "--since", "1h"});
    EXPECT_EQ(r.status, 0) << r.describe();
    EXPECT_EQ(r.out, "") << r.describe();
    EXPECT_EQ(r.err, "") << r.describe();

    r = cli({"messages", "--subscription", "laptop"});
    EXPECT_EQ(r.status, 1) << r.describe();
    expect_one_line(r.err, "no subscription named 'laptop'", r);

    // Read-only: looking did not create anything.
    EXPECT_EQ(std::filesystem::exists(ua_dir), make_dir);
    if (make_dir) {
      EXPECT_TRUE(std::filesystem::is_empty(ua_dir));
    }
  }
}

TEST_F(InboxTest, StoreWarningsGoToStderrNotIntoTheOutput) {
  std::filesystem::create_directory(ua_dir);
  std::filesystem::permissions(ua_dir, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                           std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                           std::filesystem::perms::others_exec);
  // The store corrects the mode of the state directory (0755 → 0700) and warns.
  const CliResult r = cli({"list", "--json"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "[]\n") << r.describe();
  EXPECT_NE(r.err.find("0700"), std::string::npos) << r.describe();
}

TEST_F(InboxTest, ACorruptDatabaseIsAnError) {
  std::filesystem::create_directory(ua_dir);
  std::filesystem::permissions(ua_dir, std::filesystem::perms::owner_all);
  std::string garbage;
  for (int i = 0; i < 200; ++i) garbage += "this is not an SQLite database. ";
  std::ofstream(ua_dir / "webpushd.db", std::ios::binary) << garbage;
  std::filesystem::permissions(ua_dir / "webpushd.db",
                               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"list"}, {"list", "--json"}, {"messages"}, {"messages", "--json"}}) {
    SCOPED_TRACE(::testing::PrintToString(args));
    const CliResult r = cli(args);
    EXPECT_EQ(r.status, 1) << r.describe();
    EXPECT_EQ(r.out, "") << r.describe();
    expect_one_line(r.err, "webpushd.db", r);
  }
}

// What `send` reported: the HTTP status line and the message id from Location.
struct Sent {
  std::string status;
  std::string version;
};

Sent parse_send(const CliResult& r) {
  Sent s;
  for (const auto& line : r.out_lines()) {
    if (s.status.empty()) s.status = line;
    if (line.rfind("Location: ", 0) == 0) s.version = line.substr(line.rfind('/') + 1);
  }
  return s;
}

TEST_F(InboxTest, ListAndMessagesReadBackARealFlow) {
  ServiceProcess service({.state_dir = svc_dir});
  const CliResult keygen = run_cli({"vapid-keygen", (tmp.path() / "vapid.pem").string()});
  ASSERT_EQ(keygen.status, 0) << keygen.describe();
  const std::string vapid_public = keygen.out_lines().at(0);

  const std::string laptop = subscribe(ua_dir, service.ws_url(), "laptop");
  const std::string phone = subscribe(ua_dir, service.ws_url(), "phone", vapid_public);
  const auto laptop_file = write("laptop.json", laptop);
  const auto phone_file = write("phone.json", phone);

  DaemonProcess daemon({.state_dir = ua_dir, .server = service.ws_url()});
  daemon.wait_log("connected to");

  // `list` beside the daemon, which holds the state directory's lock.
  CliResult r = cli({"list"});
  ASSERT_EQ(r.status, 0) << r.describe();
  {
    const auto lines = r.out_lines();
    ASSERT_EQ(lines.size(), 3u) << r.describe();
    EXPECT_TRUE(std::regex_match(lines[0], std::regex("NAME +STATE +CREATED +SERVER +ENDPOINT"))) << lines[0];
    EXPECT_EQ(lines[1].rfind("laptop  ", 0), 0u) << lines[1];
    EXPECT_EQ(lines[2].rfind("phone   ", 0), 0u) << lines[2];
    for (std::size_t i = 1; i < lines.size(); ++i) {
      EXPECT_NE(lines[i].find(" active "), std::string::npos) << lines[i];
      EXPECT_NE(lines[i].find(service.ws_url()), std::string::npos) << lines[i];
      // Columns line up: every row's STATE starts where the header's does.
      EXPECT_EQ(column(lines[i], "active"), column(lines[0], "STATE")) << r.out;
      EXPECT_EQ(column(lines[i], "http://"), column(lines[0], "ENDPOINT")) << r.out;
    }
  }

  const std::string bin_path = write("binary.bin", std::string("\xff\xfe\x00\x62", 4)).string();
  struct Send {
    std::vector<std::string> args;
    std::string type;
  };
  const std::vector<Send> sends = {
      {{"send", laptop_file.string(), "--payload", "hello\nworld\t\u2713"}, "message"},
      {{"send", laptop_file.string(), "--file", bin_path}, "message"},
      {{"send", phone_file.string(), "--payload", "to the phone", "--vapid-key-file",
        (tmp.path() / "vapid.pem").string()},
       "message"},
      {{"send", laptop_file.string(), "--encoding", "none"}, "message"},
      {{"send", laptop_file.string(), "--encoding", "aesgcm", "--payload", "legacy coding"}, "message"},
  };
  for (const auto& s : sends) {
    SCOPED_TRACE(::testing::PrintToString(s.args));
    r = run_cli(s.args);
    ASSERT_EQ(r.status, 0) << r.describe();
    const Sent sent = parse_send(r);
    ASSERT_EQ(sent.status, "201") << r.describe();
    ASSERT_FALSE(sent.version.empty()) << r.describe();
    daemon.wait_event([&](const json& j) { return j.value("version", "") == sent.version; });
  }
  // A body that does not decrypt: stored as failed, printed as decrypt_error.
  const auto endpoint = json::parse(laptop).at("endpoint").get<std::string>();
  const HttpResult bad = http_request(service.port(), "POST", url_path(endpoint),
                                      {{"TTL", "60"}, {"Content-Encoding", "aes128gcm"}}, std::string(64, 'x'));
  ASSERT_EQ(bad.status, 201) << bad.body;
  daemon.wait_event([](const json& j) { return j.value("type", "") == "decrypt_error"; });

  // While the daemon runs, and after it stopped: the same lines, byte for byte.
  const std::vector<std::string> printed = daemon.raw_lines();
  ASSERT_EQ(printed.size(), sends.size() + 1);
  r = cli({"messages", "--json"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out_lines(), printed) << r.describe();
  ASSERT_EQ(daemon.stop(), 0);
  ASSERT_EQ(daemon.raw_lines(), printed) << "the daemon printed more lines while stopping";
  r = cli({"messages", "--json"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.err, "") << r.describe();
  EXPECT_EQ(r.out_lines(), printed) << r.describe();

  // `list --json`, field by field.
  r = cli({"list", "--json"});
  ASSERT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out.find("private"), std::string::npos) << r.out;
  const json subs = json::parse(r.out);
  ASSERT_TRUE(subs.is_array());
  ASSERT_EQ(subs.size(), 2u) << r.out;
  const std::set<std::string> expected_fields = {"id",
                                                 "name",
                                                 "state",
                                                 "server",
                                                 "channel_id",
                                                 "endpoint",
                                                 "created_at",
                                                 "changed_at",
                                                 "previous_endpoint",
                                                 "application_server_key",
                                                 "subscription",
                                                 "app",
                                                 "push_service"};
  const std::vector<std::pair<std::string, std::string>> subscribed = {{"laptop", laptop}, {"phone", phone}};
  std::map<std::string, std::string> channel_of;
  for (std::size_t i = 0; i < subs.size(); ++i) {
    const json& s = subs[i];
    SCOPED_TRACE(s.dump());
    std::set<std::string> fields;
    for (const auto& [k, v] : s.items()) fields.insert(k);
    EXPECT_EQ(fields, expected_fields);
    EXPECT_TRUE(s["app"].is_null()) << "not a UnifiedPush app's";
    EXPECT_EQ(s["push_service"], "autopush");
    EXPECT_TRUE(s["id"].is_number_integer());
    EXPECT_EQ(s["name"], subscribed[i].first);
    EXPECT_EQ(s["state"], "active");
    EXPECT_EQ(s["server"], service.ws_url());
    EXPECT_TRUE(s["channel_id"].is_string());
    channel_of[subscribed[i].first] = s["channel_id"].get<std::string>();
    const json pushed = json::parse(subscribed[i].second);
    EXPECT_EQ(s["endpoint"], pushed["endpoint"]);
    EXPECT_TRUE(std::regex_match(s["created_at"].get<std::string>(), kRfc3339));
    EXPECT_TRUE(s["changed_at"].is_null());
    EXPECT_TRUE(s["previous_endpoint"].is_null());
    // Exactly the PushSubscription `subscribe` printed (endpoint, expirationTime, keys.p256dh, keys.auth).
    EXPECT_EQ(s["subscription"], pushed);
    EXPECT_EQ(s["subscription"].size(), 3u);
    EXPECT_EQ(s["subscription"]["keys"].size(), 2u);
  }
  EXPECT_TRUE(subs[0]["application_server_key"].is_null());
  EXPECT_EQ(subs[1]["application_server_key"], vapid_public);
  EXPECT_NE(subs[0]["id"], subs[1]["id"]);

  // The JSON lines carry the subscription names and channels.
  std::vector<json> events;
  for (const auto& line : printed) events.push_back(json::parse(line));
  EXPECT_EQ(events[0]["payload"], "hello\nworld\t\u2713");
  EXPECT_TRUE(events[1]["payload"].is_null());
  EXPECT_EQ(events[1]["payload_b64"], "__4AYg");
  EXPECT_EQ(events[2]["subscription"], "phone");
  EXPECT_EQ(events[2]["channel_id"], channel_of["phone"]);
  EXPECT_TRUE(events[3]["payload_b64"].is_null());
  EXPECT_EQ(events[4]["payload"], "legacy coding");
  EXPECT_EQ(events[5]["type"], "decrypt_error");
  EXPECT_EQ(events[5]["channel_id"], channel_of["laptop"]);

  // The table: one row per message, oldest first, payloads escaped and summarised.
  r = cli({"messages"});
  ASSERT_EQ(r.status, 0) << r.describe();
  {
    const auto lines = r.out_lines();
    ASSERT_EQ(lines.size(), printed.size() + 1) << r.out;
    EXPECT_TRUE(std::regex_match(lines[0], std::regex("RECEIVED +SUBSCRIPTION +STATE +VERSION +PAYLOAD"))) << lines[0];
    const std::size_t payload_col = column(lines[0], "PAYLOAD");
    const std::vector<std::string> payloads = {
        "hello\\nworld\\t\u2713", "(binary, 4 bytes)", "to the phone", "(no data)", "legacy coding", "error: "};
    for (std::size_t i = 0; i < payloads.size(); ++i) {
      const std::string& row = lines[i + 1];
      EXPECT_TRUE(std::regex_search(row, kTableTime)) << row;
      if (events[i].contains("received_at")) {  // decrypt_error lines have none
        EXPECT_EQ(row.rfind(events[i]["received_at"].get<std::string>().substr(0, 10), 0), 0u) << row;
      }
      EXPECT_EQ(column(row, payloads[i]), payload_col) << row;
      EXPECT_NE(row.find(i == 5 ? " failed " : " delivered "), std::string::npos) << row;
      EXPECT_NE(row.find(i == 2 ? " phone " : " laptop "), std::string::npos) << row;
      EXPECT_NE(row.find(events[i]["version"].get<std::string>().substr(0, 8)), std::string::npos) << row;
    }
  }

  // Filters.
  struct Filter {
    std::vector<std::string> args;
    std::vector<std::size_t> expected;  // indexes into `printed`
  };
  const std::string phone_id = std::to_string(subs[1]["id"].get<std::int64_t>());
  const std::vector<Filter> filters = {
      {{"--subscription", "phone"}, {2}},
      {{"--subscription", phone_id}, {2}},
      {{"--subscription", "laptop"}, {0, 1, 3, 4, 5}},
      {{"--limit", "2"}, {4, 5}},
      {{"--limit", "100"}, {0, 1, 2, 3, 4, 5}},
      {{"--subscription", "laptop", "--limit", "1"}, {5}},
      {{"--state", "failed"}, {5}},
      {{"--state", "delivered"}, {0, 1, 2, 3, 4}},
      {{"--state", "stored"}, {}},
      {{"--since", "1h"}, {0, 1, 2, 3, 4, 5}},
      {{"--since", "2000-01-01"}, {0, 1, 2, 3, 4, 5}},
      {{"--since", "2000-01-01T01:00:00+01:00"}, {0, 1, 2, 3, 4, 5}},
      {{"--since", "2999-01-01T00:00:00Z"}, {}},
      {{"--since", "2999-01-01"}, {}},
      {{"--since", events[1]["received_at"].get<std::string>(), "--subscription", "laptop"}, {1, 3, 4, 5}},
  };
  for (const auto& f : filters) {
    SCOPED_TRACE(::testing::PrintToString(f.args));
    std::vector<std::string> args = {"messages", "--json"};
    args.insert(args.end(), f.args.begin(), f.args.end());
    r = cli(args);
    ASSERT_EQ(r.status, 0) << r.describe();
    std::vector<std::string> expected;
    for (const std::size_t i : f.expected) expected.push_back(printed[i]);
    EXPECT_EQ(r.out_lines(), expected) << r.describe();
  }
  r = cli({"messages", "--state", "stored"});
  EXPECT_EQ(r.status, 0) << r.describe();
  EXPECT_EQ(r.out, "");
  expect_one_line(r.err, "no messages match", r);
  r = cli({"messages", "--subscription", "tablet"});
  EXPECT_EQ(r.status, 1) << r.describe();
  expect_one_line(r.err, "no subscription named 'tablet'", r);
}

}  // namespace
}  // namespace webpush::testing
