// Group "registration": register (with and without an applicationServerKey),
// the endpoint it yields, registering again, unregister, and the registers a
// service must refuse.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "webpush/conformance/check.h"
#include "webpush/core/base64url.h"
#include "webpush/core/url.h"

namespace webpush::conformance {

using nlohmann::json;

namespace {

bool is_2xx(long status) { return status >= 200 && status <= 299; }

// Pushes a test message to `channel` (VAPID-signed when it is bound) and
// receives it on `client`: "201; arrived".
Result<std::string> round_trip(Context& context, PushClient& client, const Channel& channel, std::string_view tag) {
  const Bytes payload = test_payload(tag, 32);
  auto answer = context.push(channel, payload, push_options_for(context, channel));
  if (!answer) return tl::unexpected(answer.error());
  if (!is_2xx(answer->status)) {
    return fail(Errc::bad_reply, "a push to the endpoint was answered " + answer->describe());
  }
  if (auto got = receive_push(client, channel, payload, context.options().reply_timeout); !got) {
    return fail(Errc::bad_reply, fmt::format("push answered {}, but {}", answer->describe(), got.error().message()));
  }
  return fmt::format("a push was answered {} and arrived", answer->describe());
}

Outcome without_key(Context& context) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  auto channel = (*client)->subscribe();
  if (!channel) return Outcome::fail(channel.error());
  auto trip = round_trip(context, **client, *channel, "registration.without-key");
  if (!trip) return Outcome::fail(trip.error());
  return Outcome::pass(fmt::format("200, endpoint {}; {}", channel->endpoint, *trip));
}

Outcome with_key(Context& context) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  auto channel = (*client)->subscribe(&context.vapid_key());
  if (!channel) return Outcome::fail(channel.error());
  auto trip = round_trip(context, **client, *channel, "registration.with-key");
  if (!trip) return Outcome::fail(trip.error());
  return Outcome::pass(fmt::format("200, endpoint {}; {} (VAPID-signed)", channel->endpoint, *trip));
}

// Firefox sends the key base64url *with* `=` padding (protocol.md §1.5).
Outcome padded_key(Context& context) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  std::string key = base64url_encode(context.vapid_key().public_bytes());
  while (key.size() % 4 != 0) key += '=';
  Channel channel;
  channel.id = new_channel_id();
  auto reply = (*client)->register_raw({{"messageType", "register"}, {"channelID", channel.id}, {"key", key}});
  if (!reply) return Outcome::fail(reply.error());
  const auto endpoint = reply->find("pushEndpoint");
  if (int_field(*reply, "status") != 200 || endpoint == reply->end() || !endpoint->is_string()) {
    return Outcome::fail("a key with = padding was refused: " + shorten(reply->dump()));
  }
  channel.endpoint = endpoint->get<std::string>();
  channel.vapid_bound = true;
  auto keys = crypto::KeyPair::generate();
  auto auth = crypto::generate_auth_secret();
  if (!keys || !auth) return Outcome::fail("no randomness for the subscription's keys");
  channel.key = std::make_shared<const crypto::KeyPair>(std::move(*keys));
  channel.auth = std::move(*auth);
  auto trip = round_trip(context, **client, channel, "registration.padded-key");
  if (!trip) return Outcome::fail(trip.error());
  return Outcome::pass(
      fmt::format("key \"…{}\" accepted with 200; {} (VAPID-signed)", key.substr(key.size() - 6), *trip));
}

Outcome endpoint_url(Context& context) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  auto first = (*client)->subscribe();
  if (!first) return Outcome::fail(first.error());
  auto second = (*client)->subscribe(&context.vapid_key());
  if (!second) return Outcome::fail(second.error());
  auto url = parse_url(first->endpoint);
  if (!url) return Outcome::fail(fmt::format("endpoint \"{}\": {}", shorten(first->endpoint), url.error().message()));
  auto service = parse_url(context.options().server);
  const bool loopback = service && service->is_loopback();
  if (url->scheme != "https" && !(url->scheme == "http" && loopback)) {
    return Outcome::fail(fmt::format("endpoint {} is {}, not https{}", first->endpoint, url->scheme,
                                     loopback ? " or http" : " (http is accepted only from a loopback service)"));
  }
  if (first->endpoint == second->endpoint) {
    return Outcome::fail("two channels got the same endpoint " + first->endpoint);
  }
  return Outcome::pass(fmt::format("{} (absolute {} URL, host {}); another channel got another endpoint",
                                   first->endpoint, url->scheme, url->host));
}

Outcome reregister(Context& context) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  auto channel = (*client)->subscribe();
  if (!channel) return Outcome::fail(channel.error());
  auto reply = (*client)->register_raw({{"messageType", "register"}, {"channelID", channel->id}});
  if (!reply) return Outcome::fail(reply.error().with_context("registering the same channelID again"));
  const auto endpoint = reply->find("pushEndpoint");
  if (int_field(*reply, "status") != 200 || endpoint == reply->end() || !endpoint->is_string() ||
      !parse_url(endpoint->get_ref<const std::string&>())) {
    return Outcome::fail("registering the same channelID again was answered " + shorten(reply->dump()));
  }
  Channel again = *channel;
  again.endpoint = endpoint->get<std::string>();
  const bool same = again.endpoint == channel->endpoint;
  auto trip = round_trip(context, **client, again, "registration.reregister");
  if (!trip) return Outcome::fail(trip.error().with_context("the endpoint of the second register"));
  return Outcome::pass(fmt::format("200 again, {} endpoint; {}", same ? "the same" : "a new", *trip));
}

