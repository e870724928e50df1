// Group "vapid": a subscription bound to the application server's key
// (RFC 8292 §4) accepts pushes that carry a valid token for that key, in the
// RFC form and the older draft form, and refuses every other.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "webpush/conformance/check.h"
#include "webpush/core/base64url.h"
#include "webpush/crypto/vapid.h"

namespace webpush::conformance {

using nlohmann::json;

namespace {

constexpr std::int64_t kHour = 60 * 60;

bool is_2xx(long status) { return status >= 200 && status <= 299; }

// "401 errno 109 (vapid: JWT expired …)": the status, errno and the error
// object's message when the body has one.
std::string answer_text(const HttpAnswer& answer) {
  const json body = json::parse(answer.body, nullptr, false);
  if (body.is_object() && body.contains("message") && body["message"].is_string()) {
    return fmt::format("{} ({})", answer.describe(), shorten(body["message"].get_ref<const std::string&>()));
  }
  return answer.describe();
}

// Whether the header line `line` ("Name: value") is named `name`, in any case.
bool is_header(const std::string& line, std::string_view name) {
  return line.size() > name.size() && line[name.size()] == ':' &&
         std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

// A connection with one channel bound to the context's VAPID key.
struct Bound {
  std::unique_ptr<PushClient> client;
  Channel channel;
};

Result<Bound> bound_subscription(Context& context) {
  auto client = context.client();
  if (!client) return tl::unexpected(client.error());
  auto channel = (*client)->subscribe(&context.vapid_key());
  if (!channel) return tl::unexpected(channel.error().with_context("register with a key"));
  return Bound{std::move(*client), std::move(*channel)};
}

// A push signed as `vapid` says (a standard application server): accepted and delivered.
Outcome expect_accepted(Context& context, crypto::VapidScheme scheme, std::string_view tag) {
  auto bound = bound_subscription(context);
  if (!bound) return Outcome::fail(bound.error());
  load::PushOptions options = push_options_for(context, bound->channel);
  options.vapid_scheme = scheme;
  const Bytes payload = test_payload(tag, 32);
  auto request = context.build(bound->channel, payload, options);
  if (!request) return Outcome::fail(request.error());
  auto answer = context.post(bound->channel.endpoint, *request);
  if (!answer) return Outcome::fail(answer.error());
  if (!is_2xx(answer->status)) return Outcome::fail("a correctly signed push was refused: " + answer_text(*answer));
  if (auto got = receive_push(*bound->client, bound->channel, payload, context.options().reply_timeout); !got) {
    return Outcome::fail(fmt::format("answered {}, but {}", answer->describe(), got.error().message()));
  }
  return Outcome::pass(fmt::format("answered {}; the push arrived", answer->describe()));
}

// A push to a bound channel whose Authorization / Crypto-Key lines are
// `auth_lines` (none: unsigned): refused with 401 or 403.
Outcome expect_refused(Context& context, Bound& bound, const std::vector<std::string>& auth_lines,
                       std::string_view tag) {
  load::PushOptions options = push_options_for(context, bound.channel);
  options.vapid = nullptr;
  const Bytes payload = test_payload(tag, 32);
  auto request = context.build(bound.channel, payload, options);
  if (!request) return Outcome::fail(request.error());
  std::erase_if(request->headers,
                [](const std::string& h) { return is_header(h, "Authorization") || is_header(h, "Crypto-Key"); });
  request->headers.insert(request->headers.end(), auth_lines.begin(), auth_lines.end());
  auto answer = context.post(bound.channel.endpoint, *request);
  if (!answer) return Outcome::fail(answer.error());
  if (answer->status == 401 || answer->status == 403) return Outcome::pass("refused with " + answer_text(*answer));
  if (is_2xx(answer->status)) {
    // Consume it if it comes, so nothing is left stored.
    const bool arrived =
        receive_push(*bound.client, bound.channel, payload, context.options().reply_timeout).has_value();
    return Outcome::fail(fmt::format("accepted with {}{}", answer->describe(), arrived ? "; the push arrived" : ""));
  }
  return Outcome::fail(fmt::format("answered {}, not 401 or 403", answer_text(*answer)));
}

// The claims a correct token for `channel` carries (aud = its origin, exp 12 h ahead).
Result<crypto::VapidClaims> good_claims(Context& context, const Channel& channel) {
  auto claims = crypto::vapid_claims_for(channel.endpoint, context.options().vapid_subject, context.now_unix());
  if (!claims) return tl::unexpected(claims.error().with_context("VAPID claims for the endpoint"));
  return claims;
}

// "Authorization: vapid t=<jwt>, k=<key's public key>".
std::vector<std::string> vapid_lines(std::string_view jwt, const crypto::KeyPair& key) {
  return {fmt::format("Authorization: vapid t={}, k={}", jwt, base64url_encode(key.public_bytes()))};
}

// A push whose token carries `claims`, signed by `signer` and naming its key: refused.
Outcome refused_token(Context& context, std::string_view tag, const crypto::KeyPair& signer,
                      void (*adjust)(crypto::VapidClaims& claims, std::int64_t now), std::string_view what) {
  auto bound = bound_subscription(context);
  if (!bound) return Outcome::fail(bound.error());
  auto claims = good_claims(context, bound->channel);
  if (!claims) return Outcome::fail(claims.error());
  if (adjust != nullptr) adjust(*claims, context.now_unix());
  auto jwt = crypto::vapid_sign(signer, *claims);
  if (!jwt) return Outcome::fail(jwt.error());
  Outcome outcome = expect_refused(context, *bound, vapid_lines(*jwt, signer), tag);
  outcome.observed = fmt::format("{}: {}", what, outcome.observed);
  return outcome;
}

Outcome rfc8292(Context& context) { return expect_accepted(context, crypto::VapidScheme::vapid, "vapid.rfc8292"); }

Outcome draft_webpush(Context& context) {
  Outcome outcome = expect_accepted(context, crypto::VapidScheme::webpush, "vapid.draft-webpush");
  outcome.observed = "Authorization: WebPush + Crypto-Key: p256ecdsa: " + outcome.observed;
  return outcome;
}

Outcome missing(Context& context) {
  auto bound = bound_subscription(context);
  if (!bound) return Outcome::fail(bound.error());
  Outcome outcome = expect_refused(context, *bound, {}, "vapid.missing");
  outcome.observed = "no Authorization: " + outcome.observed;
  return outcome;
}

Outcome bad_signature(Context& context) {
  auto bound = bound_subscription(context);
  if (!bound) return Outcome::fail(bound.error());
  auto claims = good_claims(context, bound->channel);
  if (!claims) return Outcome::fail(claims.error());
  auto jwt = crypto::vapid_sign(context.vapid_key(), *claims);
  if (!jwt) return Outcome::fail(jwt.error());
  // Flip one bit inside r, so the token stays well-formed and only the signature is wrong.
  const auto dot = jwt->rfind('.');
  auto signature = base64url_decode(std::string_view(*jwt).substr(dot + 1));
  if (!signature || signature->size() < 16) return Outcome::fail("vapid_sign made a token without a signature");
  (*signature)[10] ^= 0x01;
  const std::string altered = jwt->substr(0, dot + 1) + base64url_encode(*signature);
  Outcome outcome = expect_refused(context, *bound, vapid_lines(altered, context.vapid_key()), "vapid.bad-signature");
  outcome.observed = "one bit of the signature flipped: " + outcome.observed;
  return outcome;
}

Outcome wrong_audience(Context& context) {
  return refused_token(
      context, "vapid.wrong-audience", context.vapid_key(),
      [](crypto::VapidClaims& c, std::int64_t) { c.aud = "https://wrong-audience.invalid"; },
      "aud https://wrong-audience.invalid");
}

Outcome expired(Context& context) {
  return refused_token(
      context, "vapid.expired", context.vapid_key(),
      [](crypto::VapidClaims& c, std::int64_t now) { c.exp = now - kHour; }, "exp 1 h ago");
}

Outcome exp_too_far(Context& context) {
  return refused_token(
      context, "vapid.exp-too-far", context.vapid_key(),
      [](crypto::VapidClaims& c, std::int64_t now) { c.exp = now + 25 * kHour; }, "exp 25 h ahead");
}

Outcome other_key(Context& context) {
  return refused_token(context, "vapid.other-key", context.other_key(), nullptr,
                       "a valid token signed by another key (k= that key)");
}

constexpr Check kChecks[] = {
    {"vapid.rfc8292", "a push with Authorization: vapid t=…, k=… is accepted", "RFC 8292 §3", rfc8292},
    {"vapid.draft-webpush", "a push with Authorization: WebPush + Crypto-Key: p256ecdsa is accepted",
     "draft-ietf-webpush-vapid-01; autopush", draft_webpush},
    {"vapid.missing", "a push without Authorization to a bound subscription is refused (401/403)", "RFC 8292 §4.2",
     missing},
    {"vapid.bad-signature", "a token whose signature is altered is refused (401/403)", "RFC 8292 §2, §4.2",
     bad_signature},
    {"vapid.wrong-audience", "a token for another origin is refused (401/403)", "RFC 8292 §2", wrong_audience},
    {"vapid.expired", "a token whose exp has passed is refused (401/403)", "RFC 8292 §2", expired},
    {"vapid.exp-too-far", "a token whose exp is more than 24 h ahead is refused (401/403)", "RFC 8292 §2", exp_too_far},
    {"vapid.other-key", "a valid token from another key is refused by a bound subscription (401/403)", "RFC 8292 §4.2",
     other_key},
};

}  // namespace

std::span<const Check> vapid_checks() { return kChecks; }

}  // namespace webpush::conformance
