// notification_for() and markup_escape(): pure, no D-Bus.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "test_support.h"
#include "webpush/sinks/notify.h"

namespace webpush::sinks {
namespace {

MessageEvent message(std::optional<Bytes> payload, std::string subscription = "news") {
  MessageEvent m;
  m.subscription = std::move(subscription);
  m.channel_id = "0b5c1f1e-0000-4000-8000-000000000001";
  m.version = "v1";
  m.received_at_ms = 1'795'819'371'123;
  m.payload = std::move(payload);
  m.encoding = "aes128gcm";
  return m;
}

MessageEvent text(std::string_view s, std::string subscription = "news") {
  return message(to_bytes(s), std::move(subscription));
}

NotificationContent content(std::string summary, std::string body) {
  NotificationContent c;
  c.summary = std::move(summary);
  c.body = std::move(body);
  return c;
}

struct Row {
  std::string name;
  MessageEvent event;
  NotificationContent expected;
};

std::string row_name(const ::testing::TestParamInfo<Row>& info) { return info.param.name; }

class NotificationFor : public ::testing::TestWithParam<Row> {};

TEST_P(NotificationFor, Maps) {
  const auto& row = GetParam();
  const auto got = notification_for(row.event);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->summary, row.expected.summary);
  EXPECT_EQ(got->body, row.expected.body);
  EXPECT_EQ(got->icon, row.expected.icon);
  EXPECT_EQ(got->url, row.expected.url);
  EXPECT_EQ(got->tag, row.expected.tag);
  EXPECT_EQ(got->require_interaction, row.expected.require_interaction);
  ASSERT_EQ(got->actions.size(), row.expected.actions.size());
  for (std::size_t i = 0; i < got->actions.size(); ++i) {
    EXPECT_EQ(got->actions[i].key, row.expected.actions[i].key);
    EXPECT_EQ(got->actions[i].label, row.expected.actions[i].label);
  }
}

NotificationContent full() {
  NotificationContent c = content("Build 42 failed", "3 tests broke\nsee the log");
  c.icon = "dialog-error";
  c.url = "https://ci.example.com/builds/42";
  c.tag = "build-42";
  c.actions = {{"retry", "Retry"}, {"mute", "Mute"}};
  c.require_interaction = true;
  return c;
}

NotificationContent with_url(NotificationContent c, std::string url) {
  c.url = std::move(url);
  return c;
}

NotificationContent with_icon(NotificationContent c, std::string icon) {
  c.icon = std::move(icon);
  return c;
}

INSTANTIATE_TEST_SUITE_P(
    Rows, NotificationFor,
    ::testing::Values(
        // What is not a Notification-API object is shown as text or described.
        Row{"PlainText", text("Hello, world"), content("news", "Hello, world")},
        Row{"NoData", message(std::nullopt), content("news", "push without data")},
        Row{"EmptyPayload", message(Bytes{}), content("news", "push without data")},
        Row{"Binary", message(Bytes{0xff, 0xfe, 0x00, 0x01}), content("news", "binary message (4 bytes)")},
        Row{"Overlong", message(Bytes{0xc0, 0xaf}), content("news", "binary message (2 bytes)")},
        Row{"Surrogate", message(Bytes{0xed, 0xa0, 0x80}), content("news", "binary message (3 bytes)")},
        Row{"JsonWithoutTitleOrBody", text(R"({"foo":1})"), content("news", R"({"foo":1})")},
        Row{"JsonArray", text(R"([1,2])"), content("news", "[1,2]")},
        Row{"BrokenJson", text(R"({"title": "x")"), content("news", R"({"title": "x")")},
        Row{"EmptySubscriptionName", text("hi", ""), content("webpushd", "hi")},
        Row{"BlankText", text(" \n\t "), content("news", "message of 4 blank bytes")},
        // The shapes web apps send.
        Row{"Full", text(R"({"title":"Build 42 failed","body":"3 tests broke\nsee the log","icon":"dialog-error",
              "url":"https://ci.example.com/builds/42","tag":"build-42","requireInteraction":true,
              "actions":[{"action":"retry","title":"Retry"},{"action":"mute","title":"Mute"}]})"),
            full()},
        Row{"TitleOnly", text(R"({"title":"Ping"})"), content("Ping", "")},
        Row{"BodyOnly", text(R"({"body":"just a body"})"), content("news", "just a body")},
        Row{"FirebaseWrapper", text(R"({"notification":{"title":"T","body":"B","click_action":"https://a.example/"}})"),
            with_url(content("T", "B"), "https://a.example/")},
        Row{"FirebaseDataUrl", text(R"({"notification":{"title":"T","body":"B"},"data":{"url":"https://c.example/"}})"),
            with_url(content("T", "B"), "https://c.example/")},
        Row{"FirebaseFcmOptionsLink",
            text(R"({"notification":{"title":"T"},"fcm_options":{"link":"https://d.example/"}})"),
            with_url(content("T", ""), "https://d.example/")},
        Row{"DeclarativeWebPush",
            text(R"({"web_push":8030,"notification":{"title":"T","navigate":"https://b.example/x?y=1"}})"),
            with_url(content("T", ""), "https://b.example/x?y=1")},
        Row{"NotificationDataUrl", text(R"({"title":"T","data":{"url":"http://e.example/"}})"),
            with_url(content("T", ""), "http://e.example/")},
        Row{"UppercaseScheme", text(R"({"title":"T","url":"HTTPS://EXAMPLE.COM/"})"),
            with_url(content("T", ""), "HTTPS://EXAMPLE.COM/")},
        Row{"NonStringFieldsIgnored", text(R"({"title":"T","body":5,"url":7,"tag":[],"requireInteraction":"yes"})"),
            content("T", "")},
        // Untrusted fields are refused rather than passed on.
        Row{"JavascriptUrl", text(R"j({"title":"T","url":"javascript:alert(1)"})j"), content("T", "")},
        Row{"FileUrl", text(R"({"title":"T","url":"file:///home/u/evil.desktop"})"), content("T", "")},
        Row{"UrlWithBlank", text(R"({"title":"T","url":"https://a.example/ --help"})"), content("T", "")},
        // a C1 control (U+0085), which no string of NotificationContent may hold
        Row{"UrlWithC1Control", text(R"({"title":"T","url":"https://a.example/\u0085x"})"), content("T", "")},
        Row{"OptionLikeUrl", text(R"({"title":"T","url":"--version"})"), content("T", "")},
        Row{"FirstGoodUrlWins", text(R"({"title":"T","url":"ftp://x/","navigate":"https://ok.example/"})"),
            with_url(content("T", ""), "https://ok.example/")},
        Row{"IconUrl", text(R"({"title":"T","icon":"https://evil.example/pixel.png"})"), content("T", "")},
        Row{"IconPath", text(R"({"title":"T","icon":"/home/u/.ssh/id_ed25519"})"), content("T", "")},
        Row{"IconDots", text(R"({"title":"T","icon":"..secret"})"), content("T", "")},
        Row{"IconThemeName", text(R"({"title":"T","icon":"mail-message-new"})"),
            with_icon(content("T", ""), "mail-message-new")},
        // Text is cleaned, not interpreted: markup stays literal here (the sink escapes the body).
        Row{"MarkupStaysLiteral",
            text(R"({"title":"<b>Hi</b> & co","body":"<b>bold</b> <a href=\"https://evil.example\">x</a> & more"})"),
            content("<b>Hi</b> & co", "<b>bold</b> <a href=\"https://evil.example\">x</a> & more")},
        Row{"ControlCharacters",
            text("a\x01"
                 "b\r\nc\rd\x7f"
                 "e\xc2\x85"
                 "f\ttab"),
            content("news",
                    "ab\nc\nde"
                    "f\ttab")},
        Row{"SummaryIsOneLine", text(R"({"title":"  two\nlines\tand\rtab  ","body":"  trimmed \n"})"),
            content("two lines and tab", "trimmed")},
        Row{"BlankTitleFallsBack", text(R"({"title":" ","body":"b"})"), content("news", "b")},
        Row{"TitleEscapesDecoded", text(R"({"title":"caf\u00e9 \u2603","body":"\u0000nul"})"),
            content("caf\xc3\xa9 \xe2\x98\x83", "nul")}),
    row_name);

TEST(NotificationFor, ActionsAreCheckedAndCapped) {
  const auto got = notification_for(text(R"({"title":"T","url":"https://x.example/","actions":[
      {"action":"default","title":"Reserved"},
      {"action":"","title":"Empty key"},
      {"action":"nolabel","title":""},
      {"action":"ctl\u0001","title":"Control"},
      {"action":"a","title":"A"},
      {"action":"a","title":"Duplicate"},
      {"action":"b","title":" B\nb "},
      {"action":5,"title":"Number"},
      "not an object",
      {"action":"c","title":"C"},
      {"action":"d","title":"D"}]})"));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->actions.size(), kMaxActions);
  EXPECT_EQ(got->actions[0].key, "a");
  EXPECT_EQ(got->actions[1].key, "b");
  EXPECT_EQ(got->actions[1].label, "B b");
  EXPECT_EQ(got->actions[2].key, "c");
}

bool valid_utf8_and_ends_with_ellipsis(const std::string& s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\u2026") == 0;
}

TEST(NotificationFor, LongTextIsCutAtACharacterBoundary) {
  std::string body;
  for (int i = 0; i < 5000; ++i) body += "\xc3\xa9";  // é, two bytes
  const auto got = notification_for(text("{\"title\":\"" + body + "\",\"body\":\"" + body + "\"}"));
  ASSERT_TRUE(got);
  EXPECT_LE(got->summary.size(), kMaxSummaryBytes);
  EXPECT_LE(got->body.size(), kMaxBodyBytes);
  EXPECT_TRUE(valid_utf8_and_ends_with_ellipsis(got->summary));
  EXPECT_TRUE(valid_utf8_and_ends_with_ellipsis(got->body));
  // Everything before the ellipsis is whole é characters.
  const std::string kept = got->body.substr(0, got->body.size() - 3);
  EXPECT_EQ(kept.size() % 2, 0u);
  EXPECT_EQ(kept.find_first_not_of("\xc3\xa9"), std::string::npos);

  const auto plain = notification_for(text(std::string(100'000, 'x')));
  ASSERT_TRUE(plain);
  EXPECT_LE(plain->body.size(), kMaxBodyBytes);
}

TEST(NotificationFor, DecryptErrorShowsNothing) {
  DecryptErrorEvent e{"news", "chan", "v9", 0, "aes128gcm: bad tag"};
  EXPECT_FALSE(notification_for(e).has_value());
}

TEST(NotificationFor, SubscriptionChangeTellsTheUser) {
  SubscriptionChangedEvent e{"news", "https://old.example/1", "https://new.example/2", "{}"};
  const auto got = notification_for(e);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->summary, "Push subscription changed");
  EXPECT_NE(got->body.find("news"), std::string::npos);
  EXPECT_NE(got->body.find("webpushd list --json"), std::string::npos);
  EXPECT_EQ(got->tag, "subscription-changed:news");
  EXPECT_TRUE(got->url.empty());
}

struct EscapeRow {
  std::string in;
  std::string out;
};

class MarkupEscape : public ::testing::TestWithParam<EscapeRow> {};

TEST_P(MarkupEscape, EscapesLikeGlib) { EXPECT_EQ(markup_escape(GetParam().in), GetParam().out); }

INSTANTIATE_TEST_SUITE_P(
    Rows, MarkupEscape,
    ::testing::Values(EscapeRow{"plain text", "plain text"}, EscapeRow{"<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;"},
                      EscapeRow{R"(<a href="https://evil.example/?a=1&b=2">click</a>)",
                                "&lt;a href=&quot;https://evil.example/?a=1&amp;b=2&quot;&gt;click&lt;/a&gt;"},
                      EscapeRow{"Tom & Jerry's", "Tom &amp; Jerry&apos;s"}, EscapeRow{"&amp;", "&amp;amp;"},
                      EscapeRow{"<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"},
                      EscapeRow{"tab\tnl\ncr\r", "tab\tnl\ncr\r"}, EscapeRow{"\x01\x1f\x7f", "&#x1;&#x1f;&#x7f;"},
                      EscapeRow{"\xc2\x80\xc2\x85\xc2\x9f\xc2\xa0", "&#x80;\xc2\x85&#x9f;\xc2\xa0"},
                      EscapeRow{"caf\xc3\xa9 \xe2\x98\x83", "caf\xc3\xa9 \xe2\x98\x83"}));

TEST(NotifySinkFactory, ABuildWithoutLibnotifySaysSo) {
  if (notify_sink_built()) GTEST_SKIP() << "this build has libnotify: unit-sinks-notify tests the sink";
  auto loop = test::make_loop();
  auto sink = make_notify_sink(*loop);
  ASSERT_FALSE(sink);
  EXPECT_TRUE(sink.error().is(Errc::unavailable));
  EXPECT_NE(sink.error().message().find("built without libnotify"), std::string::npos) << sink.error();
}

}  // namespace
}  // namespace webpush::sinks
