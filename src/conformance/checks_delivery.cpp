// Group "delivery": what an application server POSTs arrives at the user agent
// byte-exact (aes128gcm, aesgcm, no data), the request rules of RFC 8030 §5
// (size, Location, TTL, Topic, Urgency), and the store-and-forward of autopush:
// messages kept while the user agent is offline, sent in batches at reconnect,
// sent again until acked.
//
// "Offline" is a PushClient whose connection was closed; coming back is a new
// hello with its uaid, and the new connection takes over unregistering the
// channel (Back). Every message a check leaves stored is acked before it ends.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "webpush/conformance/check.h"
#include "webpush/core/url.h"
#include "webpush/crypto/webpush.h"

namespace webpush::conformance {

using nlohmann::json;

namespace {

/// A pause long enough to show that nothing more is coming.
constexpr Millis kQuiet{400};
/// Messages stored while offline in delivery.stored-batches.
constexpr std::size_t kStoredCount = 25;
/// The body RFC 8030 §7.2 says a service must accept, and its aes128gcm plaintext.
constexpr std::size_t kMaxBody = crypto::kWebPushMaxBody;
constexpr std::size_t kRecordOverhead = 1 + 16;  // padding delimiter + AEAD tag
constexpr std::size_t kMaxPlaintext = kMaxBody - crypto::kWebPushHeaderSize - kRecordOverhead;

double ms_since(SteadyTime start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// "" when the POST was answered 201; otherwise what came instead.
std::string not_created(const Result<HttpAnswer>& answer) {
  if (!answer) return "the POST got no answer: " + answer.error().message();
  return answer->status == 201 ? std::string() : "the POST was answered " + answer->describe();
}

bool carries(const json& n, const Channel& channel, ByteView sent) { return payload_problem(n, channel, sent).empty(); }

// A round trip on `client`'s connection (an unregister of a channel never
// registered, which autopush answers 200): what was sent before it has been
// handled when its reply comes.
Result<void> settle(PushClient& client) {
  auto reply = client.unregister(new_channel_id());
  if (!reply) return tl::unexpected(reply.error());
  return {};
}

// An aes128gcm request with a body of exactly `body_size` bytes, past the
// 4096 bytes build_push_request stops at (one record: rs = the record).
Result<load::PushRequest> sized_request(const Channel& channel, std::size_t body_size) {
  const std::size_t record = body_size - crypto::kWebPushHeaderSize;
  const Bytes plaintext = test_payload("delivery.too-large", record - kRecordOverhead);
  auto ua_key = crypto::PublicKey::from_bytes(channel.key->public_bytes());
  if (!ua_key) return fail(Errc::setup, "the subscription's key: " + ua_key.error().message());
  crypto::EncryptOptions options;
  options.rs = static_cast<std::uint32_t>(record);
  options.max_body = 0;
  auto body = crypto::webpush_encrypt(plaintext, *ua_key, channel.auth, options);
  if (!body) return fail(Errc::setup, "encrypting the oversized body: " + body.error().message());
  return load::PushRequest{{"TTL: 60", "Content-Type: application/octet-stream", "Content-Encoding: aes128gcm"},
                           std::move(*body)};
}

// Replaces the request's `name` header line with `value`, or drops it for nullopt.
void set_header(load::PushRequest& request, std::string_view name, const std::optional<std::string>& value) {
  const std::string prefix = lower(std::string(name) + ":");
  std::erase_if(request.headers,
                [&](const std::string& line) { return lower(line.substr(0, prefix.size())) == prefix; });
  if (value) request.headers.push_back(fmt::format("{}: {}", name, *value));
}

// Closes `client`'s connection with the closing handshake: the service has
// seen the user agent go before the check POSTs to it "offline". Frames before
// the service's Close are dropped (a message not acked is sent again on the
// next connection).
void disconnect(PushClient& client) { client.ws().close_and_wait(client.timeout()); }

// A user agent back online: the new connection, with the old uaid, which
// unregisters the channel the old (closed) connection registered.
struct Back {
  std::unique_ptr<PushClient> client;
  std::string channel_id;

  Back() = default;
  Back(Back&&) = default;
  Back& operator=(Back&&) = delete;
  ~Back() {
    // Cleanup only: when the connection is gone there is nothing more to do.
    if (client && !channel_id.empty()) (void)client->unregister(channel_id);
  }
};

// Says hello again with `old`'s uaid; the stored messages for `channel` are then due.
Result<Back> come_back(Context& context, PushClient& old, const Channel& channel) {
  auto again = context.client(old.uaid());
  if (!again) return tl::unexpected(again.error().with_context("reconnecting"));
  if ((*again)->uaid() != old.uaid()) {
    return fail(Errc::bad_reply, fmt::format("the hello with uaid {} was answered with uaid {}: the stored messages "
                                             "went with the old one",
                                             old.uaid(), (*again)->uaid()));
  }
  old.forget_channels();  // unregistered over the new connection (Back)
  Back back;
  back.client = std::move(*again);
  back.channel_id = channel.id;
  return back;
}

// A subscribed client whose connection is then closed.
struct Offline {
  std::unique_ptr<PushClient> old;
  Channel channel;
};

Result<Offline> go_offline(Context& context) {
  auto client = context.client();
  if (!client) return tl::unexpected(client.error());
  auto channel = (*client)->subscribe();
  if (!channel) return tl::unexpected(channel.error());
  disconnect(**client);
  return Offline{std::move(*client), std::move(*channel)};
}

// Reads notifications, acking each, until one carries `marker` (`what`, for
// the error), then those that follow within kQuiet. Errors: timeout (saying
// what else came), those of next_notification and ack.
Result<std::vector<json>> until_marker(PushClient& client, const Channel& channel, ByteView marker,
                                       std::string_view what, Millis timeout) {
  std::vector<json> got;
  const SteadyTime deadline = std::chrono::steady_clock::now() + timeout;
  for (bool found = false; !found;) {
    const auto left =
        std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now()));
    auto n = client.next_notification(left);
    if (!n && n.error().is(Errc::timeout)) {
      std::string text = fmt::format("{} did not arrive within {:.1f} s", what, seconds(timeout));
      if (!got.empty()) {
        text += fmt::format("; {} other notification(s) came, the first: {}", got.size(),
                            payload_problem(got.front(), channel, marker));
      }
      return fail(Errc::timeout, text);
    }
    if (!n) return tl::unexpected(n.error().with_context("waiting for a notification"));
    if (auto acked = client.ack(*n); !acked) return tl::unexpected(acked.error());
    found = carries(*n, channel, marker);
    got.push_back(std::move(*n));
  }
  auto more = client.drain_notifications(kQuiet);
  if (!more) return tl::unexpected(more.error());
  for (auto& n : *more) {
    if (auto acked = client.ack(n); !acked) return tl::unexpected(acked.error());
    got.push_back(std::move(n));
  }
  return got;
}

// ---- byte-exact delivery to a connected user agent ----------------------------------

struct Trip {
  std::string_view tag;
  std::size_t size = 0;  ///< plaintext bytes
  std::string encoding = "aes128gcm";
  int ttl = 60;
  std::optional<std::size_t> body;  ///< the body size the request must have
};

// Subscribes, POSTs a payload as `trip` says, and checks it arrives byte-exact; acks it.
Outcome round_trip(Context& context, const Trip& trip) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  auto channel = (*client)->subscribe();
  if (!channel) return Outcome::fail(channel.error());
  const Bytes payload = test_payload(trip.tag, trip.size);
  load::PushOptions push = push_options_for(context, *channel);
  push.encoding = trip.encoding;
  push.ttl = trip.ttl;
  auto request = context.build(*channel, payload, push);
  if (!request) return Outcome::fail(request.error());
  if (trip.body && request->body.size() != *trip.body) {
    return Outcome::fail(fmt::format("setup: the body is {} bytes, not {}", request->body.size(), *trip.body));
  }
  const auto start = std::chrono::steady_clock::now();
  const auto posted = context.post(channel->endpoint, *request);
  if (auto bad = not_created(posted); !bad.empty()) return Outcome::fail(bad);
  auto n = expect_notification(**client, context.options().reply_timeout);
  if (!n) return Outcome::fail(n.error());
  const double took = ms_since(start);
  if (auto acked = (*client)->ack(*n); !acked) return Outcome::fail(acked.error());
  if (auto problem = payload_problem(*n, *channel, payload); !problem.empty()) return Outcome::fail(problem);
  if (trip.size == 0)
    return Outcome::pass(fmt::format("201; a notification without data arrived {:.1f} ms after the POST", took));
  return Outcome::pass(fmt::format("{}-byte {} body: 201; {} bytes decrypted byte-exact, {:.1f} ms after the POST",
                                   request->body.size(), trip.encoding, trip.size, took));
}

