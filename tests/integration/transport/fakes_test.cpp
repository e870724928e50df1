// The FCM receiver's fakes (tests/fakes/fake_stream.h, fake_http.h) keep the
// contracts of the seams they stand for.
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "fake_http.h"
#include "fake_stream.h"

namespace webpush::fakes {
namespace {

using protocol::DisconnectReason;

struct Listener final : transport::StreamListener {
  int opened = 0;
  std::string data;
  std::optional<DisconnectReason> closed;
  void on_open() override { ++opened; }
  void on_data(std::string_view bytes) override { data += bytes; }
  void on_closed(DisconnectReason reason, std::string) override { closed = reason; }
};

TEST(FakeStream, ScriptsAStreamAndRecordsWhatWasSent) {
  FakeStreamFactory factory;
  Listener listener;
  auto stream = factory.connect(listener);
  ASSERT_TRUE(stream);
  FakeStreamLink& link = factory.last();
  (*stream)->send("ab");
  link.open();
  link.receive("xy");
  (*stream)->send("cd");
  EXPECT_EQ(listener.opened, 1);
  EXPECT_EQ(listener.data, "xy");
  EXPECT_EQ(link.sent_bytes(), "abcd");
  (*stream)->close();
  (*stream)->send("late");
  EXPECT_EQ(link.sent_after_close().size(), 1u);
  EXPECT_THROW(link.receive("z"), std::logic_error);  // nothing reaches the listener after close()
  stream->reset();
  EXPECT_TRUE(link.destroyed());
}

TEST(FakeStream, FailsAndDropsOnRequest) {
  FakeStreamFactory factory;
  Listener listener;
  factory.fail_next_connect(transport::Errc::connect);
  auto failed = factory.connect(listener);
  ASSERT_FALSE(failed);
  EXPECT_TRUE(failed.error().is(transport::Errc::connect));
  auto stream = factory.connect(listener);
  ASSERT_TRUE(stream);
  factory.last().drop(DisconnectReason::connect_refused);
  EXPECT_EQ(listener.closed, DisconnectReason::connect_refused);
  EXPECT_EQ(factory.attempts(), 2);
  EXPECT_EQ(factory.streams(), 1u);
}

TEST(FakeHttp, RecordsRequestsAndAnswersEachOnce) {
  FakeHttpClient http;
  int answers = 0;
  std::optional<Result<transport::HttpResponse>> first;
  transport::HttpRequest request;
  request.url = "https://android.clients.google.com/checkin";
  request.headers = {{"Content-Type", "application/x-protobuf"}};
  http.request(request, [&](Result<transport::HttpResponse> r) {
    ++answers;
    first.emplace(std::move(r));
  });
  http.request(request, [&](Result<transport::HttpResponse> r) {
    ++answers;
    EXPECT_FALSE(r);
  });
  EXPECT_EQ(answers, 0);  // only when the test answers
  EXPECT_EQ(http.pending(), 2u);
  EXPECT_EQ(http.next().header("content-type"), "application/x-protobuf");
  http.respond_next(200, "body", "application/x-protobuf");
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->status, 200);
  EXPECT_EQ((*first)->body, "body");
  http.fail_next(transport::Errc::timeout);
  EXPECT_EQ(answers, 2);
  EXPECT_THROW(http.respond(0, 200, ""), std::logic_error);
  EXPECT_EQ(http.pending(), 0u);
}

}  // namespace
}  // namespace webpush::fakes
