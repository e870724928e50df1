// The JSON-lines sink: one object per line (docs/cli.md), flushed per event,
// and fsynced when the target is a file, before the message counts as delivered.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "webpush/sinks/sink.h"

namespace webpush::sinks {

class JsonlSink final : public Sink {
 public:
  /// "-" is stdout; anything else is a file opened for appending (created 0600).
  /// Errors: io naming the file.
  static Result<std::unique_ptr<JsonlSink>> open(const std::string& target);
  ~JsonlSink() override;

  [[nodiscard]] std::string_view name() const override { return "jsonl"; }
  Result<void> deliver(const Event& event) override;

 private:
  JsonlSink(std::FILE* file, bool owned, bool sync, std::string target)
      : file_(file), owned_(owned), sync_(sync), target_(std::move(target)) {}
  std::FILE* file_;
  bool owned_;
  bool sync_;
  std::string target_;
};

}  // namespace webpush::sinks