Outcome aes128gcm(Context& context) { return round_trip(context, {.tag = "delivery.aes128gcm", .size = 120}); }

Outcome aesgcm(Context& context) {
  return round_trip(context, {.tag = "delivery.aesgcm", .size = 120, .encoding = "aesgcm"});
}

Outcome no_data(Context& context) {
  return round_trip(context, {.tag = "delivery.no-data", .size = 0, .encoding = "none"});
}

Outcome max_body(Context& context) {
  return round_trip(context, {.tag = "delivery.max-body", .size = kMaxPlaintext, .body = kMaxBody});
}

Outcome ttl_zero_connected(Context& context) {
  return round_trip(context, {.tag = "delivery.ttl-zero-connected", .size = 64, .ttl = 0});
}

// ---- request rules ---------------------------------------------------------------------

// After a POST that should have been refused was accepted: acks what it delivered.
void ack_stray(PushClient& client) {
  auto stray = client.drain_notifications(kQuiet);
  if (!stray) return;  // the connection ended: nothing is left to ack on it
  for (const auto& n : *stray) {
    // Cleanup only: a failed ack leaves the message to the uaid, which no other check uses.
    (void)client.ack(n);
  }
}

// POSTs a `body_size`-byte body; the answer when it is 413 or 201 (what a 201
// delivered is acked). Errors: no answer, or another status.
Result<HttpAnswer> post_sized(Context& context, PushClient& client, const Channel& channel, std::size_t body_size) {
  auto request = sized_request(channel, body_size);
  if (!request) return tl::unexpected(request.error());
  auto posted = context.post(channel.endpoint, *request);
  if (!posted) {
    return fail(Errc::http, fmt::format("a {}-byte body got no answer: {}", body_size, posted.error().message()));
  }
  if (posted->status == 201) ack_stray(client);
  if (posted->status == 201 || posted->status == 413) return posted;
  return fail(Errc::bad_reply, fmt::format("a {}-byte body was answered {}, not 413", body_size, posted->describe()));
}

