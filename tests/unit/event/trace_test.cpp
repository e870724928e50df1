// Trace lines: the quoting rule (table, and a round trip of every byte value
// through a decoder of the documented rule), the fields, and shorten_frame on
// the frames autopush exchanges and on hostile ones (invalid JSON, huge, deep,
// non-UTF-8), with what must never be kept of a secret.
#include "webpush/event/trace.h"

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "webpush/core/bytes.h"
#include "webpush/core/utf8.h"

namespace webpush::event {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

// ---- quote_trace_value ----------------------------------------------------------

struct QuoteRow {
  std::string in;
  std::string out;
};

TEST(QuoteTraceValue, Table) {
  const std::vector<QuoteRow> rows = {
      // Bare: printable ASCII without space, quotes or backslash.
      {"abc", "abc"},
      {"127.0.0.1:8080", "127.0.0.1:8080"},
      {"ws://127.0.0.1:8080/", "ws://127.0.0.1:8080/"},
      {"a=b", "a=b"},
      {"{}", "{}"},
      // Quoted.
      {"", "''"},
      {"a b", "'a b'"},
      {"it's", R"('it\'s')"},
      {R"(say "hi")", R"('say "hi"')"},
      {R"(back\slash)", R"('back\\slash')"},
      {"line\nbreak\r\n", R"('line\nbreak\r\n')"},
      {"tab\there", R"('tab\there')"},
      {std::string("nul\0x", 5), R"('nul\x00x')"},
      {"\x01\x1f\x7f", R"('\x01\x1f\x7f')"},
      {"caf\xc3\xa9", "'caf\xc3\xa9'"},       // valid UTF-8 is kept
      {"\xe2\x80\xa6", "'\xe2\x80\xa6'"},     // "…"
      {"\xff", R"('\xff')"},                  // not UTF-8
      {"\xc3", R"('\xc3')"},                  // a truncated sequence
      {"\xc0\xaf", R"('\xc0\xaf')"},          // overlong
      {"\xed\xa0\x80", R"('\xed\xa0\x80')"},  // a surrogate
  };
  for (const auto& row : rows) {
    EXPECT_EQ(quote_trace_value(row.in), row.out) << "input '" << row.in << "'";
  }
}

// The documented rule, read back: the inverse of quote_trace_value.
std::string unquote(const std::string& v) {
  if (v.empty() || v.front() != '\'') return v;
  std::string out;
  for (std::size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] != '\\') {
      out += v[i];
      continue;
    }
    const char e = v[++i];
    if (e == 'n') {
      out += '\n';
    } else if (e == 'r') {
      out += '\r';
    } else if (e == 't') {
      out += '\t';
    } else if (e == 'x') {
      out += static_cast<char>(std::stoi(v.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += e;  // \\ and \'
    }
  }
  return out;
}

TEST(QuoteTraceValue, EveryByteValueRoundTripsOnOneLineOfValidUtf8) {
  std::mt19937 rng(14);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 40);
  for (int n = 0; n < 2000; ++n) {
    std::string in;
    const int len = n < 256 ? 1 : length(rng);
    for (int i = 0; i < len; ++i) in += static_cast<char>(n < 256 ? n : byte(rng));
    const std::string out = quote_trace_value(in);
    EXPECT_EQ(unquote(out), in);
    EXPECT_EQ(out.find_first_of("\n\r"), std::string::npos);
    EXPECT_TRUE(is_valid_utf8(as_bytes(out))) << out;
    if (out.empty() || out.front() != '\'') {
      EXPECT_EQ(out.find(' '), std::string::npos) << "bare with a space";
    }
  }
}

// ---- TraceFields ------------------------------------------------------------------

TEST(TraceFields, WritesKeyValuePairsByTheRule) {
  TraceFields f;
  f.add("conn", 3)
      .add("url", "ws://127.0.0.1:8080/")
      .add("reason", std::string("server close"))
      .add("live", true)
      .add("size", std::size_t{0})
      .add_ms("ms", std::chrono::microseconds(1'234'567))
      .add_ms("rtt_ms", std::chrono::nanoseconds(999))
      .add("empty", "");
  EXPECT_EQ(f.str(),
            "conn=3 url=ws://127.0.0.1:8080/ reason='server close' live=true size=0 ms=1234.567 rtt_ms=0.000 "
            "empty=''");
}

