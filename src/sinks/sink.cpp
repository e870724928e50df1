#include "webpush/sinks/sink.h"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "webpush/core/base64url.h"
#include "webpush/core/utf8.h"

namespace webpush::sinks {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::io: return "io";
    case Errc::unavailable: return "unavailable";
    case Errc::bad_config: return "bad_config";
  }
  return "unknown";
}

std::string rfc3339(std::int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
}

namespace {

using nlohmann::ordered_json;

// The members of the event's JSON line, in the documented order.
ordered_json to_json_object(const Event& event) {
  return std::visit(
      [](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        ordered_json j;
        if constexpr (std::is_same_v<T, MessageEvent>) {
          j["type"] = "message";
          j["subscription"] = e.subscription;
          j["channel_id"] = e.channel_id;
          j["version"] = e.version;
          j["received_at"] = rfc3339(e.received_at_ms);
          if (e.payload && is_valid_utf8(*e.payload)) {
            j["payload"] = std::string(as_chars(*e.payload));
          } else {
            j["payload"] = nullptr;
          }
          j["payload_b64"] = e.payload ? ordered_json(base64url_encode(*e.payload)) : ordered_json(nullptr);
        } else if constexpr (std::is_same_v<T, DecryptErrorEvent>) {
          j["type"] = "decrypt_error";
          j["subscription"] = e.subscription;
          j["channel_id"] = e.channel_id;
          j["version"] = e.version;
          j["error"] = e.error;
        } else {
          j["type"] = "subscription_changed";
          j["subscription"] = e.subscription;
          j["old_endpoint"] = e.old_endpoint;
          j["new_endpoint"] = e.new_endpoint;
          auto sub = ordered_json::parse(e.new_subscription_json, nullptr, false);
          if (!sub.is_discarded()) j["new_subscription"] = std::move(sub);
        }
        return j;
      },
      event);
}

std::string dump_line(const ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string to_json_line(const Event& event) { return dump_line(to_json_object(event)); }

std::string to_json_line(const Event& event, const nlohmann::ordered_json& extra) {
  ordered_json j = to_json_object(event);
  for (const auto& [key, value] : extra.items()) j[key] = value;
  return dump_line(j);
}

Event event_of(const Message& m) {
  const std::string& name = m.subscription.empty() ? m.channel_id : m.subscription;
  if (m.error) return DecryptErrorEvent{name, m.channel_id, m.version, m.received_at, *m.error};
  return MessageEvent{m.id, name, m.channel_id, m.version, m.received_at, m.payload, m.encoding};
}

}  // namespace webpush::sinks