// RFC 8030 §7.2: a service MAY refuse a body over 4096 bytes, and then with
// 413; it MUST NOT refuse one of 4096 (delivery.max-body). Accepting more is allowed.
Outcome too_large(Context& context) {
  constexpr std::size_t kOver = kMaxBody + 1;
  constexpr std::size_t kHuge = 64 * 1024;
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  auto channel = (*client)->subscribe();
  if (!channel) return Outcome::fail(channel.error());
  auto over = post_sized(context, **client, *channel, kOver);
  if (!over) return Outcome::fail(over.error());
  if (over->status == 413) return Outcome::pass(fmt::format("{} bytes refused with {}", kOver, over->describe()));
  if (over->status / 100 != 2) {
    return Outcome::fail(fmt::format("{} bytes answered {}: a body too large must get 413", kOver, over->describe()));
  }
  auto huge = post_sized(context, **client, *channel, kHuge);
  if (!huge) return Outcome::fail(huge.error());
  if (huge->status == 413) {
    return Outcome::pass(
        fmt::format("{} bytes accepted (allowed), {} refused with {}", kOver, kHuge, huge->describe()));
  }
  if (huge->status / 100 == 2) {
    return Outcome::pass(
        fmt::format("{} and {} bytes both accepted: no limit up to {} bytes (allowed)", kOver, kHuge, kHuge));
  }
  return Outcome::fail(fmt::format("{} bytes answered {}: a body too large must get 413", kHuge, huge->describe()));
}