Outcome unregister(Context& context) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  auto channel = (*client)->subscribe();
  if (!channel) return Outcome::fail(channel.error());
  auto reply = (*client)->unregister(channel->id);
  if (!reply) return Outcome::fail(reply.error().with_context("unregister"));
  if (int_field(*reply, "status") != 200) return Outcome::fail("unregister was answered " + shorten(reply->dump()));
  const Bytes payload = test_payload("registration.unregister", 32);
  auto answer = context.push(*channel, payload, push_options_for(context, *channel));
  if (!answer) return Outcome::fail(answer.error());
  if (answer->status == 404 || answer->status == 410) {
    return Outcome::pass("unregister 200; a push to the old endpoint then answered " + answer->describe());
  }
  if (is_2xx(answer->status)) {
    // Consume it if it comes anyway, so nothing is left stored.
    auto late = (*client)->next_notification(Millis(500));
    if (late) (void)(*client)->ack(*late);  // best effort: the check fails either way
    return Outcome::fail(fmt::format("a push to the unregistered endpoint was accepted with {}{}", answer->describe(),
                                     late ? " and delivered" : ""));
  }
  return Outcome::fail("a push to the unregistered endpoint answered " + answer->describe() + ", not 404 or 410");
}

// What the service did with a register it should refuse: {refused, description}.
std::pair<bool, std::string> register_refusal(Context& context, const json& request) {
  auto client = context.client();
  if (!client) return {false, client.error().message()};
  auto reply = (*client)->register_raw(request);
  if (!reply) {
    if (reply.error().is(Errc::closed)) return {true, reply.error().message()};
    if (reply.error().is(Errc::timeout)) {
      auto waited = static_cast<double>(context.options().reply_timeout.count()) / 1000;
      return {false, fmt::format("no reply within {:.1f} s and the connection stayed open", waited)};
    }
    return {false, reply.error().message()};
  }
  const auto status = int_field(*reply, "status");
  if (status == 200) return {false, "accepted: " + shorten(reply->dump())};
  return {true, fmt::format("status {}", status)};
}

Outcome bad_channel_id(Context& context) {
  std::string upper = new_channel_id();
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  std::string simple = new_channel_id();
  std::erase(simple, '-');
  const std::pair<const char*, std::string> cases[] = {
      {"\"not-a-uuid\"", "not-a-uuid"}, {"an upper-case UUID", upper}, {"a UUID without hyphens", simple}};
  std::string observed;
  for (const auto& [name, id] : cases) {
    auto [refused, what] = register_refusal(context, {{"messageType", "register"}, {"channelID", id}});
    if (!refused) return Outcome::fail(fmt::format("channelID {} ({}): {}", name, id, what));
    observed += fmt::format("{}{}: {}", observed.empty() ? "" : "; ", name, what);
  }
  return Outcome::pass(observed);
}

Outcome bad_key(Context& context) {
  const json request = {{"messageType", "register"}, {"channelID", new_channel_id()}, {"key", "!!not*base64url!!"}};
  auto [refused, what] = register_refusal(context, request);
  if (!refused) return Outcome::fail("an undecodable key: " + what);
  return Outcome::pass(fmt::format("an undecodable key: {}{}", what, what == "status 400" ? " (as autopush)" : ""));
}

constexpr Check kChecks[] = {
    {"registration.without-key", "register without a key: 200 and a working endpoint", "autopush protocol: register",
     without_key},
    {"registration.with-key", "register with an applicationServerKey: 200 and a working endpoint",
     "autopush protocol: register; RFC 8292 §4", with_key},
    {"registration.padded-key", "a key with = padding (as Firefox sends it) is accepted",
     "autopush protocol: register; Firefox", padded_key},
    {"registration.endpoint-url",
     "the endpoint is an absolute https URL (http from a loopback service), one per channel",
     "RFC 8030 §8; autopush protocol: register", endpoint_url},
    {"registration.reregister", "registering a known channelID again answers 200", "autopush protocol: register",
     reregister},
    {"registration.unregister", "unregister answers 200; the old endpoint then answers 404 or 410",
     "autopush protocol: unregister; RFC 8030 §7.3", unregister},
    {"registration.bad-channel-id", "a channelID that is not a lower-case hyphenated UUID is refused",
     "autopush protocol: register", bad_channel_id},
    {"registration.bad-key", "a register with an undecodable key is refused", "autopush protocol: register", bad_key},
};

}  // namespace

std::span<const Check> registration_checks() { return kChecks; }

}  // namespace webpush::conformance
