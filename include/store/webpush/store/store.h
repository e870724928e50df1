// The user agent's store: everything that must survive a restart or a crash, in
// one SQLite database `webpushd.db` inside the state directory.
//
//   - connections: the uaid each push service assigned (absent until it does);
//   - subscriptions: name, server, channel ID, endpoint, keys, state;
//   - inbox: every message received, unique on (channel ID, version) so that a
//     message the service redelivers after a lost ack is recognised;
//   - for Chrome's push service (FCM, docs/fcm.md): the checkin identity, each
//     subscription's FCM registration, and the MCS persistent ids of stored
//     messages that the next login presents as received.
//
// The daemon's rule is "ack after commit": inbox_put_if_new() / inbox_put_batch()
// return only once the rows are durable (WAL, synchronous=FULL by default), and the
// message may then be acked. On start, list_undelivered() gives what was stored but
// not yet handed to the sinks.
//
// Opening (Store::open):
//   - the state directory is created 0700 (with missing parents); the database file
//     and its -wal/-shm files are 0600. Wrong modes on existing ones are corrected
//     with a warning on the spdlog logger "store";
//   - OpenMode::daemon and OpenMode::client take an exclusive flock() on
//     `daemon.lock` for the Store's life (the holder's pid is written into it); a
//     second daemon or client gets Errc::locked. OpenMode::read_only takes no lock
//     and works beside a running daemon;
//   - a file that is not an SQLite database, an SQLite database of another
//     application, or a corrupt one is refused with a message naming the file and
//     is never written to;
//   - PRAGMA user_version is the schema version; older schemas are upgraded by
//     forward-only migrations (daemon/client), a newer one is refused.
//
// Every operation is one transaction; statements are prepared once at open.
// Timestamps are Unix time in milliseconds, supplied by the caller (the store
// reads no clock).
//
// Thread: a Store is used from one thread (the daemon's event loop). It must not
// be used across fork(). Key material is never logged or put in an error message.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/core/message.h"
#include "webpush/store/errc.h"

namespace webpush::store {

/// The schema version this build writes (PRAGMA user_version).
inline constexpr std::int64_t kSchemaVersion = 5;
/// PRAGMA application_id of a webpushd database ("wpud").
inline constexpr std::int64_t kApplicationId = 0x77707564;
inline constexpr std::string_view kDatabaseFileName = "webpushd.db";
inline constexpr std::string_view kLockFileName = "daemon.lock";

inline constexpr std::size_t kPrivateKeySize = 32;
inline constexpr std::size_t kPublicKeySize = 65;
inline constexpr std::size_t kAuthSecretSize = 16;

/// How many MCS persistent ids add_fcm_acks() keeps at most (the newest).
inline constexpr std::int64_t kMaxFcmAcks = 1000;

enum class OpenMode : std::uint8_t {
  daemon,     ///< read-write, holds the state directory's lock; migrates an older schema
  client,     ///< read-write for a CLI command when no daemon runs; holds the same lock
  read_only,  ///< SQLITE_OPEN_READONLY, no lock: list/messages/status beside a daemon
};

/// PRAGMA synchronous for the commits that precede an ack (puts) and for
/// subscription and uaid changes. full: a commit survives power loss (one fsync per
/// commit); normal: it survives a crash of the process, not of the machine.
enum class Synchronous : std::uint8_t { normal, full };

struct StoreOptions {
  Synchronous synchronous = Synchronous::full;
  /// How long an operation waits for another connection's lock before Errc::busy.
  std::chrono::milliseconds busy_timeout{5000};
  /// Run PRAGMA quick_check at open so that corruption is found before anything is
  /// acked. It reads every page: for a full inbox (10,000 messages of 4 KB, 40 MB)
  /// about 35 ms from the page cache, about 1 s cold. The daemon keeps it on; a
  /// read-only CLI command may turn it off.
  bool quick_check = true;
};

enum class SubscriptionState : std::uint8_t {
  pending,            ///< registered locally, the push service has not confirmed yet
  active,             ///< has an endpoint that delivers
  needs_resubscribe,  ///< the endpoint changed or was dropped: the app server must be told
};

/// The UnifiedPush app a subscription belongs to (docs/unifiedpush.md): its
/// messages are forwarded to the app's connector, encrypted, not to the sinks.
struct AppRegistration {
  std::string service;      ///< the app's D-Bus bus name
  std::string token;        ///< the app's id for this registration; unique with `service`
  std::string description;  ///< free text the app gave
  int api = 2;              ///< 1: Connector1, 2: Connector2
  /// The endpoint the app was last told (NewEndpoint); null before it took one.
  std::optional<std::string> notified_endpoint;