// A connected client and channel, and a request built for it.
struct Posting {
  std::unique_ptr<PushClient> client;
  Channel channel;
  load::PushRequest request;
  Bytes payload;
};

Result<Posting> prepare(Context& context, std::string_view tag) {
  auto client = context.client();
  if (!client) return tl::unexpected(client.error());
  auto channel = (*client)->subscribe();
  if (!channel) return tl::unexpected(channel.error());
  Bytes payload = test_payload(tag, 48);
  auto request = context.build(*channel, payload, push_options_for(context, *channel));
  if (!request) return tl::unexpected(request.error());
  return Posting{std::move(*client), std::move(*channel), std::move(*request), std::move(payload)};
}

// Receives `p`'s message on its client, acks it, checks the payload.
Result<void> receive(Context& context, Posting& p) {
  auto n = expect_notification(*p.client, context.options().reply_timeout);
  if (!n) return tl::unexpected(n.error().with_context("the accepted message"));
  if (auto acked = p.client->ack(*n); !acked) return acked;
  if (auto problem = payload_problem(*n, p.channel, p.payload); !problem.empty()) {
    return fail(Errc::bad_reply, problem);
  }
  return {};
}

Outcome location(Context& context) {
  auto p = prepare(context, "delivery.location");
  if (!p) return Outcome::fail(p.error());
  const auto posted = context.post(p->channel.endpoint, p->request);
  if (auto bad = not_created(posted); !bad.empty()) return Outcome::fail(bad);
  if (auto got = receive(context, *p); !got) return Outcome::fail(got.error());
  const std::string where = posted->header("location");
  if (where.empty()) return Outcome::fail("201 without a Location header (RFC 8030 §5 asks for the message's URI)");
  if (auto url = parse_url(where); url && (url->scheme == "http" || url->scheme == "https")) {
    return Outcome::pass("201, Location: " + shorten(where));
  }
  if (where.front() == '/') {
    return Outcome::pass("201, Location: " + shorten(where) + " (a relative reference, as RFC 9110 §10.2.2 allows)");
  }
  return Outcome::fail("201 with a Location that is not a URL: " + shorten(where));
}

Outcome ttl_missing(Context& context) {
  auto p = prepare(context, "delivery.ttl-missing");
  if (!p) return Outcome::fail(p.error());
  set_header(p->request, "TTL", std::nullopt);
  const auto posted = context.post(p->channel.endpoint, p->request);
  if (!posted) return Outcome::fail("the POST without TTL got no answer: " + posted.error().message());
  if (posted->status == 400) return Outcome::pass("no TTL header: " + posted->describe());
  if (posted->status / 100 == 2) ack_stray(*p->client);
  return Outcome::fail(fmt::format("a POST without a TTL header was answered {}, not 400", posted->describe()));
}

