// config.toml on hostile text: parse_config (toml++, then every key checked)
// must return a Config or an error, never crash, throw or leak; what it
// accepts must hold the ranges config.h promises.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "config.h"

namespace config_fuzz {

using webpush::cli::NumberRange;

bool within(const std::optional<double>& v, NumberRange r) { return !v || (*v >= r.min && *v <= r.max); }

// The promises of config.h for a file that parsed.
bool holds_promises(const webpush::cli::Config& c) {
  using namespace webpush::cli;
  const bool level_ok = !c.log_level || *c.log_level == "trace" || *c.log_level == "debug" || *c.log_level == "info" ||
                        *c.log_level == "warn" || *c.log_level == "error";
  const bool messages_ok = !c.retention_max_messages || (*c.retention_max_messages >= kRetentionMessagesRange.min &&
                                                         *c.retention_max_messages <= kRetentionMessagesRange.max);
  return level_ok && messages_ok && within(c.ping_interval, kPingIntervalRange) &&
         within(c.request_timeout, kRequestTimeoutRange) && within(c.backoff_initial, kBackoffInitialRange) &&
         within(c.backoff_max, kBackoffMaxRange) && within(c.exec_timeout, kExecTimeoutRange) &&
         within(c.retention_max_age_days, kRetentionDaysRange);
}

}  // namespace config_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = webpush::cli::parse_config(text, "fuzz.toml");
  if (!config) {
    if (config.error().message().empty()) __builtin_trap();  // every error says what and where
    return 0;
  }
  if (!config_fuzz::holds_promises(*config)) __builtin_trap();
  return 0;
}