  bool operator==(const AppRegistration&) const = default;
};

/// The registration of a subscription with Chrome's push service (docs/fcm.md):
/// its messages arrive over the MCS connection instead of autopush.
struct FcmRegistration {
  std::string app_id;     ///< the app id (X-subtype) given at GCM register; unique, not empty
  std::string gcm_token;  ///< the GCM registration token; not empty
  /// The FCM registration token; empty when only the GCM step was done.
  std::string fcm_token;
  /// The Firebase installation id; empty when there is none (stored as NULL).
  std::string installation_id;

  bool operator==(const FcmRegistration&) const = default;
};

/// The identity the FCM checkin assigned to this user agent (one per store).
struct FcmDevice {
  std::uint64_t android_id = 0;  ///< never 0
  /// Never 0. A credential: never log it or put it in an error message.
  std::uint64_t security_token = 0;
  std::int64_t checked_in_at = 0;  ///< when the checkin that gave them succeeded

  bool operator==(const FcmDevice&) const = default;
};

struct Subscription {
  std::int64_t id = 0;  ///< assigned by add_subscription(); ignored on input
  std::string name;     ///< unique, chosen by the user
  std::string server;   ///< push service URL
  std::string channel_id;
  std::string endpoint;
  SecretBytes private_key;              ///< 32-byte P-256 scalar. Key material: never log it.
  Bytes public_key;                     ///< 65-byte uncompressed P-256 point
  SecretBytes auth_secret;              ///< 16 bytes. Key material: never log it.
  std::optional<Bytes> app_server_key;  ///< the VAPID key (65-byte point) the subscription is bound to
  std::int64_t created_at = 0;
  SubscriptionState state = SubscriptionState::pending;
  std::optional<std::int64_t> changed_at;        ///< when the registration was last replaced
  std::optional<std::string> previous_endpoint;  ///< the endpoint before the last replacement
  std::optional<AppRegistration> app;            ///< set for a UnifiedPush app's subscription
  std::optional<FcmRegistration> fcm;            ///< set for a subscription received through FCM

  bool operator==(const Subscription&) const = default;
};

/// A new registration for an existing subscription (after the push service changed
/// the uaid): the id, name, server, app server key and creation time are kept.
struct Reregistration {
  std::string channel_id;
  std::string endpoint;
  SecretBytes private_key;
  Bytes public_key;
  SecretBytes auth_secret;
  SubscriptionState state = SubscriptionState::needs_resubscribe;
  std::optional<std::int64_t> changed_at;
  /// nullopt: record the endpoint being replaced.
  std::optional<std::string> previous_endpoint;
};

enum class InboxState : std::uint8_t {
  stored,     ///< durable, not yet handed to the sinks
  delivered,  ///< handed to the sinks
  failed,     ///< could not be processed (e.g. decryption); `error` says why
};

/// An inbox row: the Message (its id assigned by the store and ignored on input;
/// subscription_id null for an unknown channel or after unsubscribe; the name
/// not kept) and where it is in delivery.
struct InboxEntry : Message {
  InboxState state = InboxState::stored;
  std::optional<std::int64_t> delivered_at;

  bool operator==(const InboxEntry&) const = default;
};

struct PutResult {
  bool is_new = false;  ///< false: (channel ID, version) was already stored; nothing was written
  std::int64_t id = 0;  ///< the row's id, new or existing

  bool operator==(const PutResult&) const = default;
};

/// Selects messages for `webpushd messages`. Unset fields do not filter.
struct MessageFilter {
  std::optional<std::int64_t> since;  ///< received_at >= since
  std::optional<std::int64_t> subscription_id;
  std::optional<std::string> subscription_name;  ///< resolved to an id; unknown name → not_found
  std::optional<InboxState> state;
  std::optional<std::int64_t> limit;  ///< the newest `limit` matches
};

struct RetentionPolicy {
  std::chrono::milliseconds max_age = std::chrono::days(30);
  /// How many delivered/failed rows are kept at most (the newest).
  std::int64_t max_rows = 10'000;
};

/// Counts for `webpushd status`.
struct InboxStats {
  std::int64_t stored = 0;
  std::int64_t delivered = 0;
  std::int64_t failed = 0;
  std::optional<std::int64_t> last_received_at;

