// fcm::McsSession against a scripted MCS server: the server's bytes are built
// with encode_frame and messages.h's encoders (and, for the few messages a
// receiver never sends, a small protobuf writer below); what the session sends
// is read back with McsDecoder and messages.h's decoders. Time is a plain
// Instant moved by hand; jitter is zero.
#include "webpush/fcm/mcs_session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pb_wire.h"
#include "webpush/core/base64url.h"
#include "webpush/core/bytes.h"

namespace webpush::fcm {
namespace fcm_mcs_session_test {

using protocol::DisconnectReason;
using protocol::SessionState;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr DeviceIdentity kDevice{4'123'456'789'012'345'678ULL, 9'876'543'210'987'654'321ULL};

class ZeroJitter final : public Jitter {
 public:
  double next() override { return 0.0; }
};

template <class T>
std::vector<T> all_of(const McsActions& actions) {
  std::vector<T> out;
  for (const auto& a : actions) {
    if (const T* t = std::get_if<T>(&a)) out.push_back(*t);
  }
  return out;
}

template <class T>
bool has(const McsActions& actions) {
  return !all_of<T>(actions).empty();
}

std::vector<DisconnectReason> closes(const McsActions& actions) {
  std::vector<DisconnectReason> out;
  for (const auto& c : all_of<action::Close>(actions)) out.push_back(c.reason);
  return out;
}

std::optional<action::StateChanged> last_state(const McsActions& actions) {
  auto states = all_of<action::StateChanged>(actions);
  if (states.empty()) return std::nullopt;
  return states.back();
}

// ---- a small protobuf writer and reader (wire format only) ----------------------

using namespace pb_wire;  // NOLINT(google-build-using-namespace): test helpers

struct LoginReply {
  std::optional<int> error_code;
  std::string error_message;
  std::optional<int> heartbeat_interval_ms;
};

std::string login_response_body(const LoginReply& reply) {
  std::string body = pb_bytes(1, "chrome-63.0.3234.0");
  if (reply.error_code) {
    body += pb_bytes(3, pb_varint(1, static_cast<std::uint64_t>(*reply.error_code)) + pb_bytes(2, reply.error_message));
  }
  body += pb_varint(5, 1);
  if (reply.heartbeat_interval_ms) {
    body += pb_bytes(7, pb_varint(3, static_cast<std::uint64_t>(*reply.heartbeat_interval_ms)));
  }
  return body;
}

// ---- the server's side ----------------------------------------------------------

std::string frame(std::uint8_t tag, std::string_view body) {
  auto bytes = encode_frame(tag, body);
  EXPECT_TRUE(bytes.has_value());
  return bytes.value_or(std::string());
}

std::string frame(Tag tag, std::string_view body) { return frame(static_cast<std::uint8_t>(tag), body); }

std::string version_byte(std::uint8_t v = kMcsVersion) { return std::string(1, static_cast<char>(v)); }

std::string login_ok(std::optional<int> heartbeat_interval_ms = std::nullopt) {
  return version_byte() + frame(Tag::login_response, login_response_body({std::nullopt, "", heartbeat_interval_ms}));
}

DataMessage web_push(std::string persistent_id, std::string raw_data = "\x01\x02payload\xff") {
  DataMessage m;
  m.from = "1234567890";
  m.category = "org.chromium.linux";
  m.persistent_id = std::move(persistent_id);
  m.app_data = {{"subtype", "wp:app-1"}, {"content-encoding", "aes128gcm"}};
  m.raw_data = std::move(raw_data);
  return m;
}

std::string data_frame(const DataMessage& m) { return frame(Tag::data_message_stanza, encode_data_message(m)); }

// A persistent id shaped like Google's (35 bytes), unique per n.
std::string google_like_id(int n) { return "0:" + std::to_string(1'700'000'000'000'000LL + n) + "%7031b2e6f9fd7ecd"; }

// The session under test, and what the server read from it on the current connection.
struct Harness {
  ZeroJitter jitter;
  McsSessionConfig config;
  McsSession session;
  Instant now{Duration{1'000'000}, Duration{1'000'000}, 1'700'000'000'000};
  McsDecoder reader{McsDecoder::Options{.expect_version = false}};
  bool version_seen = false;
  std::vector<Frame> received;  // the session's frames, this connection

  explicit Harness(McsSessionConfig c = {}) : config(c), session(c, kDevice, jitter) {}

  McsActions collect(McsActions actions) {
    for (const auto& send : all_of<action::Send>(actions)) {
      std::string_view in = send.bytes;
      if (!version_seen) {
        EXPECT_EQ(static_cast<std::uint8_t>(in.front()), kMcsVersion) << "the client's first byte";
        in.remove_prefix(1);
        version_seen = true;
      }
      for (;;) {
        auto next = reader.next(in);
        EXPECT_TRUE(next.has_value()) << next.error().message();
        if (!next || !next->has_value()) break;
        received.push_back(std::move(**next));
      }
      EXPECT_TRUE(reader.at_boundary()) << "a Send action holds whole frames";
    }
    return actions;
  }

  McsActions connect() {
    McsActions a = session.start(now);
    EXPECT_TRUE(has<action::Connect>(a));
    return on_connected();
  }
  McsActions on_connected() {
    reader = McsDecoder(McsDecoder::Options{.expect_version = false});
    version_seen = false;
    received.clear();
    return collect(session.on_connected(now));
  }
  McsActions server(std::string_view bytes) { return collect(session.on_bytes(bytes, now)); }
  McsActions ready(std::optional<int> heartbeat_interval_ms = std::nullopt) {
    connect();
    McsActions a = server(login_ok(heartbeat_interval_ms));
    EXPECT_EQ(session.state(), SessionState::ready);
    return a;
  }
  McsActions advance(Duration d) {
    now = now + d;
    return collect(session.on_timer(now));
  }
  McsActions ack(std::vector<std::string> ids) { return collect(session.ack(std::move(ids), now)); }

  // The frames the session sent with `tag`, this connection.
  std::vector<Frame> sent(Tag tag) const {
    std::vector<Frame> out;
    for (const auto& f : received) {
      if (f.tag == static_cast<std::uint8_t>(tag)) out.push_back(f);
    }
    return out;
  }
  // The IqStanzas the session sent with this extension, this connection.
  std::vector<IqStanza> iqs(std::int32_t extension_id) const {
    std::vector<IqStanza> out;
    for (const auto& f : sent(Tag::iq_stanza)) {
      auto iq = decode_iq_stanza(f.body);
      EXPECT_TRUE(iq.has_value());
      if (iq && iq->extension_id == extension_id) out.push_back(*iq);
    }
    return out;
  }
  // The last_stream_id_received of the newest frame sent with `tag` (a heartbeat or an IqStanza).
  std::optional<std::int32_t> last_reported(Tag tag) const {
    auto frames = sent(tag);
    if (frames.empty()) return std::nullopt;
    if (tag == Tag::iq_stanza) {
      auto iq = decode_iq_stanza(frames.back().body);
      EXPECT_TRUE(iq.has_value());
      return iq ? iq->last_stream_id_received : std::nullopt;
    }
    auto heartbeat = decode_heartbeat(frames.back().body);
    EXPECT_TRUE(heartbeat.has_value());
    return heartbeat ? heartbeat->last_stream_id_received : std::nullopt;
  }
  IqStanza only_iq() const {
    auto iqs = sent(Tag::iq_stanza);
    EXPECT_EQ(iqs.size(), 1U);
    if (iqs.empty()) return {};
    auto iq = decode_iq_stanza(iqs.front().body);
    EXPECT_TRUE(iq.has_value());
    return iq.value_or(IqStanza{});
  }
};

// ---- login ------------------------------------------------------------------------

TEST(McsSession, LogsInWithTheVersionByteAndTheDeviceIdentity) {
  Harness h;
  auto started = h.session.start(h.now);
  EXPECT_TRUE(has<action::Connect>(started));
  EXPECT_EQ(h.session.state(), SessionState::connecting);

  auto connected = h.on_connected();
  EXPECT_EQ(h.session.state(), SessionState::handshaking);
  ASSERT_EQ(all_of<action::Send>(connected).size(), 1U);
  ASSERT_EQ(h.received.size(), 1U);
  EXPECT_EQ(h.received[0].tag, static_cast<std::uint8_t>(Tag::login_request));
  EXPECT_EQ(h.received[0].body, encode_login_request(LoginParams{kDevice, std::string(kChromeVersion), {}}));
  EXPECT_THAT(pb_strings(h.received[0].body, 3), ElementsAre("4123456789012345678"));  // user
  EXPECT_THAT(pb_strings(h.received[0].body, 10), IsEmpty());                          // received_persistent_id
  EXPECT_EQ(h.session.next_wakeup(h.now), h.config.login_timeout);

  auto logged_in = h.server(login_ok());
  EXPECT_EQ(h.session.state(), SessionState::ready);
  ASSERT_TRUE(last_state(logged_in));
  EXPECT_THAT(last_state(logged_in)->detail, HasSubstr("heartbeat every 300.0 s"));
  EXPECT_FALSE(has<action::AcksConfirmed>(logged_in));
  EXPECT_FALSE(has<action::Close>(logged_in));
  EXPECT_EQ(h.session.next_wakeup(h.now), minutes(5));
  EXPECT_EQ(h.session.last_stream_id_received(), 1);
}

TEST(McsSession, PresentsTheUnconfirmedIdsAndReportsThemConfirmed) {
  Harness h;
  h.session.set_unconfirmed({"0:1%aa", "0:2%bb"});
  h.connect();
  ASSERT_EQ(h.sent(Tag::login_request).size(), 1U);
  const std::string login = h.sent(Tag::login_request)[0].body;
  EXPECT_THAT(pb_strings(login, 10), ElementsAre("0:1%aa", "0:2%bb"));
  EXPECT_EQ(login, encode_login_request(LoginParams{kDevice, std::string(kChromeVersion), {"0:1%aa", "0:2%bb"}}));

  // Stored while the login is under way: not in this LoginRequest, acked right after it.
  EXPECT_FALSE(has<action::Send>(h.ack({"0:3%cc"})));
  auto logged_in = h.server(login_ok());
  ASSERT_EQ(all_of<action::AcksConfirmed>(logged_in).size(), 1U);
  EXPECT_THAT(all_of<action::AcksConfirmed>(logged_in)[0].persistent_ids, ElementsAre("0:1%aa", "0:2%bb"));
  const IqStanza iq = h.only_iq();
  EXPECT_EQ(iq.extension_id, kSelectiveAckExtension);
  EXPECT_THAT(decode_selective_ack(iq.extension_data).value_or(std::vector<std::string>{}), ElementsAre("0:3%cc"));
  EXPECT_THAT(h.session.unconfirmed(), ElementsAre("0:3%cc"));

  // The next login presents what is left.
  h.server(frame(Tag::close, ""));
  h.advance(seconds(1));
  h.on_connected();
  EXPECT_THAT(pb_strings(h.sent(Tag::login_request)[0].body, 10), ElementsAre("0:3%cc"));
}

TEST(McsSession, IdsOfALoginThatFailedStayUnconfirmed) {
  Harness h;
  h.session.set_unconfirmed({"0:1%aa"});
  h.connect();
  auto closed = h.collect(h.session.on_closed(DisconnectReason::io_error, h.now));
  EXPECT_FALSE(has<action::AcksConfirmed>(closed));
  EXPECT_THAT(h.session.unconfirmed(), ElementsAre("0:1%aa"));
  h.advance(seconds(1));
  h.on_connected();
  EXPECT_THAT(pb_strings(h.sent(Tag::login_request)[0].body, 10), ElementsAre("0:1%aa"));
}

TEST(McsSession, TheUnconfirmedListKeepsTheNewestIds) {
  McsSessionConfig config;
  config.max_unconfirmed = 3;
  Harness h(config);
  h.session.set_unconfirmed({"a", "b", "c", "d"});
  EXPECT_THAT(h.session.unconfirmed(), ElementsAre("b", "c", "d"));
  h.ack({"c", "e", ""});
  EXPECT_THAT(h.session.unconfirmed(), ElementsAre("c", "d", "e"));
}

TEST(McsSession, TheLoginRequestPresentsTheNewestIdsThatFit) {
  McsSessionConfig config;
  config.max_unconfirmed = 1000;
  Harness h(config);
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(google_like_id(i));
  h.session.set_unconfirmed(ids);
  h.connect();
  ASSERT_EQ(h.sent(Tag::login_request).size(), 1U);
  const std::string login = h.sent(Tag::login_request)[0].body;
  EXPECT_LE(login.size(), kMaxSentMessageBytes);
  const std::vector<std::string> presented = pb_strings(login, 10);
  ASSERT_GE(presented.size(), 100U);
  const std::vector<std::string> newest(ids.end() - static_cast<std::ptrdiff_t>(presented.size()), ids.end());
  EXPECT_EQ(presented, newest);
  // As many as fit: one more would not.
  const LoginParams one_more{
      kDevice, std::string(kChromeVersion),
      std::vector<std::string>(ids.end() - static_cast<std::ptrdiff_t>(presented.size() + 1), ids.end())};
  EXPECT_GT(encode_login_request(one_more).size(), kMaxSentMessageBytes);

  auto logged_in = h.server(login_ok());
  ASSERT_EQ(all_of<action::AcksConfirmed>(logged_in).size(), 1U);
  EXPECT_EQ(all_of<action::AcksConfirmed>(logged_in)[0].persistent_ids, presented);
  EXPECT_THAT(h.sent(Tag::iq_stanza), IsEmpty()) << "the older ids wait for a later login";
  const std::vector<std::string> rest(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(presented.size()));
  EXPECT_EQ(h.session.unconfirmed(), rest);

  h.server(frame(Tag::close, ""));
  h.advance(seconds(1));
  h.on_connected();
  const std::string next = h.sent(Tag::login_request)[0].body;
  EXPECT_LE(next.size(), kMaxSentMessageBytes);
  ASSERT_FALSE(pb_strings(next, 10).empty());
  EXPECT_EQ(pb_strings(next, 10).back(), rest.back());
}

TEST(McsSession, TheDefaultUnconfirmedListFitsOneLogin) {
  Harness h;
  std::vector<std::string> ids;
  for (int i = 0; i < 150; ++i) ids.push_back(google_like_id(i));
  h.session.set_unconfirmed(ids);
  ASSERT_EQ(h.session.unconfirmed().size(), h.config.max_unconfirmed);
  h.connect();
  const std::string login = h.sent(Tag::login_request)[0].body;
  EXPECT_LE(login.size(), kMaxSentMessageBytes);
  EXPECT_EQ(pb_strings(login, 10), h.session.unconfirmed());
}

TEST(McsSession, AnIdThatDoesNotFitTheLoginIsSkipped) {
  Harness h;
  const std::string long_a(3000, 'a');
  const std::string long_b(3000, 'b');
  h.session.set_unconfirmed({"0:1%a", long_a, "0:3%c", long_b, std::string(kMaxSentMessageBytes + 1, 'c')});
  EXPECT_EQ(h.session.unconfirmed().size(), 4U) << "an id longer than any LoginRequest is not kept";
  h.connect();
  const std::string login = h.sent(Tag::login_request)[0].body;
  EXPECT_LE(login.size(), kMaxSentMessageBytes);
  EXPECT_EQ(pb_strings(login, 10), (std::vector<std::string>{"0:1%a", "0:3%c", long_b}));
  h.server(login_ok());
  EXPECT_EQ(h.session.unconfirmed(), std::vector<std::string>{long_a});
}

TEST(McsSession, ALoginErrorIsRefusedAndBacksOffLonger) {
  Harness h;
  h.connect();
  std::string bytes =
      version_byte() + frame(Tag::login_response, login_response_body({401, "Unauthorized", std::nullopt}));
  auto refused = h.server(bytes);
  EXPECT_THAT(closes(refused), ElementsAre(DisconnectReason::hello_refused));
  EXPECT_EQ(h.session.state(), SessionState::backing_off);
  ASSERT_TRUE(last_state(refused));
  EXPECT_THAT(last_state(refused)->detail, HasSubstr("login refused: code 401: Unauthorized"));
  EXPECT_THAT(last_state(refused)->detail, HasSubstr("retry in 60.0 s"));
  EXPECT_EQ(h.session.next_wakeup(h.now), h.config.refused_min_delay);
  EXPECT_FALSE(has<action::Connect>(h.advance(seconds(59))));
  EXPECT_TRUE(has<action::Connect>(h.advance(seconds(1))));
}

TEST(McsSession, NoLoginResponseInTimeIsALoginTimeout) {
  Harness h;
  h.connect();
  EXPECT_THAT(h.advance(h.config.login_timeout - milliseconds(1)), IsEmpty());
  auto timed_out = h.advance(milliseconds(1));
  EXPECT_THAT(closes(timed_out), ElementsAre(DisconnectReason::hello_timeout));
  ASSERT_TRUE(last_state(timed_out));
  EXPECT_EQ(last_state(timed_out)->detail, "login timeout; retry in 1.0 s");
  EXPECT_EQ(h.session.backoff_failures(), 1);
}

TEST(McsSession, TheServerVersionByteIsChecked) {
  struct Row {
    std::uint8_t version;
    bool accepted;
  };
  for (const Row& row : {Row{41, true}, Row{42, true}, Row{38, true}, Row{40, false}, Row{0, false}}) {
    SCOPED_TRACE(static_cast<int>(row.version));
    Harness h;
    h.connect();
    auto a = h.server(version_byte(row.version) + frame(Tag::login_response, login_response_body({})));
    if (row.accepted) {
      EXPECT_EQ(h.session.state(), SessionState::ready);
      EXPECT_FALSE(has<action::Close>(a));
    } else {
      EXPECT_THAT(closes(a), ElementsAre(DisconnectReason::protocol_violation));
      ASSERT_TRUE(last_state(a));
      EXPECT_THAT(last_state(a)->detail, HasSubstr("MCS: version"));
    }
  }
}

TEST(McsSession, TheServerHeartbeatIntervalIsAdoptedWithinBounds) {
  struct Row {
    std::optional<int> offered_ms;
    Duration expected;
    bool warned;
  };
  const Row rows[] = {
      {std::nullopt, minutes(5), false},
      {120'000, seconds(120), false},
      {30'000, seconds(30), false},
      {3'600'000, minutes(60), false},
      {29'999, minutes(5), true},
      {3'600'001, minutes(5), true},
      {-5, minutes(5), true},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.offered_ms.value_or(0));
    Harness h;
    auto a = h.ready(row.offered_ms);
    EXPECT_EQ(h.session.heartbeat_interval(), row.expected);
    EXPECT_EQ(h.session.next_wakeup(h.now), row.expected);
    EXPECT_EQ(has<action::Warn>(a), row.warned);
  }
}

// ---- bytes in pieces ------------------------------------------------------------

TEST(McsSession, ADataMessageSplitIntoPiecesIsDeliveredOnce) {
  DataMessage m = web_push("0:1700000000000000%7031b2e6f9fd7ecd", std::string(300, 'x'));
  const std::string bytes = data_frame(m);
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{7}, bytes.size() - 1}) {
    SCOPED_TRACE(piece);
    Harness h;
    h.ready();
    std::vector<action::Deliver> delivered;
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
      EXPECT_THAT(delivered, IsEmpty()) << "delivered before its last byte";
      auto a = h.server(std::string_view(bytes).substr(at, piece));
      for (auto& d : all_of<action::Deliver>(a)) delivered.push_back(d);
    }
    ASSERT_EQ(delivered.size(), 1U);
    EXPECT_EQ(delivered[0].persistent_id, m.persistent_id);
    EXPECT_EQ(delivered[0].notification.data, base64url_encode(as_bytes(*m.raw_data)));
    EXPECT_EQ(h.session.frames_received(), 2);
    EXPECT_EQ(h.session.last_stream_id_received(), 1) << "not acked yet";
  }
}

TEST(McsSession, TwoMessagesInOnePieceAreBothDeliveredInOrder) {
  Harness h;
  h.connect();
  // The LoginResponse and two messages in a single read.
  auto a = h.server(login_ok() + data_frame(web_push("0:1%a")) + data_frame(web_push("0:2%b")));
  EXPECT_EQ(h.session.state(), SessionState::ready);
  auto delivered = all_of<action::Deliver>(a);
  ASSERT_EQ(delivered.size(), 2U);
  EXPECT_EQ(delivered[0].persistent_id, "0:1%a");
  EXPECT_EQ(delivered[1].persistent_id, "0:2%b");
  EXPECT_EQ(h.session.frames_received(), 3);
  EXPECT_EQ(h.session.last_stream_id_received(), 1) << "not acked yet";
}

TEST(McsSession, DeliverCarriesTheAppIdTheNotificationAndTheHeaders) {
  struct Row {
    std::string name;
    DataMessage message;
    std::string app_id;
    std::string version;
    std::optional<std::string> data;
    std::optional<protocol::NotificationHeaders> headers;
  };
  DataMessage subtype = web_push("0:1%a", "abc");
  DataMessage category = web_push("0:2%b", "abc");
  category.app_data = {{"content-encoding", "aes128gcm"}};
  category.category = "wp:app-2";
  DataMessage aesgcm = web_push("0:3%c", "abc");
  aesgcm.app_data = {{"subtype", "wp:app-3"},
                     {"content-encoding", "aesgcm"},
                     {"encryption", "salt=c2FsdA"},
                     {"crypto-key", "dh=BDk;p256ecdsa=BA"}};
  DataMessage no_data = web_push("0:4%d");
  no_data.raw_data.reset();
  DataMessage no_id = web_push("", "abc");
  DataMessage empty_subtype = web_push("0:5%e", "abc");
  empty_subtype.app_data = {{"subtype", ""}};
  empty_subtype.category = "wp:app-5";

  const Row rows[] = {
      {"subtype", subtype, "wp:app-1", "0:1%a", "YWJj", protocol::NotificationHeaders{"aes128gcm", "", ""}},
      {"category", category, "wp:app-2", "0:2%b", "YWJj", protocol::NotificationHeaders{"aes128gcm", "", ""}},
      {"aesgcm", aesgcm, "wp:app-3", "0:3%c", "YWJj",
       protocol::NotificationHeaders{"aesgcm", "salt=c2FsdA", "dh=BDk;p256ecdsa=BA"}},
      {"no raw_data", no_data, "wp:app-1", "0:4%d", std::nullopt, std::nullopt},
      {"no persistent id", no_id, "wp:app-1", "stream-1-2", "YWJj", protocol::NotificationHeaders{"aes128gcm", "", ""}},
      {"empty subtype", empty_subtype, "wp:app-5", "0:5%e", "YWJj", protocol::NotificationHeaders{"", "", ""}},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    Harness h;
    h.ready();
    auto delivered = all_of<action::Deliver>(h.server(data_frame(row.message)));
    ASSERT_EQ(delivered.size(), 1U);
    const action::Deliver& d = delivered[0];
    EXPECT_EQ(d.persistent_id, row.message.persistent_id);
    EXPECT_EQ(d.app_id, row.app_id);
    EXPECT_EQ(d.notification.channel_id, "");
    EXPECT_EQ(d.notification.version, row.version);
    EXPECT_EQ(d.notification.data, row.data);
    ASSERT_EQ(d.notification.headers.has_value(), row.headers.has_value());
    if (row.headers) {
      EXPECT_EQ(d.notification.headers->encoding, row.headers->encoding);
      EXPECT_EQ(d.notification.headers->encryption, row.headers->encryption);
      EXPECT_EQ(d.notification.headers->crypto_key, row.headers->crypto_key);
    }
  }
}

TEST(McsSession, MessagesWithoutAPersistentIdGetVersionsUniqueAcrossConnections) {
  Harness h;
  h.ready();
  auto first = all_of<action::Deliver>(h.server(data_frame(web_push("")) + data_frame(web_push(""))));
  h.server(frame(Tag::close, ""));
  h.advance(seconds(1));
  h.on_connected();
  h.server(login_ok());
  auto second = all_of<action::Deliver>(h.server(data_frame(web_push(""))));
  ASSERT_EQ(first.size(), 2U);
  ASSERT_EQ(second.size(), 1U);
  EXPECT_EQ(first[0].notification.version, "stream-1-2");
  EXPECT_EQ(first[1].notification.version, "stream-1-3");
  EXPECT_EQ(second[0].notification.version, "stream-2-2");
}

// ---- acknowledgement ------------------------------------------------------------

TEST(McsSession, AnAckSendsOneSelectiveAckForTheBatch) {
  Harness h;
  h.ready();
  h.server(data_frame(web_push("0:1%a")) + data_frame(web_push("0:2%b")) + data_frame(web_push("0:3%c")));
  EXPECT_THAT(h.sent(Tag::iq_stanza), IsEmpty());

  auto a = h.ack({"0:1%a", "0:2%b", "0:3%c"});
  EXPECT_EQ(all_of<action::Send>(a).size(), 1U);
  const IqStanza iq = h.only_iq();
  EXPECT_EQ(iq.type, IqStanza::Type::set);
  EXPECT_EQ(iq.extension_id, kSelectiveAckExtension);
  EXPECT_EQ(iq.last_stream_id_received, 4);
  EXPECT_THAT(decode_selective_ack(iq.extension_data).value_or(std::vector<std::string>{}),
              ElementsAre("0:1%a", "0:2%b", "0:3%c"));
  EXPECT_THAT(h.session.unconfirmed(), ElementsAre("0:1%a", "0:2%b", "0:3%c"));

  EXPECT_THAT(h.ack({}), IsEmpty());
  EXPECT_THAT(h.ack({""}), IsEmpty());
}

TEST(McsSession, AStreamAckFollowsEveryTenCommittedMessages) {
  Harness h;
  h.ready();
  std::vector<std::string> ids;
  for (int i = 1; i <= 10; ++i) ids.push_back("0:" + std::to_string(i));
  for (const auto& id : ids) h.server(data_frame(web_push(id)));
  EXPECT_THAT(h.sent(Tag::iq_stanza), IsEmpty()) << "nothing is committed before ack()";
  h.ack(ids);
  auto stream_acks = h.iqs(kStreamAckExtension);
  ASSERT_EQ(stream_acks.size(), 1U);
  EXPECT_EQ(stream_acks[0].last_stream_id_received, 11);  // the LoginResponse and ten messages
  EXPECT_EQ(h.iqs(kSelectiveAckExtension).size(), 1U);

  // Acked one at a time: the stream ack comes with the tenth.
  for (int i = 11; i <= 20; ++i) {
    h.server(data_frame(web_push("0:" + std::to_string(i))));
    h.ack({"0:" + std::to_string(i)});
    EXPECT_EQ(h.iqs(kStreamAckExtension).size(), i < 20 ? 1U : 2U) << i;
  }
  EXPECT_EQ(h.iqs(kStreamAckExtension).back().last_stream_id_received, 21);
}

TEST(McsSession, NoStreamAckCoversAMessageNotAcked) {
  struct Row {
    int left_out;       // the message (1..10) not acked
    std::int32_t held;  // the stream id reported until it is
  };
  for (const Row& row : {Row{10, 10}, Row{1, 1}, Row{5, 5}}) {
    SCOPED_TRACE(row.left_out);
    Harness h;
    h.ready();
    for (int i = 1; i <= 10; ++i) h.server(data_frame(web_push("0:" + std::to_string(i))));
    for (int i = 1; i <= 10; ++i) {
      if (i != row.left_out) h.ack({"0:" + std::to_string(i)});
    }
    EXPECT_THAT(h.iqs(kStreamAckExtension), IsEmpty());
    EXPECT_EQ(h.session.last_stream_id_received(), row.held);
    for (const IqStanza& iq : h.iqs(kSelectiveAckExtension)) {
      EXPECT_LE(iq.last_stream_id_received.value_or(0), row.held);
    }
    h.advance(minutes(5));
    EXPECT_EQ(h.last_reported(Tag::heartbeat_ping), row.held);

    h.ack({"0:" + std::to_string(row.left_out)});
    ASSERT_EQ(h.iqs(kStreamAckExtension).size(), 1U);
    EXPECT_EQ(h.iqs(kStreamAckExtension)[0].last_stream_id_received, 11);
  }
}

TEST(McsSession, AnImmediateAckMessageIsStreamAckedOnceAcked) {
  Harness h;
  h.ready();
  DataMessage m = web_push("0:1%a");
  m.immediate_ack = true;
  h.server(data_frame(m));
  EXPECT_THAT(h.sent(Tag::iq_stanza), IsEmpty());
  h.ack({"0:1%a"});
  ASSERT_EQ(h.iqs(kStreamAckExtension).size(), 1U);
  EXPECT_EQ(h.iqs(kStreamAckExtension)[0].last_stream_id_received, 2);

  // Behind a message not acked yet, it waits for that one too.
  DataMessage later = web_push("0:3%c");
  later.immediate_ack = true;
  h.server(data_frame(web_push("0:2%b")) + data_frame(later));
  h.ack({"0:3%c"});
  EXPECT_EQ(h.iqs(kStreamAckExtension).size(), 1U);
  h.ack({"0:2%b"});
  ASSERT_EQ(h.iqs(kStreamAckExtension).size(), 2U);
  EXPECT_EQ(h.iqs(kStreamAckExtension)[1].last_stream_id_received, 4);
}

TEST(McsSession, EveryReportStopsBeforeAMessageNotAcked) {
  // Each row makes the session send one frame carrying last_stream_id_received.
  struct Row {
    std::string name;
    Tag tag;
    std::function<void(Harness&)> send;
  };
  auto answer_pings = [](Harness& h) { h.server(frame(Tag::heartbeat_ack, encode_heartbeat({}))); };
  const Row rows[] = {
      {"timer ping", Tag::heartbeat_ping,
       [&](Harness& h) {
         answer_pings(h);
         h.advance(minutes(5));
       }},
      {"network change ping", Tag::heartbeat_ping,
       [&](Harness& h) {
         answer_pings(h);
         h.collect(h.session.on_network_change(h.now));
       }},
      {"heartbeat ack", Tag::heartbeat_ack,
       [](Harness& h) { h.server(frame(Tag::heartbeat_ping, encode_heartbeat({}))); }},
      {"selective ack", Tag::iq_stanza, [](Harness& h) { h.ack({"0:older%" + std::to_string(h.received.size())}); }},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    Harness h;
    h.ready();
    auto send_one = [&row](Harness& session) {
      const std::size_t before = session.sent(row.tag).size();
      row.send(session);
      EXPECT_EQ(session.sent(row.tag).size(), before + 1);
    };
    h.server(data_frame(web_push("0:1%a")));  // stream id 2
    send_one(h);
    EXPECT_EQ(h.last_reported(row.tag), 1) << "the message at stream id 2 is not acked";

    h.ack({"0:1%a"});
    EXPECT_EQ(h.last_reported(Tag::iq_stanza), h.session.frames_received()) << "the ack's own IqStanza";
    send_one(h);
    EXPECT_EQ(h.last_reported(row.tag), h.session.frames_received());
    EXPECT_GE(h.session.frames_received(), 2);
  }
}

TEST(McsSession, HeartbeatsAndMessagesInterleaved) {
  Harness h;
  h.ready();                                                   // 1 LoginResponse
  h.server(data_frame(web_push("0:1%a")));                     // 2
  h.server(frame(Tag::heartbeat_ping, encode_heartbeat({})));  // 3
  EXPECT_EQ(h.last_reported(Tag::heartbeat_ack), 1);
  h.server(data_frame(web_push("0:2%b")));                     // 4
  h.server(frame(Tag::heartbeat_ping, encode_heartbeat({})));  // 5
  EXPECT_EQ(h.last_reported(Tag::heartbeat_ack), 1);
  EXPECT_EQ(h.session.uncommitted_messages(), 2U);

  h.ack({"0:2%b"});  // acked out of order: the first still holds the position
  EXPECT_EQ(h.last_reported(Tag::iq_stanza), 1);
  EXPECT_EQ(h.session.uncommitted_messages(), 2U);
  h.ack({"0:1%a"});  // both, and the pings between them
  EXPECT_EQ(h.last_reported(Tag::iq_stanza), 5);
  EXPECT_EQ(h.session.uncommitted_messages(), 0U);

  h.server(frame(Tag::heartbeat_ack, encode_heartbeat({})));   // 6
  h.server(data_frame(web_push("0:3%c")));                     // 7
  h.server(frame(Tag::data_message_stanza, "\xff"));           // 8: unusable, done at once
  h.server(frame(Tag::heartbeat_ping, encode_heartbeat({})));  // 9
  EXPECT_EQ(h.last_reported(Tag::heartbeat_ack), 6);
  h.ack({"0:3%c"});
  h.server(frame(Tag::heartbeat_ping, encode_heartbeat({})));  // 10
  EXPECT_EQ(h.last_reported(Tag::heartbeat_ack), 10);
  EXPECT_EQ(h.session.last_stream_id_received(), 10);
}

TEST(McsSession, AMessageWithoutAPersistentIdIsAckedByItsVersion) {
  Harness h;
  h.ready();
  DataMessage m = web_push("");
  m.immediate_ack = true;
  auto delivered = all_of<action::Deliver>(h.server(data_frame(m)));
  ASSERT_EQ(delivered.size(), 1U);
  ASSERT_EQ(delivered[0].notification.version, "stream-1-2");
  EXPECT_EQ(h.session.last_stream_id_received(), 1);

  h.ack({delivered[0].notification.version});
  EXPECT_EQ(h.session.last_stream_id_received(), 2);
  EXPECT_THAT(h.iqs(kSelectiveAckExtension), IsEmpty()) << "the server knows no such id";
  ASSERT_EQ(h.iqs(kStreamAckExtension).size(), 1U);  // it asked for an immediate ack
  EXPECT_EQ(h.iqs(kStreamAckExtension)[0].last_stream_id_received, 2);
  EXPECT_THAT(h.session.unconfirmed(), IsEmpty());

  // Acked after its connection ended: still nothing to tell the server.
  h.server(data_frame(web_push("")));
  h.server(frame(Tag::close, ""));
  h.advance(seconds(1));
  h.on_connected();
  h.server(login_ok());
  EXPECT_THAT(h.ack({"stream-1-3"}), IsEmpty());
  EXPECT_THAT(h.session.unconfirmed(), IsEmpty());
}

TEST(McsSession, ARedeliveredIdIsCommittedByOneAck) {
  Harness h;
  h.ready();
  h.server(data_frame(web_push("0:1%a")) + data_frame(web_push("0:1%a")));
  EXPECT_EQ(h.session.uncommitted_messages(), 2U);
  h.ack({"0:1%a"});
  EXPECT_EQ(h.session.uncommitted_messages(), 0U);
  EXPECT_EQ(h.session.last_stream_id_received(), 3);
}

TEST(McsSession, AMessageNotCommittedBeforeTheConnectionEndsIsNotReported) {
  Harness h;
  h.ready();
  h.server(data_frame(web_push("0:1%a")));
  h.collect(h.session.on_closed(DisconnectReason::io_error, h.now));
  EXPECT_EQ(h.session.uncommitted_messages(), 0U);
  h.advance(seconds(1));
  h.on_connected();
  h.server(login_ok());
  // Stored late: acked by id on the new connection, and presented at the next login.
  h.ack({"0:1%a"});
  EXPECT_EQ(h.last_reported(Tag::iq_stanza), 1);
  EXPECT_THAT(h.iqs(kStreamAckExtension), IsEmpty());
  EXPECT_THAT(h.session.unconfirmed(), ElementsAre("0:1%a"));
}

TEST(McsSession, ALargeBatchIsAckedInIqStanzasWithinTheLimit) {
  Harness h;
  h.ready();
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) ids.push_back(google_like_id(i));
  const std::string too_long(kMaxSentMessageBytes + 1, 'x');
  std::vector<std::string> batch = ids;
  batch.insert(batch.begin() + 150, too_long);
  auto a = h.ack(batch);
  ASSERT_EQ(all_of<action::Warn>(a).size(), 1U);
  EXPECT_THAT(all_of<action::Warn>(a)[0].text, HasSubstr("4097 bytes"));
  std::vector<std::string> acked;
  for (const auto& f : h.sent(Tag::iq_stanza)) {
    EXPECT_LE(f.body.size(), kMaxSentMessageBytes);
    auto iq = decode_iq_stanza(f.body);
    ASSERT_TRUE(iq.has_value());
    auto listed = decode_selective_ack(iq->extension_data);
    ASSERT_TRUE(listed.has_value());
    acked.insert(acked.end(), listed->begin(), listed->end());
  }
  EXPECT_GT(h.sent(Tag::iq_stanza).size(), 1U);
  EXPECT_EQ(acked, ids);
  EXPECT_EQ(h.session.unconfirmed().size(), h.config.max_unconfirmed) << "the too long id is not kept";
  EXPECT_EQ(h.session.unconfirmed().back(), ids.back());
}

TEST(McsSession, AcksFromTheServerAreCountedAndOtherIqsIgnored) {
  Harness h;
  h.ready();
  const std::vector<std::string> ids{"0:1%a"};
  auto a = h.server(frame(Tag::iq_stanza, encode_selective_ack(ids, 3)) + frame(Tag::iq_stanza, encode_stream_ack(4)));
  EXPECT_EQ(h.session.server_acks(), 2U);
  // An IQ without an extension (type GET, id "x"): nothing to do.
  a = h.server(frame(Tag::iq_stanza, pb_varint(2, 0) + pb_bytes(3, "x")));
  EXPECT_THAT(a, IsEmpty());
  EXPECT_EQ(h.session.bad_frames(), 0U);
  EXPECT_EQ(h.session.state(), SessionState::ready);
}

// ---- liveness ------------------------------------------------------------------

TEST(McsSession, PingsAfterTheIntervalAndNoticesADeadLink) {
  Harness h;
  h.ready();
  h.server(data_frame(web_push("0:1%a")));  // inbound traffic does not delay the ping
  EXPECT_THAT(h.advance(minutes(5) - milliseconds(1)), IsEmpty());
  h.advance(milliseconds(1));
  ASSERT_EQ(h.sent(Tag::heartbeat_ping).size(), 1U);
  auto ping = decode_heartbeat(h.sent(Tag::heartbeat_ping)[0].body);
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->last_stream_id_received, 1);  // the message is not acked
  EXPECT_EQ(h.session.next_wakeup(h.now), h.config.heartbeat_timeout);