TEST(Trace, WritesNothingWhileOffAndOneLinePerEventWhileOn) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  int filled = 0;
  trace("ignored", [&](TraceFields& f) { f.add("n", ++filled); });
  EXPECT_EQ(filled, 0) << "the fields were formatted with tracing off";
  Trace::enable(out);
  trace("ws.in", [&](TraceFields& f) { f.add("conn", 1).add("frame", "{\"a\":1}"); });
  Trace::emit("inbox.committed", "id=v1");
  Trace::enable(nullptr);
  trace("ignored", [&](TraceFields& f) { f.add("n", ++filled); });
  EXPECT_EQ(filled, 0);
  std::rewind(out);
  char buf[512] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, out);
  std::fclose(out);
  const std::string text(buf, n);
  EXPECT_THAT(text, MatchesRegex("[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6} ws\\.in conn=1 frame='\\{\"a\":1\\}'\n"
                                 "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6} inbox\\.committed id=v1\n"));
}

// ---- shorten_frame ----------------------------------------------------------------

struct FrameRow {
  const char* what;
  std::string in;
  std::string out;
};

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

// JSON written with single quotes, for legibility: j("{'a':1}") is {"a":1}.
std::string j(std::string text) {
  for (auto& c : text) {
    if (c == '\'') c = '"';
  }
  return text;
}

TEST(ShortenFrame, AutopushFrames) {
  const std::string uaid = "5f3c1a2b9d8e7f6011223344556677aa";
  const std::string cid = "0b5ffc2e-8d8c-4f2a-9b1e-3c3d2b1a0f9e";
  const std::string key = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
  const std::string data = "8NTdbm5W" + repeat('x', 136);                                     // 144 bytes
  const std::string endpoint = "http://127.0.0.1:8080/wpush/v2/gAAAAABl" + repeat('Q', 140);  // 179 bytes
  const std::string dh = "dh=BNoRDbb84JGm8g5Z5CFxurSqsXWJ11ItfXEWYVLE85Y7CYkDjXsIEc4aqxYaQ1G8BqkXCJ6DPpDrWtdWj_mugHU";
  const std::vector<FrameRow> rows = {
      {"ping", "{}", "{}"},
      {"hello out", j("{'messageType':'hello','uaid':'" + uaid + "','channelIDs':['" + cid + "'],'use_webpush':true}"),
       j("{'messageType':'hello','uaid':'5f3c1a2b…(32)','channelIDs':['" + cid + "'],'use_webpush':true}")},
      {"hello out, no uaid", j("{'messageType':'hello','uaid':'','use_webpush':true}"),
       j("{'messageType':'hello','uaid':'','use_webpush':true}")},
      {"register with a key", j("{'messageType':'register','channelID':'c1','key':'" + key + "'}"),
       j("{'messageType':'register','channelID':'c1','key':'BCVxsr7N…(87)'}")},
      {"register reply", j("{'messageType':'register','status':200,'pushEndpoint':'" + endpoint + "'}"),
       j("{'messageType':'register','status':200,'pushEndpoint':'http://127.0.0.1:8080/wpush/v2/gAAAAABl…(179)'}")},
      {"notification",
       j("{'messageType':'notification','channelID':'c1','version':'v-17','data':'" + data +
         "','headers':{'encoding':'aes128gcm'},'ttl':60}"),
       j("{'messageType':'notification','channelID':'c1','version':'v-17','data':'8NTdbm5W…(144)',"
         "'headers':{'encoding':'aes128gcm'},'ttl':60}")},
      {"aesgcm headers", j("{'headers':{'crypto_key':'" + dh + "','encryption':'salt=lngarbyKfMoi9Z75xYXmkg'}}"),
       j("{'headers':{'crypto_key':'dh=BNoRD…(90)','encryption':'salt=lngarbyKfMoi9Z75xYXmkg'}}")},
      {"ack", j("{'messageType':'ack','updates':[{'channelID':'c1','version':'v-17','code':100}]}"),
       j("{'messageType':'ack','updates':[{'channelID':'c1','version':'v-17','code':100}]}")},
  };
  for (const auto& row : rows) EXPECT_EQ(shorten_frame(row.in), row.out) << row.what;
}

