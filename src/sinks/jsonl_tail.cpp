#include "jsonl_tail.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "webpush/sinks/sink.h"

namespace webpush::sinks::detail {
namespace {

constexpr std::size_t kFirstRead = 64 * 1024;

Result<off_t> file_size(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return fail(Errc::io, fmt::format("fstat: {}", std::strerror(errno)));
  return st.st_size;
}

// Reads exactly [offset, offset + out.size()) or fails.
Result<void> read_at(int fd, off_t offset, std::string& out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = pread(fd, out.data() + done, out.size() - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Errc::io, fmt::format("read: {}", std::strerror(errno)));
    if (n == 0) return fail(Errc::io, "read: the file shrank while it was read");
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// The offset just past the last '\n' within [size - window, size), if any.
Result<std::optional<off_t>> last_line_end(int fd, off_t size, std::size_t window) {
  const off_t floor = size > static_cast<off_t>(window) ? size - static_cast<off_t>(window) : 0;
  std::string chunk;
  for (off_t end = size; end > floor;) {
    const off_t start = std::max(floor, end - static_cast<off_t>(kFirstRead));
    chunk.resize(static_cast<std::size_t>(end - start));
    if (auto ok = read_at(fd, start, chunk); !ok) return tl::unexpected(ok.error());
    if (const auto nl = chunk.rfind('\n'); nl != std::string::npos) return start + static_cast<off_t>(nl) + 1;
    end = start;
  }
  return std::optional<off_t>();
}

Result<void> write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Errc::io, fmt::format("write: {}", std::strerror(errno)));
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// The key of a "message" line, if it is one.
std::optional<LineKey> message_key(std::string_view line) {
  if (line.find("\"message\"") == std::string_view::npos) return std::nullopt;  // cheap pre-check
  const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("type", "") != "message") return std::nullopt;
  const auto chid = j.find("channel_id");
  const auto version = j.find("version");
  if (chid == j.end() || version == j.end() || !chid->is_string() || !version->is_string()) return std::nullopt;
  return LineKey{chid->get<std::string>(), version->get<std::string>()};
}

// The wanted keys among the complete lines of `text`; the first line is
// skipped unless `from_start` (it may be the tail of an earlier line).
std::set<LineKey> keys_in(std::string_view text, bool from_start, const std::set<LineKey>& wanted) {
  std::set<LineKey> found;
  std::size_t pos = 0;
  if (!from_start) {
    const auto nl = text.find('\n');
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
  }
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;  // no newline: not a complete line
    if (auto key = message_key(text.substr(pos, nl - pos)); key && wanted.count(*key) != 0) found.insert(*key);
    pos = nl + 1;
  }
  return found;
}

}  // namespace

Result<std::optional<TornTail>> cut_torn_tail(int write_fd, int read_fd, std::size_t window) {
  auto size = file_size(read_fd);
  if (!size) return tl::unexpected(size.error());
  if (*size == 0) return std::optional<TornTail>();
  std::string last(1, '\0');
  if (auto ok = read_at(read_fd, *size - 1, last); !ok) return tl::unexpected(ok.error());
  if (last[0] == '\n') return std::optional<TornTail>();

  auto keep = last_line_end(read_fd, *size, window);
  if (!keep) return tl::unexpected(keep.error());
  if (!*keep && *size > static_cast<off_t>(window)) {
    // No line start within reach: not a line of ours; end it rather than guess.
    if (auto ok = write_all(write_fd, "\n"); !ok) return tl::unexpected(ok.error());
    return TornTail{static_cast<std::size_t>(std::min<off_t>(*size, static_cast<off_t>(window))), false};
  }
  const off_t cut_at = keep->value_or(0);
  if (ftruncate(write_fd, cut_at) != 0) return fail(Errc::io, fmt::format("truncate: {}", std::strerror(errno)));
  if (fsync(write_fd) != 0) return fail(Errc::io, fmt::format("fsync: {}", std::strerror(errno)));
  return TornTail{static_cast<std::size_t>(*size - cut_at), true};
}

Result<std::set<LineKey>> find_message_lines(int read_fd, const std::set<LineKey>& wanted, std::size_t window) {
  if (wanted.empty()) return std::set<LineKey>();
  auto size = file_size(read_fd);
  if (!size) return tl::unexpected(size.error());
  std::set<LineKey> found;
  std::string tail;
  for (std::size_t span = kFirstRead;; span *= 2) {
    span = std::min({span, window, static_cast<std::size_t>(*size)});
    tail.resize(span);
    if (auto ok = read_at(read_fd, *size - static_cast<off_t>(span), tail); !ok) return tl::unexpected(ok.error());
    found = keys_in(tail, span == static_cast<std::size_t>(*size), wanted);
    if (found.size() == wanted.size() || span == window || span == static_cast<std::size_t>(*size)) return found;
  }
}

}  // namespace webpush::sinks::detail