  EXPECT_FALSE(has<action::Close>(h.advance(h.config.heartbeat_timeout - milliseconds(1))));
  auto dead = h.advance(milliseconds(1));  // six minutes after the login: heartbeat + timeout
  EXPECT_THAT(closes(dead), ElementsAre(DisconnectReason::ping_timeout));
  EXPECT_EQ(h.session.state(), SessionState::backing_off);
  ASSERT_TRUE(last_state(dead));
  EXPECT_EQ(last_state(dead)->detail,
            "heartbeat timeout: nothing received within 60.0 s of a HeartbeatPing; retry in 1.0 s");
  EXPECT_EQ(h.session.next_wakeup(h.now), seconds(1));
  EXPECT_TRUE(has<action::Connect>(h.advance(seconds(1))));
}

TEST(McsSession, AnyInboundByteAnswersAPing) {
  Harness h;
  h.ready();
  h.advance(minutes(5));
  ASSERT_EQ(h.sent(Tag::heartbeat_ping).size(), 1U);
  h.advance(seconds(30));
  h.server(frame(Tag::heartbeat_ack, encode_heartbeat({})));
  // No more deadline: the next ping is due five minutes after the last one.
  EXPECT_EQ(h.session.next_wakeup(h.now), minutes(5) - seconds(30));
  EXPECT_FALSE(has<action::Close>(h.advance(minutes(5) - seconds(30))));
  EXPECT_EQ(h.sent(Tag::heartbeat_ping).size(), 2U);
}

TEST(McsSession, AResumePingsAtOnce) {
  Harness h;
  h.ready();
  h.now.boot += minutes(1);  // suspended for a minute: only the boot clock moved
  h.advance(milliseconds(10));
  EXPECT_EQ(h.sent(Tag::heartbeat_ping).size(), 1U);
}

TEST(McsSession, AServerPingIsAnswered) {
  Harness h;
  h.ready();
  auto a = h.server(frame(Tag::heartbeat_ping, encode_heartbeat(Heartbeat{.last_stream_id_received = 1})));
  ASSERT_EQ(h.sent(Tag::heartbeat_ack).size(), 1U);
  auto ack = decode_heartbeat(h.sent(Tag::heartbeat_ack)[0].body);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->last_stream_id_received, 2);
  EXPECT_FALSE(has<action::Close>(a));
}