TEST(ShortenFrame, SecretsKeepNothingWhereverTheyAre) {
  const std::string secret = "xN8ZisAM2e7QfjL6xDBBRQ";
  const std::vector<FrameRow> rows = {
      {"auth", j("{'keys':{'p256dh':'BKW9Ps9K" + repeat('a', 79) + "','auth':'" + secret + "'}}"),
       j("{'keys':{'p256dh':'BKW9Ps9K…(87)','auth':'…(22)'}}")},
      {"any case, inside a name", j("{'AuthSecret':'" + secret + "'}"), j("{'AuthSecret':'…(22)'}")},
      {"private key", j("{'private_key':'" + secret + "'}"), j("{'private_key':'…(22)'}")},
      {"token", j("{'Token':'" + secret + "'}"), j("{'Token':'…(22)'}")},
      {"an array under a secret", j("{'secret':['" + secret + "','ab']}"), j("{'secret':['…(22)','…(2)']}")},
      {"an object under a secret", j("{'auth':{'value':'" + secret + "'}}"), j("{'auth':{'value':'…(22)'}}")},
      {"a looser key inside a secret", j("{'auth':{'data':'" + secret + "'}}"), j("{'auth':{'data':'…(22)'}}")},
      {"short data keeps nothing", j("{'data':'aGVsbG8'}"), j("{'data':'…(7)'}")},
      {"unterminated", j("{'auth':'" + secret), j("{'auth':'…(22)'")},
  };
  for (const auto& row : rows) {
    const std::string out = shorten_frame(row.in);
    EXPECT_EQ(out, row.out) << row.what;
    EXPECT_THAT(out, Not(HasSubstr(secret.substr(0, 6)))) << row.what;
  }
}

TEST(ShortenFrame, LongPlainStringsKeepTheirStart) {
  const std::string exactly = repeat('a', kTraceStringMax);
  EXPECT_EQ(shorten_frame(j("['" + exactly + "']")), j("['" + exactly + "']"));
  EXPECT_EQ(shorten_frame(j("['" + exactly + "b']")), j("['" + repeat('a', 48) + "…(65)']"));
  EXPECT_EQ(shorten_frame(j("{'reason':'" + repeat('r', 100) + "'}")), j("{'reason':'" + repeat('r', 48) + "…(100)'}"));
}

TEST(ShortenFrame, AKeptPrefixSplitsNoEscapeAndNoUtf8Sequence) {
  // 47 bytes, then an escape that would end past 48: the prefix stops before it.
  EXPECT_EQ(shorten_frame(j("['" + repeat('a', 47) + "\\u00e9" + repeat('b', 30) + "']")),
            j("['" + repeat('a', 47) + "…(83)']"));
  EXPECT_EQ(shorten_frame(j("['" + repeat('a', 47)) + "\\\"" + j(repeat('b', 30) + "']")),
            j("['" + repeat('a', 47) + "…(79)']"));
  // 47 bytes, then "é" (2 bytes).
  EXPECT_EQ(shorten_frame(j("['" + repeat('a', 47) + "\xc3\xa9" + repeat('b', 30) + "']")),
            j("['" + repeat('a', 47) + "…(79)']"));
  // An escaped quote does not end a string.
  EXPECT_EQ(shorten_frame(j("{'data':'abc") + "\\\"" + j("defghijklmnopqrstuvwxyz'}")),
            j("{'data':'abc") + "\\\"" + j("def…(28)'}"));
}