Outcome ttl_capped(Context& context) {
  constexpr std::uint64_t kHuge = 4'294'967'296;  // 2^32: past 32 bits (RFC 9111 §1.2.2 says treat as 2^31)
  auto p = prepare(context, "delivery.ttl-capped");
  if (!p) return Outcome::fail(p.error());
  set_header(p->request, "TTL", std::to_string(kHuge));
  const auto posted = context.post(p->channel.endpoint, p->request);
  if (!posted)
    return Outcome::fail(fmt::format("the POST with TTL {} got no answer: {}", kHuge, posted.error().message()));
  if (posted->status != 201) return Outcome::fail(fmt::format("TTL {} was answered {}", kHuge, posted->describe()));
  if (auto got = receive(context, *p); !got) return Outcome::fail(got.error());
  const std::string echoed = posted->header("ttl");
  if (echoed.empty()) {
    return Outcome::pass(
        fmt::format("TTL {}: 201 without a TTL header (RFC 8030 §5.2 asks for one only when the "
                    "service keeps the message for less)",
                    kHuge));
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(echoed.data(), echoed.data() + echoed.size(), value);
  if (ec != std::errc() || end != echoed.data() + echoed.size()) {
    return Outcome::fail(
        fmt::format("TTL {} accepted; the response's TTL \"{}\" is not a number", kHuge, shorten(echoed)));
  }
  if (value > kHuge) return Outcome::fail(fmt::format("TTL {} answered with a larger TTL {}", kHuge, value));
  if (value == 0) return Outcome::fail(fmt::format("TTL {} answered with TTL 0: the value wrapped around", kHuge));
  return Outcome::pass(fmt::format("TTL {}: 201, the response says TTL {}", kHuge, value));
}

Outcome urgency(Context& context) {
  auto client = context.client();
  if (!client) return Outcome::fail(client.error());
  auto channel = (*client)->subscribe();
  if (!channel) return Outcome::fail(channel.error());
  for (const char* level : {"very-low", "low", "normal", "high"}) {
    const Bytes payload = test_payload(std::string("delivery.urgency ") + level, 40);
    load::PushOptions push = push_options_for(context, *channel);
    push.urgency = level;
    const auto posted = context.push(*channel, payload, push);
    if (auto bad = not_created(posted); !bad.empty()) return Outcome::fail(fmt::format("Urgency {}: {}", level, bad));
    auto n = expect_notification(**client, context.options().reply_timeout);
    if (!n) return Outcome::fail(fmt::format("Urgency {}: 201, but {}", level, n.error().message()));
    if (auto acked = (*client)->ack(*n); !acked) return Outcome::fail(acked.error());
    if (auto problem = payload_problem(*n, *channel, payload); !problem.empty()) {
      return Outcome::fail(fmt::format("Urgency {}: {}", level, problem));
    }
  }
  return Outcome::pass("Urgency very-low, low, normal and high: each 201 and delivered");
}

// ---- store and forward -------------------------------------------------------------------

// POSTs `payload` to `channel` with `push`, requiring 201.
Result<void> post_created(Context& context, const Channel& channel, ByteView payload, const load::PushOptions& push,
                          std::string_view what) {
  const auto posted = context.push(channel, payload, push);
  if (auto bad = not_created(posted); !bad.empty()) return fail(Errc::bad_reply, fmt::format("{}: {}", what, bad));
  return {};
}

Outcome ttl_zero_offline(Context& context) {
  auto off = go_offline(context);
  if (!off) return Outcome::fail(off.error());
  const Bytes lost = test_payload("delivery.ttl-zero-offline", 48);
  const Bytes marker = test_payload("delivery.ttl-zero-offline marker", 48);
  load::PushOptions push = push_options_for(context, off->channel);
  push.ttl = 0;
  if (auto ok = post_created(context, off->channel, lost, push, "TTL 0 while offline"); !ok)
    return Outcome::fail(ok.error());
  push.ttl = 60;
  if (auto ok = post_created(context, off->channel, marker, push, "TTL 60 after it"); !ok) {
    return Outcome::fail(ok.error());
  }
  auto back = come_back(context, *off->old, off->channel);
  if (!back) return Outcome::fail(back.error());
  auto got = until_marker(*back->client, off->channel, marker, "the TTL 60 message sent after it",
                          context.options().reply_timeout);
  if (!got) return Outcome::fail("at reconnect: " + got.error().message());
  const auto delivered =
      std::count_if(got->begin(), got->end(), [&](const json& n) { return carries(n, off->channel, lost); });
  if (delivered > 0) return Outcome::fail("the TTL 0 message sent while offline was delivered at reconnect");
  return Outcome::pass("TTL 0 while offline: 201, not delivered at reconnect (the TTL 60 one sent after it was)");
}

Outcome topic(Context& context) {
  auto off = go_offline(context);
  if (!off) return Outcome::fail(off.error());
  const Bytes first = test_payload("delivery.topic first", 48);
  const Bytes second = test_payload("delivery.topic second", 48);
  load::PushOptions push = push_options_for(context, off->channel);
  push.topic = "checkservice";
  if (auto ok = post_created(context, off->channel, first, push, "the first Topic message"); !ok) {
    return Outcome::fail(ok.error());
  }
  if (auto ok = post_created(context, off->channel, second, push, "the second Topic message"); !ok) {
    return Outcome::fail(ok.error());
  }
  auto back = come_back(context, *off->old, off->channel);
  if (!back) return Outcome::fail(back.error());
  auto got = until_marker(*back->client, off->channel, second, "the second message", context.options().reply_timeout);
  if (!got) return Outcome::fail("at reconnect: " + got.error().message());
  const auto count = [&](const Bytes& sent) {
    return std::count_if(got->begin(), got->end(), [&](const json& n) { return carries(n, off->channel, sent); });
  };
  if (count(first) > 0) return Outcome::fail("the replaced message (same Topic) was delivered too at reconnect");
  if (count(second) != 1) return Outcome::fail(fmt::format("the second message arrived {} times", count(second)));
  if (got->size() != 1) return Outcome::fail(fmt::format("{} notifications arrived, 1 expected", got->size()));
  return Outcome::pass("two messages with Topic \"checkservice\" while offline: only the second arrived at reconnect");
}

// The stored messages arriving at reconnect, batch by batch: each batch is what
// comes without an ack (until a pause of kQuiet); then it is acked.
struct Batches {
  std::vector<std::size_t> sizes;
  std::vector<bool> seen = std::vector<bool>(kStoredCount, false);
  std::size_t total = 0;
};

Result<void> read_batches(Context& context, PushClient& client, const Channel& channel, const std::vector<Bytes>& sent,
                          Batches& b) {
  while (b.total < sent.size()) {
    auto head = expect_notification(client, context.options().reply_timeout);
    if (!head) {
      return fail(Errc::timeout, fmt::format("after {} of {} messages (batches {}): {}", b.total, sent.size(),
                                             fmt::join(b.sizes, ", "), head.error().message()));
    }
    auto rest = client.drain_notifications(kQuiet);
    if (!rest) return tl::unexpected(rest.error());
    rest->insert(rest->begin(), std::move(*head));
    for (const auto& n : *rest) {
      const auto it = std::find_if(sent.begin(), sent.end(), [&](const Bytes& s) { return carries(n, channel, s); });
      if (it == sent.end())
        return fail(Errc::bad_reply,
                    "a notification that carries none of the messages sent: " + payload_problem(n, channel, sent[0]));
      const auto i = static_cast<std::size_t>(it - sent.begin());
      if (b.seen[i]) return fail(Errc::bad_reply, fmt::format("message {} arrived twice in one session", i + 1));
      b.seen[i] = true;
    }
    b.sizes.push_back(rest->size());
    b.total += rest->size();
    for (const auto& n : *rest) {
      if (auto acked = client.ack(n); !acked) return acked;
    }
  }
  return {};
}

Outcome stored_batches(Context& context) {
  auto off = go_offline(context);
  if (!off) return Outcome::fail(off.error());
  std::vector<Bytes> sent;
  for (std::size_t i = 0; i < kStoredCount; ++i) {
    sent.push_back(test_payload(fmt::format("delivery.stored-batches {}", i + 1), 40));
    const auto what = fmt::format("message {} of {} while offline", i + 1, kStoredCount);
    if (auto ok = post_created(context, off->channel, sent.back(), push_options_for(context, off->channel), what);
        !ok) {
      return Outcome::fail(ok.error());
    }
  }
  auto back = come_back(context, *off->old, off->channel);
  if (!back) return Outcome::fail(back.error());
  Batches b;
  if (auto ok = read_batches(context, *back->client, off->channel, sent, b); !ok) return Outcome::fail(ok.error());
  if (b.sizes.size() == 1) {
    return Outcome::pass(fmt::format("{} stored messages arrived at reconnect, all without an ack", kStoredCount));
  }
  return Outcome::pass(
      fmt::format("{} stored messages arrived at reconnect in batches of {}: each batch paused until it was "
                  "acked, and the next came after the acks",
                  kStoredCount, fmt::join(b.sizes, ", ")));
}

// A connected client got a message (not acked yet): its notification.
struct Delivered {
  Offline at;  ///< `old` still connected until the check closes it
  Bytes payload;
  json notification;
};

Result<Delivered> deliver_one(Context& context, std::string_view tag) {
  auto client = context.client();
  if (!client) return tl::unexpected(client.error());
  auto channel = (*client)->subscribe();
  if (!channel) return tl::unexpected(channel.error());
  Bytes payload = test_payload(tag, 48);
  if (auto ok = post_created(context, *channel, payload, push_options_for(context, *channel), "the message"); !ok) {
    return tl::unexpected(ok.error());
  }
  auto n = expect_notification(**client, context.options().reply_timeout);
  if (!n) return tl::unexpected(n.error());
  if (auto problem = payload_problem(*n, *channel, payload); !problem.empty()) {
    (void)(*client)->ack(*n);  // the check fails either way; the ack only keeps the service clean
    return fail(Errc::bad_reply, problem);
  }
  return Delivered{Offline{std::move(*client), std::move(*channel)}, std::move(payload), std::move(*n)};
}

// Closes `d`'s connection (after the service has handled what was sent on
// it), comes back, and expects `d`'s message again; acks it.
Outcome expect_again(Context& context, Delivered& d, std::string_view after) {
  if (auto ok = settle(*d.at.old); !ok)
    return Outcome::fail(fmt::format("the message {}, then: {}", after, ok.error().message()));
  disconnect(*d.at.old);
  auto back = come_back(context, *d.at.old, d.at.channel);
  if (!back) return Outcome::fail(back.error());
  auto n = expect_notification(*back->client, context.options().reply_timeout);
  if (!n) return Outcome::fail(fmt::format("the message {} was not sent again: {}", after, n.error().message()));
  if (auto acked = back->client->ack(*n); !acked) return Outcome::fail(acked.error());
  if (auto problem = payload_problem(*n, d.at.channel, d.payload); !problem.empty()) return Outcome::fail(problem);
  const std::string before = text_field(d.notification, "version");
  const std::string now = text_field(*n, "version");
  if (now != before) {
    return Outcome::fail(
        fmt::format("sent again with another version ({}, was {})", shorten(now, 40), shorten(before, 40)));
  }
  return Outcome::pass(
      fmt::format("the message {} came again on the next connection, same version {}", after, shorten(now, 40)));
}

Outcome redelivery(Context& context) {
  auto d = deliver_one(context, "delivery.redelivery");
  if (!d) return Outcome::fail(d.error());
  return expect_again(context, *d, "not acked");
}

Outcome nack(Context& context) {
  auto d = deliver_one(context, "delivery.nack");
  if (!d) return Outcome::fail(d.error());
  const json message = {{"messageType", "nack"}, {"version", text_field(d->notification, "version")}, {"code", 301}};
  if (auto sent = d->at.old->send(message); !sent) return Outcome::fail(sent.error().with_context("sending the nack"));
  return expect_again(context, *d, "nacked (code 301)");
}

Outcome acked_not_resent(Context& context) {
  auto d = deliver_one(context, "delivery.acked-not-resent");
  if (!d) return Outcome::fail(d.error());
  if (auto acked = d->at.old->ack(d->notification); !acked) return Outcome::fail(acked.error());
  if (auto ok = settle(*d->at.old); !ok) return Outcome::fail("after the ack: " + ok.error().message());
  disconnect(*d->at.old);
  auto back = come_back(context, *d->at.old, d->at.channel);
  if (!back) return Outcome::fail(back.error());
  const Bytes marker = test_payload("delivery.acked-not-resent marker", 48);
  if (auto ok = post_created(context, d->at.channel, marker, push_options_for(context, d->at.channel), "a new message");
      !ok) {
    return Outcome::fail(ok.error());
  }
  auto got = until_marker(*back->client, d->at.channel, marker, "the message sent after the ack",
                          context.options().reply_timeout);
  if (!got) return Outcome::fail("on the next connection: " + got.error().message());
  const std::string version = text_field(d->notification, "version");
  for (const auto& n : *got) {
    if (carries(n, d->at.channel, d->payload) || text_field(n, "version") == version) {
      return Outcome::fail("the acked message came again on the next connection (version " + shorten(version, 40) +
                           ")");
    }
  }
  return Outcome::pass("after the ack, the next connection got only the message sent after it");
}

constexpr Check kChecks[] = {
    {"delivery.aes128gcm", "an aes128gcm message arrives and decrypts byte-exact", "RFC 8030 §5; RFC 8291", aes128gcm},
    {"delivery.aesgcm", "a legacy aesgcm message arrives and decrypts byte-exact",
     "draft-ietf-webpush-encryption-04; autopush", aesgcm},
    {"delivery.no-data", "a push without a body arrives as a notification without data", "RFC 8030 §5; autopush",
     no_data},
    {"delivery.max-body", "a 4096-byte body is accepted and delivered", "RFC 8030 §7.2; RFC 8291 §4", max_body},
    {"delivery.too-large", "a body over the service's limit is refused with 413", "RFC 8030 §7.2", too_large},
    {"delivery.location", "201 Created carries a Location header", "RFC 8030 §5", location},
    {"delivery.ttl-missing", "a POST without a TTL header is refused with 400", "RFC 8030 §5.2", ttl_missing},
    {"delivery.ttl-zero-connected", "TTL 0 to a connected user agent is delivered", "RFC 8030 §5.2",
     ttl_zero_connected},
    {"delivery.ttl-zero-offline", "TTL 0 while disconnected is accepted and not delivered later", "RFC 8030 §5.2",
     ttl_zero_offline},
    {"delivery.ttl-capped", "a huge TTL is accepted and the response's TTL is no larger", "RFC 8030 §5.2", ttl_capped},
    {"delivery.topic", "a stored message is replaced by one with the same Topic", "RFC 8030 §5.4", topic},
    {"delivery.urgency", "each Urgency value is accepted", "RFC 8030 §5.3", urgency},
    {"delivery.stored-batches", "messages stored while offline arrive at reconnect, batch after acked batch",
     "autopush protocol: check_storage", stored_batches},
    {"delivery.redelivery", "an un-acked message comes again on the next connection", "autopush protocol: ack",
     redelivery},
    {"delivery.acked-not-resent", "an acked message is not sent again", "autopush protocol: ack", acked_not_resent},
    {"delivery.nack", "a nacked, un-acked message comes again on the next connection", "autopush protocol: nack", nack},
};

}  // namespace

std::span<const Check> delivery_checks() { return kChecks; }

}  // namespace webpush::conformance