TEST(McsSession, ANetworkChangeProbesTheLinkOrSkipsTheWait) {
  Harness h;
  h.ready();
  h.collect(h.session.on_network_change(h.now));
  EXPECT_EQ(h.sent(Tag::heartbeat_ping).size(), 1U);
  h.collect(h.session.on_closed(DisconnectReason::io_error, h.now));
  EXPECT_EQ(h.session.state(), SessionState::backing_off);
  EXPECT_TRUE(has<action::Connect>(h.session.on_network_change(h.now)));
}

// ---- ending and reconnecting ----------------------------------------------------

TEST(McsSession, AServerCloseReconnectsWithBackoffAndAFreshStreamCount) {
  Harness h;
  h.ready();
  h.server(data_frame(web_push("0:1%a")));
  auto closed = h.server(frame(Tag::close, ""));
  EXPECT_THAT(closes(closed), ElementsAre(DisconnectReason::server_close));
  EXPECT_EQ(h.session.state(), SessionState::backing_off);
  EXPECT_TRUE(has<action::Connect>(h.advance(seconds(1))));
  h.on_connected();
  h.server(login_ok());
  EXPECT_EQ(h.session.last_stream_id_received(), 1);

  // Dropped again at once: the backoff grows; after a connection that lived
  // past reset_window it starts over.
  h.server(frame(Tag::close, ""));
  EXPECT_EQ(h.session.next_wakeup(h.now), seconds(2));
  h.advance(seconds(2));
  h.on_connected();
  h.server(login_ok());
  h.advance(h.config.reset_window);
  auto last = h.server(frame(Tag::close, ""));
  ASSERT_TRUE(last_state(last));
  EXPECT_THAT(last_state(last)->detail, HasSubstr("retry in 1.0 s"));
}