TEST(ShortenFrame, WhatIsNotJsonIsCopied) {
  const std::vector<FrameRow> rows = {
      {"text", "hello world", "hello world"},
      {"empty", "", ""},
      {"stray closers", "]]}}", "]]}}"},
      {"a key without a value", j("{'uaid'"), j("{'uaid'")},
      {"pretty-printed", "{\n  \"uaid\": \"5f3c1a2b9d8e7f6011223344556677aa\"\n}",
       "{\n  \"uaid\": \"5f3c1a2b…(32)\"\n}"},
      {"bytes that are not UTF-8", "\xff\xfe{\"a\":\"\xc3\"}", "\xff\xfe{\"a\":\"\xc3\"}"},
  };
  for (const auto& row : rows) EXPECT_EQ(shorten_frame(row.in), row.out) << row.what;
}

TEST(ShortenFrame, AHugeFrameIsCutAtTheLimit) {
  const std::string out = shorten_frame(repeat('[', 1 << 20));
  EXPECT_EQ(out, repeat('[', kTraceFrameMax) + "…");
  const std::string many = shorten_frame("[" + repeat('1', 1 << 20) + "]");
  EXPECT_EQ(many.size(), kTraceFrameMax + std::string("…").size());
  // Strings are whole units: one may end the result past the limit, by a bounded amount.
  std::string strings = "[";
  for (int i = 0; i < 10000; ++i) strings += "\"" + repeat('s', 200) + "\",";
  const std::string cut = shorten_frame(strings);
  EXPECT_LE(cut.size(), kTraceFrameMax + 200);
  EXPECT_THAT(cut, EndsWith("…"));
}

TEST(ShortenFrame, PastTheTrackedDepthNothingIsKept) {
  const std::string deep = repeat('[', 70) + j("{'auth':'xN8ZisAM2e7QfjL6xDBBRQ'}") + repeat(']', 70);
  const std::string out = shorten_frame(deep);
  EXPECT_THAT(out, Not(HasSubstr("xN8Zis")));
  EXPECT_THAT(out, HasSubstr(j("{'…(4)':'…(22)'}")));
  // Back at a tracked depth, keys count again.
  EXPECT_EQ(shorten_frame(repeat('[', 70) + repeat(']', 70) + j("{'uaid':'5f3c1a2b9d8e7f6011223344556677aa'}")),
            repeat('[', 70) + repeat(']', 70) + j("{'uaid':'5f3c1a2b…(32)'}"));
}

TEST(ShortenFrame, RandomBytesAndMutatedFramesStayBoundedAndQuotable) {
  const std::string base = j("{'messageType':'notification','channelID':'c1','version':'v','data':'8NTdbm5W" +
                             repeat('x', 40) + "','headers':{'encoding':'aes128gcm'}}");
  std::mt19937 rng(8291);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int n = 0; n < 3000; ++n) {
    std::string frame = base;
    if (n % 2 == 0) {
      frame.resize(std::uniform_int_distribution<std::size_t>(0, 4096)(rng));
      for (auto& c : frame) c = static_cast<char>(byte(rng));
    } else {
      for (int k = 0; k < 4; ++k) {
        frame[std::uniform_int_distribution<std::size_t>(0, frame.size() - 1)(rng)] = static_cast<char>(byte(rng));
      }
    }
    const std::string out = shorten_frame(frame);
    ASSERT_LE(out.size(), kTraceFrameMax + 300);
    const std::string line = quote_trace_value(out);
    ASSERT_EQ(line.find_first_of("\n\r"), std::string::npos);
    ASSERT_TRUE(is_valid_utf8(as_bytes(line)));
  }
}

TEST(NotificationVersion, FindsTheVersionOfANotificationOnly) {
  EXPECT_EQ(notification_version(j("{'messageType':'notification','version':'v-1','channelID':'c'}")), "v-1");
  EXPECT_EQ(notification_version(j("{'messageType':'ack','updates':[{'version':'v-1'}]}")), "");
  EXPECT_EQ(notification_version(j("{'messageType':'notification','version':'unterminated")), "");
}

}  // namespace
}  // namespace webpush::event