  bool operator==(const InboxStats&) const = default;
};

[[nodiscard]] std::string_view to_string(SubscriptionState s) noexcept;
[[nodiscard]] std::string_view to_string(InboxState s) noexcept;

class Store {
 public:
  /// Opens (creating if needed, except read_only) the store in `state_dir`. Errors,
  /// each naming the path: locked ("another webpushd daemon is using DIR (pid N)"),
  /// not_a_database, corrupt, newer_schema, old_schema (read_only on an older
  /// schema), not_found (read_only without a database), permission, io, busy.
  static Result<Store> open(const std::filesystem::path& state_dir, OpenMode mode, StoreOptions options = {});

  /// Movable; a moved-from Store may only be destroyed or assigned to.
  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  /// Closes the database and releases the lock.
  ~Store();

  [[nodiscard]] OpenMode mode() const noexcept;
  /// The database file.
  [[nodiscard]] const std::filesystem::path& path() const noexcept;

  // ---- connection identity -------------------------------------------------

  /// The uaid `server` assigned, or nullopt if none yet.
  Result<std::optional<std::string>> get_uaid(std::string_view server);
  Result<void> set_uaid(std::string_view server, std::string_view uaid);
  /// Forgets the uaid (the service dropped it); a missing one is not an error.
  Result<void> clear_uaid(std::string_view server);

  // ---- subscriptions -------------------------------------------------------

  /// Stores a new subscription (its `id` is ignored), with its app and FCM rows,
  /// in one transaction, and returns the new id. Errors: invalid_argument (empty
  /// name/server/channel/endpoint, key of the wrong size, an app without bus name
  /// or token, an FCM registration without app id or GCM token), constraint ("a
  /// subscription named X already exists", or the channel ID, the app's
  /// (service, token) or the FCM app id is already used); nothing is stored then.
  Result<std::int64_t> add_subscription(const Subscription& sub);
  /// Deletes the subscription; its inbox rows stay (subscription_id becomes null)
  /// until pruned. A UnifiedPush app's rows not yet forwarded become `failed`
  /// (they are encrypted for the app alone). Errors: not_found.
  Result<void> remove_subscription(std::int64_t id);
  Result<std::optional<Subscription>> find_subscription_by_id(std::int64_t id);
  Result<std::optional<Subscription>> find_subscription_by_name(std::string_view name);
  Result<std::optional<Subscription>> find_subscription_by_channel(std::string_view channel_id);
  /// All subscriptions, or those of one server, in creation order.
  Result<std::vector<Subscription>> list_subscriptions(std::optional<std::string_view> server = std::nullopt);
  Result<void> set_subscription_state(std::int64_t id, SubscriptionState state);
  /// Replaces channel ID, endpoint and keys after a uaid change, keeping id and name.
  /// Errors: not_found, invalid_argument, constraint (channel ID used elsewhere).
  Result<void> replace_registration(std::int64_t id, const Reregistration& reg);
  Result<std::int64_t> count_subscriptions();
  /// The subscription of a UnifiedPush app's registration, if any.
  Result<std::optional<Subscription>> find_subscription_by_app(std::string_view service, std::string_view token);
  /// Records the endpoint the app was told. Errors: not_found (no app registration with that id).
  Result<void> set_app_notified_endpoint(std::int64_t subscription_id, std::string_view endpoint);
  /// The subscription whose FCM registration has this app id (the X-subtype a
  /// message names), if any.
  Result<std::optional<Subscription>> find_subscription_by_fcm_app(std::string_view app_id);
  /// Replaces the FCM registration of a subscription that has one (after it
  /// registered again). Errors: invalid_argument (empty app id or GCM token),
  /// not_found (no FCM registration for that id), constraint (the app id is used by
  /// another subscription).
  Result<void> set_fcm_registration(std::int64_t subscription_id, const FcmRegistration& reg);

  // ---- Chrome's push service (FCM) ----------------------------------------------

  /// The checkin identity, or nullopt before the first checkin. Errors: corrupt
  /// (a stored value is not a decimal number of 1 to 20 digits that fits 64 bits
  /// and is not 0; the message does not show the value).
  Result<std::optional<FcmDevice>> get_fcm_device();
  /// Stores the checkin identity, replacing any earlier one. Errors:
  /// invalid_argument (android id or security token 0).
  Result<void> set_fcm_device(const FcmDevice& device);

