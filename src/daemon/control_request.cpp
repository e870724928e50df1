#include "webpush/daemon/control_request.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "webpush/core/base64url.h"

namespace webpush::daemon {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxNameBytes = 128;
constexpr std::size_t kMaxQuotedCommandBytes = 64;  // of an unknown command, in its error

std::optional<std::string> string_field(const json& req, const char* name) {
  const auto it = req.find(name);
  if (it == req.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<std::int64_t> integer_field(const json& req, const char* name) {
  const auto it = req.find(name);
  if (it == req.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

tl::expected<ControlRequest, std::string> subscribe_request(const json& req) {
  auto name = string_field(req, "name");
  if (!name || name->empty() || name->size() > kMaxNameBytes) {
    return tl::unexpected(std::string("subscribe needs a \"name\" of 1 to 128 characters"));
  }
  SubscribeRequest s{std::move(*name), std::nullopt, PushServiceKind::autopush};
  if (const auto it = req.find("service"); it != req.end()) {
    if (*it == "fcm") {
      s.service = PushServiceKind::fcm;
    } else if (*it != "autopush") {
      return tl::unexpected(std::string("subscribe's \"service\" must be \"autopush\" or \"fcm\""));
    }
  }
  if (auto vapid_key = string_field(req, "vapid_key")) {
    auto decoded = base64_any_decode(*vapid_key);
    if (!decoded) return tl::unexpected("vapid_key is not base64url: " + decoded.error().message());
    s.vapid_key = std::move(*decoded);
  }
  return s;
}

tl::expected<ControlRequest, std::string> unsubscribe_request(const json& req) {
  UnsubscribeRequest u{integer_field(req, "id"), string_field(req, "name")};
  if (!u.id && !u.name) return tl::unexpected(std::string("unsubscribe needs a \"name\" or an \"id\""));
  return u;
}

}  // namespace

tl::expected<ControlRequest, std::string> parse_control_request(std::string_view line) {
  const json req = json::parse(line.begin(), line.end(), nullptr, false);
  if (req.is_discarded() || !req.is_object()) return tl::unexpected(std::string("request is not a JSON object"));
  const auto cmd_it = req.find("cmd");
  if (cmd_it == req.end() || !cmd_it->is_string()) {
    return tl::unexpected(std::string("request has no \"cmd\" string"));
  }
  const std::string cmd = cmd_it->get<std::string>();
  if (cmd == "status") return StatusRequest{};
  if (cmd == "list") return ListRequest{};
  if (cmd == "watch") return WatchRequest{};
  if (cmd == "subscribe") return subscribe_request(req);
  if (cmd == "unsubscribe") return unsubscribe_request(req);
  return tl::unexpected(fmt::format("unknown command '{}'", cmd.substr(0, kMaxQuotedCommandBytes)));
}

std::string error_reply(std::string_view message) {
  // A client may send any bytes; the reply must still be JSON.
  return nlohmann::ordered_json{{"ok", false}, {"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace webpush::daemon
