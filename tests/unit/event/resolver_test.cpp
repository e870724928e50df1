// transport::detail's resolver (src/transport/resolver.h, internal to the
// transport layer): is_numeric_host, and Resolution on a real loop. It lives
// with the event tests because it is event-driven code (a thread, an eventfd, an
// FdWatch); it is a program of its own so that unit-event links only the event
// layer. Only names that never leave the machine are resolved: "localhost"
// (the hosts file), literals, and a name glibc refuses before asking DNS.
#include "resolver.h"

#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "event_test_support.h"
#include "webpush/transport/errc.h"

namespace webpush::transport::detail {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

struct NumericRow {
  const char* host;
  bool numeric;
};

TEST(IsNumericHost, Table) {
  const std::vector<NumericRow> rows = {
      // IPv4 in dotted-quad form only.
      {"127.0.0.1", true},
      {"0.0.0.0", true},
      {"255.255.255.255", true},
      {"192.0.2.10", true},
      // IPv6 literals, without brackets.
      {"::1", true},
      {"::", true},
      {"2001:db8::1", true},
      {"2001:0db8:0000:0000:0000:0000:0000:0001", true},
      {"::ffff:192.0.2.1", true},
      // Names.
      {"localhost", false},
      {"push.services.mozilla.com", false},
      {"", false},
      // Not literals to inet_pton, though getaddrinfo accepts some of them
      // (inet_aton's legacy forms: "1.2.3" is 1.2.0.3, "0x7f.0.0.1" is 127.0.0.1):
      // they go through the resolver and come back numeric.
      {"1.2.3", false},
      {"01.2.3.4", false},
      {"0x7f.0.0.1", false},
      {"256.1.1.1", false},
      {"1.2.3.4.5", false},
      {"[::1]", false},       // the URL form keeps its brackets out of this
      {"fe80::1%lo", false},  // a zone index is not part of an inet_pton literal
      {" 127.0.0.1", false},
      {"127.0.0.1 ", false},
      {"2001:db8::1::2", false},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(is_numeric_host(row.host), row.numeric) << "host '" << row.host << "'";
  }
}

class ResolutionTest : public event::test::LoopTest {
 protected:
  std::unique_ptr<Resolution> start(std::string host, std::optional<Result<std::vector<std::string>>>& out) {
    auto r = Resolution::start(loop(), std::move(host), [&out, this](Result<std::vector<std::string>> answer) {
      inside_ = event::in_loop_callback();
      out = std::move(answer);
    });
    EXPECT_TRUE(r) << r.error();
    return r ? std::move(*r) : nullptr;
  }

  bool inside_ = false;
};

TEST_F(ResolutionTest, ResolvesLocalhostOnTheLoopThread) {
  std::optional<Result<std::vector<std::string>>> answer;
  auto r = start("localhost", answer);
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(run_until([&] { return answer.has_value(); }));
  ASSERT_TRUE(*answer) << answer->error();
  ASSERT_FALSE((*answer)->empty());
  for (const auto& address : **answer) EXPECT_THAT(address, AnyOf("127.0.0.1", "::1"));
  EXPECT_EQ(std::set<std::string>((*answer)->begin(), (*answer)->end()).size(), (*answer)->size())
      << "each address once";
  EXPECT_TRUE(inside_);
}

struct AnswerRow {
  const char* host;
  const char* address;
};

TEST_F(ResolutionTest, LiteralsResolveToTheirAddress) {
  const std::vector<AnswerRow> rows = {
      {"127.0.0.1", "127.0.0.1"},
      {"1.2.3", "1.2.0.3"},         // inet_aton's short form
      {"0x7f.0.0.1", "127.0.0.1"},  // and its hexadecimal one
  };
  for (const auto& row : rows) {
    std::optional<Result<std::vector<std::string>>> answer;
    auto r = start(row.host, answer);
    ASSERT_NE(r, nullptr);
    ASSERT_TRUE(run_until([&] { return answer.has_value(); })) << row.host;
    ASSERT_TRUE(*answer) << row.host << ": " << answer->error();
    EXPECT_EQ(**answer, std::vector<std::string>{row.address}) << row.host;
    EXPECT_TRUE(is_numeric_host((*answer)->front()));
  }
}

TEST_F(ResolutionTest, ANameThatCannotResolveIsADnsError) {
  std::optional<Result<std::vector<std::string>>> answer;
  auto r = start("bad name!", answer);  // not a valid host name: glibc asks no server
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(run_until([&] { return answer.has_value(); }));
  ASSERT_FALSE(*answer);
  EXPECT_TRUE(answer->error().is(Errc::dns)) << answer->error();
  EXPECT_THAT(answer->error().message(), HasSubstr("cannot resolve bad name!"));
}

TEST_F(ResolutionTest, AnAbandonedResolutionNeverCallsBack) {
  std::optional<Result<std::vector<std::string>>> abandoned;
  auto first = start("localhost", abandoned);
  ASSERT_NE(first, nullptr);
  first.reset();
  // A later resolution's answer cannot tell when the first thread is done, but
  // the first callback is gone for good: whatever it does, it is never called.
  std::optional<Result<std::vector<std::string>>> answer;
  auto second = start("localhost", answer);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(run_until([&] { return answer.has_value(); }));
  event::test::PollProbe probe(loop());
  ASSERT_TRUE(probe.poll_once());
  EXPECT_FALSE(abandoned.has_value());
}

}  // namespace
}  // namespace webpush::transport::detail
