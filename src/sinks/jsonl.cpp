#include "webpush/sinks/jsonl.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace webpush::sinks {

Result<std::unique_ptr<JsonlSink>> JsonlSink::open(const std::string& target) {
  if (target == "-") return std::unique_ptr<JsonlSink>(new JsonlSink(stdout, false, false, "stdout"));
  const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail(Errc::io, fmt::format("cannot open {} for the JSON-lines sink: {}", target, std::strerror(errno)));
  struct stat st {};
  const bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  std::FILE* f = fdopen(fd, "a");
  if (f == nullptr) {
    ::close(fd);
    return fail(Errc::io, fmt::format("cannot open {}: {}", target, std::strerror(errno)));
  }
  return std::unique_ptr<JsonlSink>(new JsonlSink(f, true, regular, target));
}

JsonlSink::~JsonlSink() {
  if (owned_) std::fclose(file_);
}

Result<void> JsonlSink::deliver(const Event& event) {
  std::string line = to_json_line(event);
  line += '\n';
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
    return fail(Errc::io, fmt::format("writing to {} failed: {}", target_, std::strerror(errno)));
  }
  // The message is marked delivered right after this returns: make the line durable first.
  if (sync_ && fsync(fileno(file_)) != 0) {
    return fail(Errc::io, fmt::format("fsync of {} failed: {}", target_, std::strerror(errno)));
  }
  return {};
}

}  // namespace webpush::sinks