  /// Records the MCS persistent ids of messages now stored (INSERT OR IGNORE: an id
  /// already there keeps its time), in one transaction, then keeps only the newest
  /// kMaxFcmAcks. Commits as the inbox marks do (see mark_delivered): a lost commit
  /// only makes the service redeliver, and the inbox recognises the redelivery.
  /// Errors: invalid_argument (an empty id; nothing is stored).
  Result<void> add_fcm_acks(std::span<const std::string> ids, std::int64_t now);
  /// At most `limit` recorded ids, oldest first: what the next login presents.
  /// Errors: invalid_argument (negative limit).
  Result<std::vector<std::string>> list_fcm_acks(std::int64_t limit);
  /// Forgets ids a login confirmed, in one transaction; unknown ids are ignored.
  Result<void> remove_fcm_acks(std::span<const std::string> ids);
  Result<std::int64_t> count_fcm_acks();

  // ---- inbox ---------------------------------------------------------------

  /// Stores the message unless (channel_id, version) is already there, durably,
  /// in one transaction. Errors: invalid_argument (empty channel or version),
  /// constraint (subscription_id names no subscription), io, busy.
  Result<PutResult> inbox_put_if_new(const InboxEntry& entry);
  /// As inbox_put_if_new() for each entry, all in ONE transaction (group commit:
  /// one fsync for the group, then the group is acked). A duplicate within the
  /// batch is reported as not new with the first one's id. On error nothing is
  /// stored; the message names the entry.
  Result<std::vector<PutResult>> inbox_put_batch(std::span<const InboxEntry> entries);
  /// Whether (channel_id, version) is already in the inbox, in any state: lets the
  /// daemon recognise a redelivery before decrypting it.
  Result<bool> inbox_contains(std::string_view channel_id, std::string_view version);
  /// state := delivered, delivered_at := when. Errors: not_found.
  ///
  /// Marks (delivered, failed) and prune() commit without waiting for the disk
  /// (synchronous=NORMAL for their transaction): a power cut may undo the latest
  /// marks, so those messages are dispatched again at start — allowed by
  /// at-least-once delivery — while a crash of the process loses nothing. The next
  /// put makes them durable with its own sync.
  Result<void> mark_delivered(std::int64_t id, std::int64_t when);
  /// mark_delivered() for each id in one transaction; on error none is marked.
  Result<void> mark_delivered_batch(std::span<const std::int64_t> ids, std::int64_t when);
  /// A delivered row back to `stored` (a sink gave it back before handing it
  /// on, e.g. a command queued when the daemon stopped). Errors: not_found
  /// (no delivered row with that id).
  Result<void> mark_undelivered(std::int64_t id);
  /// state := failed with its error text (e.g. a sink that cannot take it). Errors: not_found.
  Result<void> mark_failed(std::int64_t id, std::string_view error);
  Result<std::optional<InboxEntry>> find_message(std::int64_t id);
  /// Rows still `stored`, oldest first: what to dispatch again at start.
  Result<std::vector<InboxEntry>> list_undelivered();
  /// Rows still `stored` with id >= first_id, in id (arrival) order, at most
  /// `limit`: a sink catching up reads its backlog a batch at a time.
  /// Errors: invalid_argument (negative limit).
  Result<std::vector<InboxEntry>> list_undelivered_from(std::int64_t first_id, std::int64_t limit);
  /// Rows of one subscription still `stored` with id >= first_id, in id order,
  /// at most `limit`: a UnifiedPush app's queue. Errors: invalid_argument.
  Result<std::vector<InboxEntry>> list_undelivered_of(std::int64_t subscription_id, std::int64_t first_id,
                                                      std::int64_t limit);
  /// How many rows of one subscription are still `stored`.
  Result<std::int64_t> count_undelivered_of(std::int64_t subscription_id);
  /// The newest matches (at most filter.limit), returned oldest first.
  Result<std::vector<InboxEntry>> list_messages(const MessageFilter& filter = {});
  /// Deletes delivered and failed rows received before now - max_age, and those
  /// beyond the newest max_rows of them. Never deletes `stored` rows. Returns the
  /// number of rows deleted. Errors: invalid_argument (negative max_rows/max_age).
  Result<std::int64_t> prune(std::int64_t now, const RetentionPolicy& policy = {});
  Result<InboxStats> inbox_stats();

  // ---- sinks that were behind at a stop -------------------------------------

  /// Replaces what is recorded: sink name → the first inbox row it is owed.
  Result<void> save_sink_backlog(const std::map<std::string, std::int64_t>& owed_from);
  /// What save_sink_backlog() recorded, removed as it is read: it describes
  /// one stop only (after a crash there is none, and every sink gets every row).
  Result<std::map<std::string, std::int64_t>> take_sink_backlog();

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webpush::store
