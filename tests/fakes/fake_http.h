// A scripted HTTP client (transport/http_client.h): FakeHttpClient records every
// request() and the test answers each one, in any order — with a response (any
// status) or an error — and inspects what was asked.
//
// Contract the fake keeps (transport/http_client.h): a callback is never called
// from inside request(), only when the test answers; each request is answered at
// most once (answering one twice throws std::logic_error, a test bug); destroying
// the client drops what is unanswered without calling back.
//
// Thread: the test thread only.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webpush/core/error.h"
#include "webpush/transport/errc.h"
#include "webpush/transport/http_client.h"

namespace webpush::fakes {

class FakeHttpClient final : public transport::HttpClient {
 public:
  struct Call {
    transport::HttpRequest request;
    Callback done;  ///< empty once answered
    bool answered = false;

    /// The value of the first header named `name` (any case), or "" when absent.
    [[nodiscard]] std::string header(std::string_view name) const {
      for (const auto& [key, value] : request.headers) {
        if (key.size() == name.size() && std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
            })) {
          return value;
        }
      }
      return "";
    }
  };

  void request(transport::HttpRequest request, Callback done) override {
    calls_.push_back(Call{std::move(request), std::move(done), false});
  }

  // ---- answering -------------------------------------------------------------------
  /// Answers request `index` (0 = the first ever made) with a response.
  void respond(std::size_t index, int status, std::string body, std::string content_type = "") {
    take(index)(transport::HttpResponse{status, std::move(body), std::move(content_type)});
  }
  /// Answers request `index` with an error.
  void fail(std::size_t index, transport::Errc code, std::string message = "fake: failed") {
    take(index)(tl::unexpected(Error(code, std::move(message))));
  }
  /// Answers the oldest unanswered request with a response.
  void respond_next(int status, std::string body, std::string content_type = "") {
    respond(next_index(), status, std::move(body), std::move(content_type));
  }
  /// Answers the oldest unanswered request with an error.
  void fail_next(transport::Errc code, std::string message = "fake: failed") {
    fail(next_index(), code, std::move(message));
  }

  // ---- inspection ------------------------------------------------------------------
  /// Every request made, oldest first, answered or not.
  [[nodiscard]] const std::vector<Call>& calls() const noexcept { return calls_; }
  [[nodiscard]] std::size_t requests() const noexcept { return calls_.size(); }
  /// Requests not answered yet.
  [[nodiscard]] std::size_t pending() const noexcept {
    std::size_t n = 0;
    for (const auto& call : calls_) n += call.answered ? 0 : 1;
    return n;
  }
  /// The oldest unanswered request. Throws std::logic_error when there is none.
  [[nodiscard]] const Call& next() const { return calls_.at(next_index()); }
  /// The newest request. Throws std::logic_error when there is none.
  [[nodiscard]] const Call& last() const {
    if (calls_.empty()) throw std::logic_error("fake HTTP client: no request was made");
    return calls_.back();
  }

 private:
  // Marks request `index` answered and hands over its callback (moved out: the
  // callback may make new requests, which may move calls_).
  Callback take(std::size_t index) {
    if (index >= calls_.size()) throw std::logic_error("fake HTTP client: no request " + std::to_string(index));
    if (calls_[index].answered) {
      throw std::logic_error("fake HTTP client: request " + std::to_string(index) + " was answered already");
    }
    calls_[index].answered = true;
    return std::move(calls_[index].done);
  }
  [[nodiscard]] std::size_t next_index() const {
    for (std::size_t i = 0; i < calls_.size(); ++i) {
      if (!calls_[i].answered) return i;
    }
    throw std::logic_error("fake HTTP client: no unanswered request");
  }

  std::vector<Call> calls_;
};

}  // namespace webpush::fakes
