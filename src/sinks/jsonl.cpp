#include "webpush/sinks/jsonl.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "internal.h"
#include "jsonl_tail.h"

namespace webpush::sinks {
namespace {

// A second descriptor on the same file, for reading back (the first one is
// write-only: a FIFO must keep the semantics of a write-only open).
event::UniqueFd open_reader(const std::string& target, const struct stat& written) {
  event::UniqueFd fd(::open(target.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || fstat(fd.get(), &st) != 0 || st.st_dev != written.st_dev || st.st_ino != written.st_ino) {
    return {};
  }
  return fd;
}

void repair_torn_tail(int write_fd, int read_fd, const std::string& target) {
  auto torn = detail::cut_torn_tail(write_fd, read_fd, JsonlSink::kRecoverWindow);
  if (!torn) {
    detail::log().warn("jsonl: cannot check the end of {}: {}", target, torn.error().message());
  } else if (*torn && (*torn)->cut) {
    detail::log().warn(
        "jsonl: {} ended in a torn line ({} bytes, a write cut short by a crash): cut away; its "
        "message is written again",
        target, (*torn)->bytes);
  } else if (*torn) {
    detail::log().warn("jsonl: {} ended without a newline and no line start lies in its last {} bytes: ended it",
                       target, (*torn)->bytes);
  }
}

}  // namespace

Result<std::unique_ptr<JsonlSink>> JsonlSink::open(const std::string& target) {
  if (target == "-") return std::unique_ptr<JsonlSink>(new JsonlSink({}, STDOUT_FILENO, false, "stdout"));
  event::UniqueFd fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.valid())
    return fail(Errc::io, fmt::format("cannot open {} for the JSON-lines sink: {}", target, std::strerror(errno)));
  struct stat st {};
  const bool regular = fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode);
  event::UniqueFd reader = regular ? open_reader(target, st) : event::UniqueFd();
  if (reader.valid()) repair_torn_tail(fd.get(), reader.get(), target);
  const int raw = fd.get();
  std::unique_ptr<JsonlSink> sink(new JsonlSink(std::move(fd), raw, regular, target));
  sink->reader_ = std::move(reader);
  return sink;
}

void JsonlSink::recover(const std::vector<const Message*>& undelivered) {
  if (!reader_.valid()) return;
  std::set<detail::LineKey> wanted;
  for (const Message* m : undelivered) {
    if (!m->error) wanted.emplace(m->channel_id, m->version);
  }
  auto found = detail::find_message_lines(reader_.get(), wanted, kRecoverWindow);
  if (!found) {
    detail::log().warn("jsonl: cannot read back {}: {}; undelivered messages are written again", target_,
                       found.error().message());
    return;
  }
  if (found->empty()) return;
  detail::log().info(
      "jsonl: {} of {} undelivered message(s) are already in {} (written just before a stop): "
      "not written again",
      found->size(), wanted.size(), target_);
  held_.insert(found->begin(), found->end());
}

Result<void> JsonlSink::deliver(const Event& event) {
  if (const auto* m = std::get_if<MessageEvent>(&event); m != nullptr && !held_.empty()) {
    if (held_.erase(Key{m->channel_id, m->version}) != 0) return {};  // in the file already
  }
  std::string line = to_json_line(event);
  line += '\n';
  if (auto ok = append(line); !ok) return ok;
  // The message is marked delivered right after this returns: make the line durable first.
  if (regular_ && fsync(fd_) != 0) {
    return fail(Errc::io, fmt::format("fsync of {} failed: {}", target_, std::strerror(errno)));
  }
  return {};
}

Result<void> JsonlSink::append(std::string_view line) {
  struct stat before {};
  const bool sized = regular_ && fstat(fd_, &before) == 0;
  for (std::string_view rest = line; !rest.empty();) {
    const ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      // Cut a partial line away, so that the next line starts on its own.
      if (sized && rest.size() != line.size() && ftruncate(fd_, before.st_size) != 0) {
        detail::log().error("jsonl: cannot cut a partial line from {}: {}", target_, std::strerror(errno));
      }
      return fail(Errc::io, fmt::format("writing to {} failed: {}", target_, std::strerror(err)));
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace webpush::sinks
