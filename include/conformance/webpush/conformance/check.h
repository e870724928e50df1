// The checks of `webpushd check-service`, as data: each is a row (id, group,
// what it checks, the standard it comes from) and one function that runs it
// against the service and says PASS, FAIL with what it observed, or SKIP with
// why. Adding a check is one row in its group's table and one function.
//
// Every check cleans up after itself: the PushClients it opens unregister the
// channels they registered when they go (PushClient::~PushClient).
//
// Thread: the checks run one after another on one thread (a check may start
// threads of its own and joins them before it returns).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/conformance/http_probe.h"
#include "webpush/conformance/push_client.h"
#include "webpush/conformance/text.h"
#include "webpush/conformance/ws_probe.h"
#include "webpush/core/error.h"
#include "webpush/crypto/keys.h"
#include "webpush/load/push_request.h"

namespace webpush::conformance {

enum class Verdict { pass, fail, skip };

/// "PASS", "FAIL", "SKIP".
[[nodiscard]] std::string_view to_string(Verdict v) noexcept;

/// A check's result: the verdict and what was observed (for a pass, what
/// the service did; for a fail, what it did instead; for a skip, why).
struct Outcome {
  Verdict verdict = Verdict::pass;
  std::string observed;

  static Outcome pass(std::string observed) { return {Verdict::pass, std::move(observed)}; }
  static Outcome fail(std::string observed) { return {Verdict::fail, std::move(observed)}; }
  static Outcome fail(const Error& error) { return {Verdict::fail, error.message()}; }
  static Outcome skip(std::string why) { return {Verdict::skip, std::move(why)}; }
};

struct CheckOptions {
  std::string server;     ///< ws:// or wss:// URL of the service
  std::string ca_file;    ///< extra CA certificates (PEM), for wss:// and https:// endpoints
  bool insecure = false;  ///< allow ws:// to a host that is not loopback
  bool probe_limits = false;
  Millis reply_timeout{5'000};    ///< how long a reply may take
  Millis handshake_wait{30'000};  ///< how long to wait for the service to close a silent connection
  Millis ping_wait{10'000};       ///< how long to wait for the service's WebSocket Ping
  std::string vapid_subject = "mailto:check-service@webpushd.invalid";
};

class Context;

/// One row of the table.
struct Check {
  std::string_view id;         ///< "<group>.<name>", stable: scripts select and compare by it
  std::string_view title;      ///< what it checks, one line
  std::string_view reference;  ///< the standard, e.g. "RFC 8030 §5.2" or "autopush: hello"
  Outcome (*run)(Context& context);
  bool probe_limits = false;  ///< runs only with --probe-limits
};

struct Group {
  std::string_view id;     ///< "handshake", "registration", …
  std::string_view title;  ///< "Handshake and identity"
  std::span<const Check> checks;
};

/// Every group, in the order they run.
[[nodiscard]] std::span<const Group> all_groups();

// Each group's table (checks_<group>.cpp).
std::span<const Check> handshake_checks();
std::span<const Check> registration_checks();
std::span<const Check> delivery_checks();
std::span<const Check> vapid_checks();
std::span<const Check> keepalive_checks();
std::span<const Check> limits_checks();

/// What every check gets: the options, the two sides of the conversation
/// (user agent connections and the application server's HTTP), and the
/// application server's VAPID keys.
class Context {
 public:
  explicit Context(CheckOptions options);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  [[nodiscard]] const CheckOptions& options() const noexcept { return options_; }
  [[nodiscard]] ProbeOptions probe_options() const;

  /// A new connection that has said hello (with `uaid` when given).
  /// Errors: those of PushClient::connect.
  Result<std::unique_ptr<PushClient>> client(const std::optional<std::string>& uaid = std::nullopt);
  /// A raw connection, nothing sent yet. Errors: those of WsProbe::open.
  Result<std::unique_ptr<WsProbe>> raw_connection();

  [[nodiscard]] HttpProbe& http() noexcept { return http_; }
  /// The application server's VAPID key, and a second, unrelated one.
  [[nodiscard]] const crypto::KeyPair& vapid_key() const noexcept { return *vapid_key_; }
  [[nodiscard]] const crypto::KeyPair& other_key() const noexcept { return *other_key_; }
  /// Seconds since the epoch, for VAPID claims.
  [[nodiscard]] std::int64_t now_unix() const;

  /// The request a standard application server makes: `payload` encrypted for
  /// `channel` as `push` says (VAPID-signed with `push.vapid` when set).
  Result<load::PushRequest> build(const Channel& channel, ByteView payload, const load::PushOptions& push) const;
  /// POSTs `request` to `endpoint`. Errors: http.
  Result<HttpAnswer> post(std::string_view endpoint, const load::PushRequest& request);
  /// build + post.
  Result<HttpAnswer> push(const Channel& channel, ByteView payload, const load::PushOptions& push);

  /// Generates the keys. Errors: setup.
  Result<void> prepare();

  /// What one check learnt that spares another a wait: whether the service
  /// sent a WebSocket Ping within ping_wait (unknown until a check looked).
  std::optional<bool> service_pings;

 private:
  CheckOptions options_;
  HttpProbe http_;
  std::optional<crypto::KeyPair> vapid_key_;
  std::optional<crypto::KeyPair> other_key_;
};

/// Push options for `channel`: VAPID-signed with the context's key when the
/// channel is bound to it.
[[nodiscard]] load::PushOptions push_options_for(const Context& context, const Channel& channel);

/// "201", "401 errno 109", or the error when no answer came.
[[nodiscard]] std::string describe(const Result<HttpAnswer>& answer);

/// A payload of `n` bytes that names the check (so a mix-up shows).
[[nodiscard]] Bytes test_payload(std::string_view tag, std::size_t n);

// What the checks share to read what the service did and say it.

/// "" when `n` is `channel`'s notification and decrypts to `sent` (a push
/// without data for an empty `sent`); otherwise what is wrong with it.
[[nodiscard]] std::string payload_problem(const nlohmann::json& n, const Channel& channel, ByteView sent);
/// The next notification on `client`. Errors: timeout ("no notification
/// within 5.0 s"), closed, bad_reply.
Result<nlohmann::json> expect_notification(PushClient& client, Millis timeout);
/// Waits for the next notification, acks it (so the service keeps nothing)
/// and checks it is `channel`'s and carries `sent`. Errors: those of
/// expect_notification; bad_reply saying what is wrong with it.
Result<void> receive_push(PushClient& client, const Channel& channel, ByteView sent, Millis timeout);

}  // namespace webpush::conformance
