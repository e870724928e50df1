#include "webpush/event/trace.h"

#include <atomic>
#include <chrono>
#include <ctime>
#include <string>

#include <fmt/format.h>

namespace webpush::event {

namespace {

std::atomic<std::FILE*> g_out{nullptr};

}  // namespace

void Trace::enable(std::FILE* out) noexcept { g_out.store(out, std::memory_order_release); }

bool Trace::enabled() noexcept { return g_out.load(std::memory_order_relaxed) != nullptr; }

void Trace::emit(std::string_view event, std::string_view fields) noexcept {
  std::FILE* out = g_out.load(std::memory_order_acquire);
  if (out == nullptr) return;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  const auto secs_of_day = (us / 1'000'000) % 86'400;
  try {
    const std::string line = fmt::format("{:02}:{:02}:{:02}.{:06} {} {}\n", secs_of_day / 3600, secs_of_day / 60 % 60,
                                         secs_of_day % 60, us % 1'000'000, event, fields);
    std::fwrite(line.data(), 1, line.size(), out);  // one call: lines of two threads never interleave
    std::fflush(out);
  } catch (...) {  // out of memory formatting a trace line: the line is lost, nothing else
  }
}

std::string_view notification_version(std::string_view frame) noexcept {
  constexpr std::string_view kKey = "\"version\":\"";
  const auto at = frame.find(kKey);
  if (at == std::string_view::npos || frame.find("\"notification\"") == std::string_view::npos) return {};
  const auto start = at + kKey.size();
  const auto end = frame.find('"', start);
  return end == std::string_view::npos ? std::string_view{} : frame.substr(start, end - start);
}

}  // namespace webpush::event