TEST(McsSession, AStreamErrorEndsTheConnection) {
  Harness h;
  h.ready();
  auto a = h.server(frame(Tag::stream_error_stanza, pb_bytes(1, "internal-server-error") + pb_bytes(2, "try later")));
  EXPECT_THAT(closes(a), ElementsAre(DisconnectReason::protocol_violation));
  ASSERT_EQ(all_of<action::Warn>(a).size(), 1U);
  EXPECT_THAT(all_of<action::Warn>(a)[0].text, HasSubstr("internal-server-error"));
}

TEST(McsSession, StoreFailureAndStop) {
  Harness h;
  h.ready();
  EXPECT_THAT(closes(h.session.on_store_failure(h.now)), ElementsAre(DisconnectReason::store_failure));
  EXPECT_EQ(h.session.state(), SessionState::backing_off);
  auto stopped = h.session.stop(h.now);
  EXPECT_THAT(closes(stopped), IsEmpty());  // no socket while backing off
  EXPECT_EQ(h.session.state(), SessionState::idle);
  EXPECT_EQ(h.session.next_wakeup(h.now), std::nullopt);

  h.ready();
  EXPECT_THAT(closes(h.session.stop(h.now)), ElementsAre(DisconnectReason::shutdown));
  EXPECT_THAT(h.session.on_bytes(data_frame(web_push("0:1%a")), h.now), IsEmpty());
}

