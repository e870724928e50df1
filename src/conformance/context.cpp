#include <algorithm>
#include <cctype>
#include <chrono>

#include <fmt/format.h>

#include "webpush/conformance/check.h"

namespace webpush::conformance {

std::string_view to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::pass: return "PASS";
    case Verdict::fail: return "FAIL";
    case Verdict::skip: return "SKIP";
  }
  return "?";
}

std::span<const Group> all_groups() {
  static const Group groups[] = {
      {"handshake", "Handshake and identity", handshake_checks()},
      {"registration", "Registration", registration_checks()},
      {"delivery", "Delivery (RFC 8030, RFC 8291)", delivery_checks()},
      {"vapid", "VAPID (RFC 8292)", vapid_checks()},
      {"keepalive", "Keepalive", keepalive_checks()},
      {"limits", "Limits and robustness", limits_checks()},
  };
  return groups;
}

Context::Context(CheckOptions options)
    : options_(std::move(options)), http_(options_.ca_file, std::max(options_.reply_timeout, Millis(10'000))) {}

Context::~Context() = default;

Result<void> Context::prepare() {
  auto a = crypto::KeyPair::generate();
  auto b = crypto::KeyPair::generate();
  if (!a || !b) return fail(Errc::setup, "no randomness for the VAPID keys");
  vapid_key_ = std::move(*a);
  other_key_ = std::move(*b);
  return {};
}

ProbeOptions Context::probe_options() const {
  ProbeOptions o;
  o.ca_file = options_.ca_file;
  o.insecure = options_.insecure;
  o.connect_timeout = std::max(options_.reply_timeout, Millis(10'000));
  return o;
}

Result<std::unique_ptr<WsProbe>> Context::raw_connection() { return WsProbe::open(options_.server, probe_options()); }

Result<std::unique_ptr<PushClient>> Context::client(const std::optional<std::string>& uaid) {
  auto ws = raw_connection();
  if (!ws) return tl::unexpected(ws.error());
  return PushClient::connect(std::move(*ws), uaid, options_.reply_timeout, options_.server, probe_options());
}

std::int64_t Context::now_unix() const {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Result<load::PushRequest> Context::build(const Channel& channel, ByteView payload,
                                         const load::PushOptions& push) const {
  auto request = load::build_push_request(channel.target(), payload, push, now_unix());
  if (!request) return fail(Errc::setup, "building the request: " + request.error().message());
  return request;
}

Result<HttpAnswer> Context::post(std::string_view endpoint, const load::PushRequest& request) {
  return http_.request("POST", endpoint, request.headers, request.body);
}

Result<HttpAnswer> Context::push(const Channel& channel, ByteView payload, const load::PushOptions& push) {
  auto request = build(channel, payload, push);
  if (!request) return tl::unexpected(request.error());
  return post(channel.endpoint, *request);
}

load::PushOptions push_options_for(const Context& context, const Channel& channel) {
  load::PushOptions o;
  o.vapid = channel.vapid_bound ? &context.vapid_key() : nullptr;
  o.vapid_subject = context.options().vapid_subject;
  return o;
}

std::string describe(const Result<HttpAnswer>& answer) {
  return answer ? answer->describe() : answer.error().message();
}

Bytes test_payload(std::string_view tag, std::size_t n) {
  Bytes out;
  out.reserve(n);
  const std::string stamp = fmt::format("check-service {} ", tag);
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(stamp[i % stamp.size()]));
  if (n > stamp.size()) out.back() = static_cast<std::uint8_t>('.');
  return out;
}

std::string payload_problem(const nlohmann::json& n, const Channel& channel, ByteView sent) {
  std::string chid = text_field(n, "channelID");
  std::transform(chid.begin(), chid.end(), chid.begin(), [](unsigned char c) { return std::tolower(c); });
  if (chid != channel.id) {
    return fmt::format("the notification names channel \"{}\", not {}", shorten(text_field(n, "channelID"), 60),
                       channel.id);
  }
  if (sent.empty()) {
    const std::string data = text_field(n, "data");
    if (!data.empty()) return fmt::format("a push without a body arrived with data ({} characters)", data.size());
    return {};
  }
  auto plain = PushClient::decrypt(n, channel);
  if (!plain) return "decryption failed: " + plain.error().message();
  if (plain->size() != sent.size())
    return fmt::format("decrypted to {} bytes, {} were sent", plain->size(), sent.size());
  const auto diff = std::mismatch(plain->begin(), plain->end(), sent.begin());
  if (diff.first != plain->end()) {
    return fmt::format("decrypted to other bytes than were sent (first difference at byte {})",
                       diff.first - plain->begin());
  }
  return {};
}

Result<nlohmann::json> expect_notification(PushClient& client, Millis timeout) {
  auto n = client.next_notification(timeout);
  if (!n && n.error().is(Errc::timeout)) {
    return fail(Errc::timeout, fmt::format("no notification within {:.1f} s", seconds(timeout)));
  }
  if (!n) return tl::unexpected(n.error().with_context("waiting for a notification"));
  return n;
}

Result<void> receive_push(PushClient& client, const Channel& channel, ByteView sent, Millis timeout) {
  auto n = expect_notification(client, timeout);
  if (!n) return tl::unexpected(n.error());
  if (auto acked = client.ack(*n); !acked) return tl::unexpected(acked.error().with_context("sending the ack"));
  if (auto problem = payload_problem(*n, channel, sent); !problem.empty()) return fail(Errc::bad_reply, problem);
  return {};
}

}  // namespace webpush::conformance
