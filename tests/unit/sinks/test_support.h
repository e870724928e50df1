// Helpers for the sinks tests: a temp directory, file contents, a capture of
// the "sinks" logger, and running the real event loop until a condition holds.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <libwebsockets.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "webpush/event/loop.h"
#include "webpush/event/timer.h"

namespace webpush::sinks::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents at scope end.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/webpushd-sinks-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Splits "a\0b\0" into {"a", "b"}.
inline std::vector<std::string> split_nul(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\0') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

/// Captures what is logged to the "sinks" logger while it lives.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)) {
    spdlog::drop("sinks");
    auto log = std::make_shared<spdlog::logger>("sinks", sink_);
    log->set_pattern("%l %v");
    log->set_level(spdlog::level::debug);
    spdlog::register_logger(log);
  }
  ~LogCapture() { spdlog::drop("sinks"); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  [[nodiscard]] std::string text() const {
    std::string out;
    for (auto& line : sink_->last_formatted()) out += line;
    return out;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

/// Services the loop until done() holds or `limit` has passed (a deadline for
/// a broken build, not a timing assertion). Returns done().
inline bool run_until(event::EventLoop& loop, const std::function<bool()>& done, Duration limit) {
  return loop.run_until(done, limit);
}

/// This test program, which runs as the sinks' command with `--child MODE …` (sinks_main.cpp).
inline const std::string& self_exe() {
  static const std::string path = std::filesystem::read_symlink("/proc/self/exe").string();
  return path;
}

/// A command line running this program as a child in `mode_and_args`.
inline std::string child_command(std::string_view mode_and_args) {
  return "'" + self_exe() + "' --child " + std::string(mode_and_args);
}

inline std::unique_ptr<event::EventLoop> make_loop() {
  auto loop = event::EventLoop::create();
  if (!loop) std::abort();
  return std::move(*loop);
}

}  // namespace webpush::sinks::test