// ---- frames it cannot use ------------------------------------------------------

TEST(McsSession, UnusableFramesAreIgnored) {
  struct Row {
    std::string name;
    std::string bytes;
    std::string warning;
  };
  const Row rows[] = {
      {"garbage data message", frame(Tag::data_message_stanza, "\xff\xff\xff"), "malformed"},
      {"data message without its category", frame(Tag::data_message_stanza, pb_bytes(3, "1234")), "malformed"},
      {"garbage heartbeat", frame(Tag::heartbeat_ping, "\x0a"), "malformed"},
      {"garbage iq", frame(Tag::iq_stanza, "\xff"), "malformed"},
      {"unknown tag", frame(std::uint8_t{16}, "abc"), "MCS tag 16"},
      {"tag 200", frame(std::uint8_t{200}, ""), "MCS tag 200"},
      {"presence stanza", frame(Tag::presence_stanza, ""), "presence_stanza"},
      {"second login response", frame(Tag::login_response, login_response_body({})), "LoginResponse"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    Harness h;
    h.ready();
    auto a = h.server(row.bytes);
    EXPECT_THAT(closes(a), IsEmpty());
    ASSERT_EQ(all_of<action::Warn>(a).size(), 1U);
    EXPECT_THAT(all_of<action::Warn>(a)[0].text, HasSubstr(row.warning));
    EXPECT_EQ(h.session.bad_frames(), 1U);
    EXPECT_THAT(h.sent(Tag::heartbeat_ack), IsEmpty());
    // The stream goes on.
    EXPECT_EQ(all_of<action::Deliver>(h.server(data_frame(web_push("0:1%a")))).size(), 1U);
    EXPECT_EQ(h.session.state(), SessionState::ready);
  }
}

TEST(McsSession, MessagesBeforeTheLoginResponseAreIgnored) {
  Harness h;
  h.connect();
  auto a = h.server(version_byte() + data_frame(web_push("0:1%a")));
  EXPECT_FALSE(has<action::Deliver>(a));
  EXPECT_EQ(h.session.bad_frames(), 1U);
  EXPECT_EQ(h.session.state(), SessionState::handshaking);
  h.server(frame(Tag::login_response, login_response_body({})));
  EXPECT_EQ(h.session.state(), SessionState::ready);
}

TEST(McsSession, AFloodOfBadFramesEndsTheConnection) {
  Harness h;
  h.ready();
  std::string flood;
  for (int i = 0; i < h.config.max_bad_frames_per_minute; ++i) flood += frame(std::uint8_t{99}, "");
  auto a = h.server(flood);
  EXPECT_THAT(closes(a), IsEmpty());
  EXPECT_EQ(all_of<action::Warn>(a).size(), 1U);  // one line per kind per minute
  a = h.server(frame(Tag::data_message_stanza, "\xff") + data_frame(web_push("0:1%a")));
  EXPECT_THAT(closes(a), ElementsAre(DisconnectReason::protocol_violation));
  EXPECT_FALSE(has<action::Deliver>(a)) << "nothing is read after the connection ended";
  ASSERT_TRUE(last_state(a));
  EXPECT_THAT(last_state(a)->detail, HasSubstr("unusable frames"));
}

TEST(McsSession, AFrameOverTheLimitEndsTheConnection) {
  McsSessionConfig config;
  config.max_frame_size = 1024;
  Harness h(config);
  h.ready();
  DataMessage big = web_push("0:1%a", std::string(2000, 'x'));
  auto a = h.server(data_frame(big).substr(0, 10));  // refused from its length alone
  EXPECT_THAT(closes(a), ElementsAre(DisconnectReason::protocol_violation));
  EXPECT_FALSE(has<action::Deliver>(a));
  EXPECT_THAT(h.session.on_bytes(data_frame(big).substr(10), h.now), IsEmpty());
}

}  // namespace fcm_mcs_session_test
}  // namespace webpush::fcm
