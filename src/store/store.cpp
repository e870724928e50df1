#include "webpush/store/store.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "files.h"
#include "schema.h"
#include "webpush/store/sqlite.h"

namespace webpush::store {

using sqlite::ResetGuard;
using sqlite::Statement;
using sqlite::Step;
using sqlite::Transaction;

namespace {

// Every statement the store runs, named, with its SQL beside it in sql_text() and
// prepared once at open (the idea of MPD's sticker database). A switch rather than
// an array, so that -Wswitch catches a name without SQL.
enum class Sql : std::size_t {
  get_uaid,
  set_uaid,
  clear_uaid,
  add_subscription,
  remove_subscription,
  subscription_by_id,
  subscription_by_name,
  subscription_by_channel,
  list_subscriptions,
  list_subscriptions_of_server,
  set_subscription_state,
  replace_registration,
  count_subscriptions,
  subscription_by_app,
  add_app,
  set_app_notified,
  subscription_by_fcm_app,
  add_fcm,
  set_fcm,
  fcm_get_device,
  fcm_set_device,
  fcm_ack_add,
  fcm_ack_trim,
  fcm_ack_list,
  fcm_ack_remove,
  fcm_ack_count,
  inbox_insert,
  inbox_find_key,
  inbox_by_id,
  inbox_mark_delivered,
  inbox_mark_failed,
  inbox_mark_undelivered,
  inbox_undelivered,
  inbox_undelivered_from,
  inbox_undelivered_of,
  inbox_count_undelivered_of,
  inbox_fail_app_rows,
  inbox_list,
  inbox_prune,
  inbox_stats,
  count_,
};

constexpr std::size_t kSqlCount = static_cast<std::size_t>(Sql::count_);

#define WEBPUSH_SUBSCRIPTION_COLUMNS                                                               \
  "id, name, server, channel_id, endpoint, private_key, public_key, auth_secret, app_server_key, " \
  "created_at, state, changed_at, previous_endpoint"

// A subscription with its UnifiedPush app, if any (columns 13 to 17), and its FCM
// registration, if any (columns 18 to 21).
#define WEBPUSH_SUBSCRIPTION_SELECT                                                                       \
  "SELECT s.id, s.name, s.server, s.channel_id, s.endpoint, s.private_key, s.public_key, s.auth_secret, " \
  "s.app_server_key, s.created_at, s.state, s.changed_at, s.previous_endpoint, a.service, a.token, "      \
  "a.description, a.api, a.notified_endpoint, f.app_id, f.gcm_token, f.fcm_token, f.installation_id "     \
  "FROM subscriptions s LEFT JOIN unifiedpush_apps a ON a.subscription_id = s.id "                        \
  "LEFT JOIN fcm_subscriptions f ON f.subscription_id = s.id "

#define WEBPUSH_INBOX_COLUMNS \
  "id, subscription_id, channel_id, version, received_at, payload, encoding, state, error, delivered_at"

// An inbox row with the bus name of the UnifiedPush app it is for, if any (column 10).
#define WEBPUSH_INBOX_SELECT                                                                                 \
  "SELECT i.id, i.subscription_id, i.channel_id, i.version, i.received_at, i.payload, i.encoding, i.state, " \
  "i.error, i.delivered_at, a.service FROM inbox i LEFT JOIN unifiedpush_apps a ON "                         \
  "a.subscription_id = i.subscription_id "

constexpr std::string_view sql_text(Sql s) noexcept {
  switch (s) {
    case Sql::get_uaid: return "SELECT uaid FROM connections WHERE server = ?1";
    case Sql::set_uaid:
      return "INSERT INTO connections (server, uaid) VALUES (?1, ?2) "
             "ON CONFLICT (server) DO UPDATE SET uaid = excluded.uaid";
    case Sql::clear_uaid: return "UPDATE connections SET uaid = NULL WHERE server = ?1";
    case Sql::add_subscription:
      return "INSERT INTO subscriptions (" WEBPUSH_SUBSCRIPTION_COLUMNS
             ") VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
    case Sql::remove_subscription: return "DELETE FROM subscriptions WHERE id = ?1";
    case Sql::subscription_by_id: return WEBPUSH_SUBSCRIPTION_SELECT "WHERE s.id = ?1";
    case Sql::subscription_by_name: return WEBPUSH_SUBSCRIPTION_SELECT "WHERE s.name = ?1";
    case Sql::subscription_by_channel: return WEBPUSH_SUBSCRIPTION_SELECT "WHERE s.channel_id = ?1";
    case Sql::list_subscriptions: return WEBPUSH_SUBSCRIPTION_SELECT "ORDER BY s.id";
    case Sql::list_subscriptions_of_server: return WEBPUSH_SUBSCRIPTION_SELECT "WHERE s.server = ?1 ORDER BY s.id";
    case Sql::set_subscription_state: return "UPDATE subscriptions SET state = ?2 WHERE id = ?1";
    case Sql::replace_registration:
      // The right-hand sides see the row before the update: COALESCE keeps the
      // endpoint being replaced when the caller gives no previous_endpoint.
      return "UPDATE subscriptions SET channel_id = ?2, endpoint = ?3, private_key = ?4, public_key = ?5, "
             "auth_secret = ?6, state = ?7, changed_at = ?8, previous_endpoint = COALESCE(?9, endpoint) "
             "WHERE id = ?1";
    case Sql::count_subscriptions: return "SELECT count(*) FROM subscriptions";
    case Sql::subscription_by_app: return WEBPUSH_SUBSCRIPTION_SELECT "WHERE a.service = ?1 AND a.token = ?2";
    case Sql::add_app:
      return "INSERT INTO unifiedpush_apps (subscription_id, service, token, description, api, notified_endpoint) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    case Sql::set_app_notified: return "UPDATE unifiedpush_apps SET notified_endpoint = ?2 WHERE subscription_id = ?1";
    case Sql::subscription_by_fcm_app: return WEBPUSH_SUBSCRIPTION_SELECT "WHERE f.app_id = ?1";
    case Sql::add_fcm:
      return "INSERT INTO fcm_subscriptions (subscription_id, app_id, gcm_token, fcm_token, installation_id) "
             "VALUES (?1, ?2, ?3, ?4, ?5)";
    case Sql::set_fcm:
      return "UPDATE fcm_subscriptions SET app_id = ?2, gcm_token = ?3, fcm_token = ?4, installation_id = ?5 "
             "WHERE subscription_id = ?1";
    case Sql::fcm_get_device: return "SELECT android_id, security_token, checked_in_at FROM fcm_device WHERE id = 1";
    case Sql::fcm_set_device:
      return "INSERT INTO fcm_device (id, android_id, security_token, checked_in_at) VALUES (1, ?1, ?2, ?3) "
             "ON CONFLICT (id) DO UPDATE SET android_id = excluded.android_id, "
             "security_token = excluded.security_token, checked_in_at = excluded.checked_in_at";
    case Sql::fcm_ack_add: return "INSERT OR IGNORE INTO fcm_acks (persistent_id, stored_at) VALUES (?1, ?2)";
    case Sql::fcm_ack_trim:
      return "DELETE FROM fcm_acks WHERE rowid NOT IN "
             "(SELECT rowid FROM fcm_acks ORDER BY stored_at DESC, rowid DESC LIMIT ?1)";
    case Sql::fcm_ack_list: return "SELECT persistent_id FROM fcm_acks ORDER BY stored_at, rowid LIMIT ?1";
    case Sql::fcm_ack_remove: return "DELETE FROM fcm_acks WHERE persistent_id = ?1";
    case Sql::fcm_ack_count: return "SELECT count(*) FROM fcm_acks";
    case Sql::inbox_insert:
      return "INSERT INTO inbox (" WEBPUSH_INBOX_COLUMNS
             ") VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
             "ON CONFLICT (channel_id, version) DO NOTHING";
    case Sql::inbox_find_key: return "SELECT id FROM inbox WHERE channel_id = ?1 AND version = ?2";
    case Sql::inbox_by_id: return WEBPUSH_INBOX_SELECT "WHERE i.id = ?1";
    case Sql::inbox_mark_delivered:
      return "UPDATE inbox SET state = 'delivered', delivered_at = ?2, error = NULL WHERE id = ?1";
    case Sql::inbox_mark_failed: return "UPDATE inbox SET state = 'failed', error = ?2 WHERE id = ?1";
    case Sql::inbox_mark_undelivered:
      return "UPDATE inbox SET state = 'stored', delivered_at = NULL WHERE id = ?1 AND state = 'delivered'";
    case Sql::inbox_undelivered: return WEBPUSH_INBOX_SELECT "WHERE i.state = 'stored' ORDER BY i.received_at, i.id";
    case Sql::inbox_undelivered_from:
      return WEBPUSH_INBOX_SELECT "WHERE i.state = 'stored' AND i.id >= ?1 ORDER BY i.id LIMIT ?2";
    case Sql::inbox_undelivered_of:
      return WEBPUSH_INBOX_SELECT
          "WHERE i.subscription_id = ?1 AND i.state = 'stored' AND i.id >= ?2 "
          "ORDER BY i.id LIMIT ?3";
    case Sql::inbox_fail_app_rows:
      // Once the subscription is gone nothing would say whose they were: they
      // would reach the sinks still encrypted.
      return "UPDATE inbox SET state = 'failed', error = 'the app unregistered before it took this message' "
             "WHERE subscription_id = ?1 AND state = 'stored' "
             "AND EXISTS (SELECT 1 FROM unifiedpush_apps WHERE subscription_id = ?1)";
    case Sql::inbox_count_undelivered_of:
      return "SELECT count(*) FROM inbox WHERE subscription_id = ?1 AND state = 'stored'";
    case Sql::inbox_list:
      // NULL parameters do not filter; LIMIT -1 is no limit.
      return WEBPUSH_INBOX_SELECT
          "WHERE (?1 IS NULL OR i.received_at >= ?1) AND (?2 IS NULL OR i.subscription_id = ?2) "
          "AND (?3 IS NULL OR i.state = ?3) ORDER BY i.received_at DESC, i.id DESC LIMIT ?4";
    case Sql::inbox_prune:
      return "DELETE FROM inbox WHERE state IN ('delivered', 'failed') AND (received_at < ?1 OR id NOT IN "
             "(SELECT id FROM inbox WHERE state IN ('delivered', 'failed') "
             "ORDER BY received_at DESC, id DESC LIMIT ?2))";
    case Sql::inbox_stats: return "SELECT state, count(*), max(received_at) FROM inbox GROUP BY state";
    case Sql::count_: break;
  }
  return {};
}

#undef WEBPUSH_SUBSCRIPTION_COLUMNS
#undef WEBPUSH_SUBSCRIPTION_SELECT
#undef WEBPUSH_INBOX_COLUMNS
#undef WEBPUSH_INBOX_SELECT

std::optional<SubscriptionState> parse_subscription_state(std::string_view s) noexcept {
  if (s == "pending") return SubscriptionState::pending;
  if (s == "active") return SubscriptionState::active;
  if (s == "needs_resubscribe") return SubscriptionState::needs_resubscribe;
  return std::nullopt;
}

std::optional<InboxState> parse_inbox_state(std::string_view s) noexcept {
  if (s == "stored") return InboxState::stored;
  if (s == "delivered") return InboxState::delivered;
  if (s == "failed") return InboxState::failed;
  return std::nullopt;
}

template <class T>
tl::unexpected<Error> forward(Result<T>& r) {
  return tl::unexpected(std::move(r.error()));
}

}  // namespace

std::string_view to_string(SubscriptionState s) noexcept {
  switch (s) {
    case SubscriptionState::pending: return "pending";
    case SubscriptionState::active: return "active";
    case SubscriptionState::needs_resubscribe: return "needs_resubscribe";
  }
  return "unknown";
}

std::string_view to_string(InboxState s) noexcept {
  switch (s) {
    case InboxState::stored: return "stored";
    case InboxState::delivered: return "delivered";
    case InboxState::failed: return "failed";
  }
  return "unknown";
}

// ---- Impl --------------------------------------------------------------------

struct Store::Impl {
  // Declaration order is destruction order reversed: statements are finalized,
  // then the connection closes (checkpointing the WAL), then the lock is released.
  std::optional<detail::DirLock> lock;
  sqlite::Database db;
  std::array<Statement, kSqlCount> statements;
  OpenMode mode;
  Synchronous sync;
  std::filesystem::path path;

  Impl(std::optional<detail::DirLock> l, sqlite::Database d, OpenMode m, Synchronous s)
      : lock(std::move(l)), db(std::move(d)), mode(m), sync(s), path(db.path()) {}

  Statement& stmt(Sql s) noexcept { return statements[static_cast<std::size_t>(s)]; }

  // Commits that only record progress — delivered and failed marks, pruning — do not
  // wait for the disk (synchronous=NORMAL for their transaction) even when puts do.
  // Losing such a commit to a power cut only means a message is dispatched again at
  // start, which at-least-once delivery allows; a process crash loses nothing (the
  // WAL is in the page cache), and the next FULL commit's fsync of the WAL makes it
  // durable. This halves the fsyncs per message on the daemon's hot path.
  class RelaxedSync {
   public:
    // Run with exec(), never kept prepared: SQLite applies PRAGMA synchronous when
    // the statement is compiled, not when it is stepped.
    explicit RelaxedSync(Impl& impl) : impl_(impl.sync == Synchronous::full ? &impl : nullptr) {
      if (impl_ != nullptr) (void)impl_->db.exec("PRAGMA synchronous = NORMAL");
    }
    RelaxedSync(const RelaxedSync&) = delete;
    RelaxedSync& operator=(const RelaxedSync&) = delete;
    ~RelaxedSync() {
      if (impl_ == nullptr) return;
      // Cannot fail short of SQLite misuse (a connection setting, no I/O); if it ever
      // did, puts would stop syncing, so say so loudly.
      if (auto ok = impl_->db.exec("PRAGMA synchronous = FULL"); !ok) {
        detail::logger().error("cannot restore synchronous=FULL: {}", ok.error().message());
      }
    }

   private:
    Impl* impl_;
  };

  Result<void> prepare_all() {
    for (std::size_t i = 0; i < kSqlCount; ++i) {
      auto stmt = db.prepare(sql_text(static_cast<Sql>(i)), sqlite::Database::Lifetime::persistent);
      if (!stmt) return forward(stmt);
      statements[i] = std::move(*stmt);
    }
    return {};
  }

  Result<void> writable(std::string_view op) const {
    if (mode != OpenMode::read_only) return {};
    return fail(Errc::read_only, fmt::format("{}: {}: the store was opened read-only", path.string(), op));
  }

  Error corrupt_row(std::string_view table, std::int64_t id, std::string_view what) const {
    return Error(Errc::corrupt, fmt::format("{}: {} row {}: {}", path.string(), table, id, what));
  }

  Result<Subscription> read_subscription(const Statement& s) const {
    Subscription out;
    out.id = s.column_int64(0);
    out.name = s.column_text(1);
    out.server = s.column_text(2);
    out.channel_id = s.column_text(3);
    out.endpoint = s.column_text(4);
    out.private_key = to_secret(s.column_blob_view(5));
    out.public_key = s.column_blob(6);
    out.auth_secret = to_secret(s.column_blob_view(7));
    out.app_server_key = s.column_optional_blob(8);
    out.created_at = s.column_int64(9);
    const std::string state = s.column_text(10);
    const auto parsed = parse_subscription_state(state);
    if (!parsed) return tl::unexpected(corrupt_row("subscriptions", out.id, fmt::format("unknown state '{}'", state)));
    out.state = *parsed;
    out.changed_at = s.column_optional_int64(11);
    out.previous_endpoint = s.column_optional_text(12);
    if (auto service = s.column_optional_text(13)) {
      out.app = AppRegistration{.service = std::move(*service),
                                .token = s.column_text(14),
                                .description = s.column_text(15),
                                .api = static_cast<int>(s.column_int64(16)),
                                .notified_endpoint = s.column_optional_text(17)};
    }
    if (auto app_id = s.column_optional_text(18)) {
      out.fcm = FcmRegistration{.app_id = std::move(*app_id),
                                .gcm_token = s.column_text(19),
                                .fcm_token = s.column_text(20),
                                .installation_id = s.column_optional_text(21).value_or("")};
    }
    return out;
  }

  Result<InboxEntry> read_inbox(const Statement& s) const {
    InboxEntry out;
    out.id = s.column_int64(0);
    out.subscription_id = s.column_optional_int64(1);
    out.channel_id = s.column_text(2);
    out.version = s.column_text(3);
    out.received_at = s.column_int64(4);
    out.payload = s.column_optional_blob(5);
    out.encoding = s.column_text(6);
    const std::string state = s.column_text(7);
    const auto parsed = parse_inbox_state(state);
    if (!parsed) return tl::unexpected(corrupt_row("inbox", out.id, fmt::format("unknown state '{}'", state)));
    out.state = *parsed;
    out.error = s.column_optional_text(8);
    out.delivered_at = s.column_optional_int64(9);
    out.app = s.column_optional_text(10);
    return out;
  }

  Result<std::optional<Subscription>> one_subscription(Statement& s) {
    ResetGuard reset(s);
    auto step = s.step();
    if (!step) return forward(step);
    if (*step == Step::done) return std::optional<Subscription>();
    auto sub = read_subscription(s);
    if (!sub) return forward(sub);
    return std::optional<Subscription>(std::move(*sub));
  }

  template <class Row, class Read>
  Result<std::vector<Row>> all_rows(Statement& s, Read read) {
    ResetGuard reset(s);
    std::vector<Row> out;
    for (;;) {
      auto step = s.step();
      if (!step) return forward(step);
      if (*step == Step::done) break;
      auto row = (this->*read)(s);
      if (!row) return forward(row);
      out.push_back(std::move(*row));
    }
    return out;
  }

  // One INSERT … ON CONFLICT DO NOTHING, then the existing row's id if it was a
  // duplicate. Runs inside the caller's transaction.
  Result<PutResult> put_one(const InboxEntry& e) {
    if (e.channel_id.empty() || e.version.empty()) {
      return fail(Errc::invalid_argument,
                  fmt::format("{}: inbox: a message needs a channel ID and a version (got channel '{}', version '{}')",
                              path.string(), e.channel_id, e.version));
    }
    {
      Statement& s = stmt(Sql::inbox_insert);
      ResetGuard reset(s);
      s.bind(1, e.subscription_id)
          .bind(2, e.channel_id)
          .bind(3, e.version)
          .bind(4, e.received_at)
          .bind(5, e.payload)
          .bind(6, e.encoding)
          .bind(7, to_string(e.state))
          .bind(8, e.error)
          .bind(9, e.delivered_at);
      auto ok = s.run();
      if (!ok) return forward(ok);
      if (db.changes() == 1) return PutResult{true, db.last_insert_rowid()};
    }
    Statement& s = stmt(Sql::inbox_find_key);
    ResetGuard reset(s);
    s.bind(1, e.channel_id).bind(2, e.version);
    auto step = s.step();
    if (!step) return forward(step);
    if (*step != Step::row) {
      return fail(Errc::internal, fmt::format("{}: inbox: message {}/{} was neither inserted nor found", path.string(),
                                              e.channel_id, e.version));
    }
    return PutResult{false, s.column_int64(0)};
  }

  // Name and channel ID of a new subscription are unused. Checked inside the
  // caller's transaction (under the write lock), so that the message can say
  // which value clashed.
  Result<void> check_subscription_free(const Subscription& sub) {
    auto by_name = one_subscription(stmt(Sql::subscription_by_name).bind(1, sub.name));
    if (!by_name) return forward(by_name);
    if (*by_name) {
      return fail(Errc::constraint, fmt::format("{}: a subscription named {} already exists", path.string(), sub.name));
    }
    auto by_channel = one_subscription(stmt(Sql::subscription_by_channel).bind(1, sub.channel_id));
    if (!by_channel) return forward(by_channel);
    if (*by_channel) {
      return fail(Errc::constraint, fmt::format("{}: channel ID {} is already used by subscription {}", path.string(),
                                                sub.channel_id, (*by_channel)->name));
    }
    return {};
  }

  // The app row of a new subscription; inside the caller's transaction.
  Result<void> add_app(std::int64_t id, const AppRegistration& app) {
    auto clash = one_subscription(stmt(Sql::subscription_by_app).bind(1, app.service).bind(2, app.token));
    if (!clash) return forward(clash);
    if (*clash) {
      return fail(Errc::constraint, fmt::format("{}: app {} already has a subscription for that token ({})",
                                                path.string(), app.service, (*clash)->name));
    }
    Statement& s = stmt(Sql::add_app);
    ResetGuard reset(s);
    s.bind(1, id)
        .bind(2, app.service)
        .bind(3, app.token)
        .bind(4, app.description)
        .bind(5, std::int64_t{app.api})
        .bind(6, app.notified_endpoint);
    return s.run();
  }

  // The FCM row of a new subscription; inside the caller's transaction.
  Result<void> add_fcm(std::int64_t id, const FcmRegistration& fcm) {
    if (auto ok = check_fcm_app_free(id, fcm.app_id); !ok) return ok;
    Statement& s = stmt(Sql::add_fcm);
    ResetGuard reset(s);
    bind_fcm(s.bind(1, id), fcm);
    return s.run();
  }

  // The app id is unique: checked first, so that the message names the holder.
  Result<void> check_fcm_app_free(std::int64_t id, std::string_view app_id) {
    auto clash = one_subscription(stmt(Sql::subscription_by_fcm_app).bind(1, app_id));
    if (!clash) return forward(clash);
    if (*clash && (*clash)->id != id) {
      return fail(Errc::constraint, fmt::format("{}: FCM app id {} is already used by subscription {}", path.string(),
                                                app_id, (*clash)->name));
    }
    return {};
  }

  // Parameters 2 to 5 of add_fcm and set_fcm.
  static void bind_fcm(Statement& s, const FcmRegistration& fcm) {
    std::optional<std::string_view> installation;
    if (!fcm.installation_id.empty()) installation = fcm.installation_id;
    s.bind(2, fcm.app_id).bind(3, fcm.gcm_token).bind(4, fcm.fcm_token).bind(5, installation);
  }

  Result<void> update_one(Sql which, std::int64_t id, auto bind_rest, std::string_view what) {
    Statement& s = stmt(which);
    ResetGuard reset(s);
    s.bind(1, id);
    bind_rest(s);
    auto ok = s.run();
    if (!ok) return forward(ok);
    if (db.changes() == 0)
      return fail(Errc::not_found, fmt::format("{}: {}: no row with id {}", path.string(), what, id));
    return {};
  }
};

// ---- open --------------------------------------------------------------------

namespace {

enum class Found : std::uint8_t { fresh, current, older };

struct Identity {
  Found found;
  std::int64_t version;
};

// A failure while identifying the file, reworded when it is about the file itself
// (not a database, corrupt) so that the message leads with the file and says it
// was left alone. SQLite's own text is kept, without the wrapper's file prefix.
Error identify_error(const std::string& file, const Error& err, std::string_view doing) {
  // The wrapper's message is 'FILE: step "SQL": TEXT'; keep TEXT.
  std::string_view detail = err.message();
  if (detail.starts_with(file + ": ")) detail.remove_prefix(file.size() + 2);
  if (const auto sql_end = detail.find("\": "); sql_end != std::string_view::npos) detail.remove_prefix(sql_end + 3);
  if (err.is(Errc::not_a_database)) {
    return Error(Errc::not_a_database, fmt::format("{} is not a webpushd database: it is not an SQLite file", file));
  }
  if (err.is(Errc::corrupt)) {
    return Error(Errc::corrupt, fmt::format("{} is corrupt ({}: {}); it was left untouched", file, doing, detail));
  }
  return err;
}

// Reads only: decides whether the file is a webpushd database and at which schema,
// before anything could write to it.
Result<Identity> identify(sqlite::Database& db, const StoreOptions& options) {
  const std::string file = db.path().string();
  // The first read of the header: "file is not a database" surfaces here.
  auto app_id = db.query_int64("PRAGMA application_id");
  if (!app_id) return tl::unexpected(identify_error(file, app_id.error(), "reading its header"));
  // Parsing the schema reads the schema table's pages: catches most truncations.
  auto tables = db.query_int64("SELECT count(*) FROM sqlite_schema");
  if (!tables) return tl::unexpected(identify_error(file, tables.error(), "reading its schema"));
  auto version = db.user_version();
  if (!version) return tl::unexpected(identify_error(file, version.error(), "reading its header"));

  if (*app_id != kApplicationId) {
    if (*app_id == 0 && *tables == 0 && *version == 0) return Identity{Found::fresh, 0};
    if (*app_id == 0) {
      return fail(Errc::not_a_database,
                  fmt::format("{} is an SQLite database but not a webpushd one (no webpushd application_id)", file));
    }
    return fail(Errc::not_a_database,
                fmt::format("{} is an SQLite database of another application (application_id 0x{:08x})", file,
                            static_cast<std::uint32_t>(*app_id)));
  }
  if (*version > kSchemaVersion) {
    return fail(Errc::newer_schema, fmt::format("{} was written by a newer webpushd (schema {}, this version knows {})",
                                                file, *version, kSchemaVersion));
  }
  if (options.quick_check) {
    auto check = db.prepare("PRAGMA quick_check(1)");
    if (!check) return tl::unexpected(identify_error(file, check.error(), "quick_check"));
    auto step = check->step();
    if (!step) return tl::unexpected(identify_error(file, step.error(), "quick_check"));
    if (*step == Step::row && check->column_text(0) != "ok") {
      std::string report = check->column_text(0);  // "*** in database main ***\nPage 7: …"
      std::replace(report.begin(), report.end(), '\n', ' ');
      return fail(Errc::corrupt, fmt::format("{} is corrupt (quick_check: {}); it was left untouched", file, report));
    }
  }
  return Identity{*version < kSchemaVersion ? Found::older : Found::current, *version};
}

Result<void> configure(sqlite::Database& db, const StoreOptions& options) {
  auto mode = db.query_text("PRAGMA journal_mode = WAL");
  if (!mode) return forward(mode);
  if (*mode != "wal") {
    return fail(Errc::io, fmt::format("{}: cannot use WAL mode (journal_mode stays '{}')", db.path().string(), *mode));
  }
  const std::string_view sync =
      options.synchronous == Synchronous::full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
  if (auto ok = db.exec(sync); !ok) return ok;
  return db.exec("PRAGMA foreign_keys = ON");
}

Result<void> migrate(sqlite::Database& db) {
  auto txn = Transaction::begin(db);
  if (!txn) return forward(txn);
  // Read again under the write lock: another process may have migrated meanwhile.
  auto version = db.user_version();
  if (!version) return forward(version);
  const auto steps = detail::migrations();
  const std::int64_t from = *version;
  if (from > kSchemaVersion) {
    return fail(Errc::newer_schema, fmt::format("{} was written by a newer webpushd (schema {}, this version knows {})",
                                                db.path().string(), from, kSchemaVersion));
  }
  for (std::int64_t v = from; v < kSchemaVersion; ++v) {
    if (auto ok = db.exec(steps[static_cast<std::size_t>(v)]); !ok) {
      return tl::unexpected(ok.error().with_context(fmt::format("migration to schema {}", v + 1)));
    }
  }
  if (auto ok = db.set_user_version(kSchemaVersion); !ok) return ok;
  if (auto ok = txn->commit(); !ok) return ok;
  if (from == 0) {
    detail::logger().info("created {} (schema {})", db.path().string(), kSchemaVersion);
  } else if (from < kSchemaVersion) {
    detail::logger().info("upgraded {} from schema {} to {}", db.path().string(), from, kSchemaVersion);
  }
  return {};
}

// The state directory, absolute (so that every message names the file unambiguously,
// as SQLite does), made private (and created unless read-only).
Result<std::filesystem::path> prepare_state_dir(const std::filesystem::path& state_dir_arg, bool read_only) {
  std::error_code ec;
  const std::filesystem::path state_dir = std::filesystem::absolute(state_dir_arg, ec).lexically_normal();
  if (ec)
    return fail(Errc::io, fmt::format("cannot resolve state directory {}: {}", state_dir_arg.string(), ec.message()));
  if (auto ok = detail::ensure_private_dir(state_dir, !read_only); !ok) {
    if (ok.error().is(Errc::not_found)) {
      return fail(Errc::not_found,
                  fmt::format("no webpushd state directory at {} (the daemon creates it)", state_dir.string()));
    }
    return forward(ok);
  }
  return state_dir;
}

// Creates the database file (unless read-only) and corrects the modes of it and its WAL files.
Result<void> prepare_files(const std::filesystem::path& file, bool read_only) {
  if (!read_only) {
    if (auto ok = detail::create_private_file(file); !ok) return forward(ok);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::path p = file;
    p += suffix;
    if (auto ok = detail::fix_file_mode(p); !ok) return forward(ok);
  }
  return {};
}

Result<sqlite::Database> open_database(const std::filesystem::path& file, bool read_only, const StoreOptions& options) {
  auto db = sqlite::Database::open(file, read_only ? sqlite::Access::read_only : sqlite::Access::read_write);
  if (!db) {
    if (db.error().is(Errc::not_found)) {
      return fail(Errc::not_found, fmt::format("no webpushd database at {} (the daemon creates it)", file.string()));
    }
    return forward(db);
  }
  if (auto ok = db->set_busy_timeout(options.busy_timeout); !ok) return forward(ok);
  return db;
}

// A read-only open needs a database at the current schema.
Result<void> check_read_only_schema(const Identity& identity, const std::filesystem::path& file) {
  if (identity.found == Found::fresh) {
    return fail(Errc::not_found, fmt::format("{} is empty: the daemon has not initialised it yet", file.string()));
  }
  if (identity.found == Found::older) {
    return fail(Errc::old_schema, fmt::format("{} has schema {} and needs an upgrade to {}, which a read-only open "
                                              "cannot do; start the daemon once to upgrade it",
                                              file.string(), identity.version, kSchemaVersion));
  }
  return {};
}

// Checks the schema (read-only) or configures the database and brings it to the current schema.
Result<void> set_up_database(sqlite::Database& db, const std::filesystem::path& file, bool read_only,
                             const StoreOptions& options) {
  auto identity = identify(db, options);
  if (!identity) return forward(identity);
  if (read_only) {
    if (auto ok = check_read_only_schema(*identity, file); !ok) return ok;
    return db.exec("PRAGMA foreign_keys = ON");
  }
  if (auto ok = configure(db, options); !ok) return forward(ok);
  if (identity->found != Found::current) {
    if (auto ok = migrate(db); !ok) return forward(ok);
  }
  return {};
}

}  // namespace

Result<Store> Store::open(const std::filesystem::path& state_dir_arg, OpenMode mode, StoreOptions options) {
  const bool read_only = mode == OpenMode::read_only;
  auto state_dir = prepare_state_dir(state_dir_arg, read_only);
  if (!state_dir) return forward(state_dir);

  std::optional<detail::DirLock> lock;
  if (!read_only) {
    auto acquired = detail::DirLock::acquire(*state_dir, mode == OpenMode::daemon ? "daemon" : "client");
    if (!acquired) return forward(acquired);
    lock.emplace(std::move(*acquired));
  }

  const std::filesystem::path file = *state_dir / kDatabaseFileName;
  if (auto ok = prepare_files(file, read_only); !ok) return forward(ok);
  auto db = open_database(file, read_only, options);
  if (!db) return forward(db);
  if (auto ok = set_up_database(*db, file, read_only, options); !ok) return forward(ok);

  auto impl = std::make_unique<Impl>(std::move(lock), std::move(*db), mode, options.synchronous);
  if (auto ok = impl->prepare_all(); !ok) return forward(ok);
  return Store(std::move(impl));
}

Store::Store(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

OpenMode Store::mode() const noexcept { return impl_->mode; }
const std::filesystem::path& Store::path() const noexcept { return impl_->path; }

// ---- connection identity -----------------------------------------------------

Result<std::optional<std::string>> Store::get_uaid(std::string_view server) {
  Statement& s = impl_->stmt(Sql::get_uaid);
  ResetGuard reset(s);
  s.bind(1, server);
  auto step = s.step();
  if (!step) return forward(step);
  if (*step == Step::done) return std::optional<std::string>();
  return s.column_optional_text(0);
}

Result<void> Store::set_uaid(std::string_view server, std::string_view uaid) {
  if (auto ok = impl_->writable("set uaid"); !ok) return ok;
  if (server.empty() || uaid.empty()) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: set uaid: server and uaid must not be empty", path().string()));
  }
  Statement& s = impl_->stmt(Sql::set_uaid);
  ResetGuard reset(s);
  s.bind(1, server).bind(2, uaid);
  return s.run();
}

Result<void> Store::clear_uaid(std::string_view server) {
  if (auto ok = impl_->writable("clear uaid"); !ok) return ok;
  Statement& s = impl_->stmt(Sql::clear_uaid);
  ResetGuard reset(s);
  s.bind(1, server);
  return s.run();
}

// ---- subscriptions -----------------------------------------------------------

namespace {

Result<void> check_keys(const std::filesystem::path& path, std::string_view who, ByteView private_key,
                        ByteView public_key, ByteView auth_secret) {
  // Sizes only: the values themselves never go into a message.
  auto bad = [&](std::string_view what, std::size_t want, std::size_t got) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: subscription {}: {} must be {} bytes, got {}", path.string(), who, what, want, got));
  };
  if (private_key.size() != kPrivateKeySize) return bad("private key", kPrivateKeySize, private_key.size());
  if (public_key.size() != kPublicKeySize) return bad("public key", kPublicKeySize, public_key.size());
  if (auth_secret.size() != kAuthSecretSize) return bad("auth secret", kAuthSecretSize, auth_secret.size());
  return {};
}

Result<void> check_fcm(const std::filesystem::path& path, std::string_view who, const FcmRegistration& fcm) {
  if (fcm.app_id.empty() || fcm.gcm_token.empty()) {
    return fail(
        Errc::invalid_argument,
        fmt::format("{}: subscription {}: an FCM registration needs an app id and a GCM token", path.string(), who));
  }
  return {};
}

// What add_subscription() refuses before it touches the database.
Result<void> check_subscription(const std::filesystem::path& path, const Subscription& sub) {
  const std::string file = path.string();
  if (sub.name.empty() || sub.server.empty() || sub.channel_id.empty() || sub.endpoint.empty()) {
    return fail(
        Errc::invalid_argument,
        fmt::format("{}: subscription '{}': name, server, channel ID and endpoint must not be empty", file, sub.name));
  }
  if (auto ok = check_keys(path, sub.name, sub.private_key, sub.public_key, sub.auth_secret); !ok) return ok;
  if (sub.app && (sub.app->service.empty() || sub.app->token.empty() || (sub.app->api != 1 && sub.app->api != 2))) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: subscription {}: an app needs a bus name, a token and API 1 or 2", file, sub.name));
  }
  if (sub.fcm) {
    if (auto ok = check_fcm(path, sub.name, *sub.fcm); !ok) return ok;
  }
  if (sub.app_server_key && sub.app_server_key->size() != kPublicKeySize) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: subscription {}: application server key must be {} bytes, got {}", file, sub.name,
                            kPublicKeySize, sub.app_server_key->size()));
  }
  return {};
}

}  // namespace

Result<std::int64_t> Store::add_subscription(const Subscription& sub) {
  if (auto ok = impl_->writable("add subscription"); !ok) return forward(ok);
  if (auto ok = check_subscription(path(), sub); !ok) return forward(ok);
  auto txn = Transaction::begin(impl_->db);
  if (!txn) return forward(txn);
  if (auto ok = impl_->check_subscription_free(sub); !ok) return forward(ok);
  {
    Statement& s = impl_->stmt(Sql::add_subscription);
    ResetGuard reset(s);
    s.bind(1, sub.name)
        .bind(2, sub.server)
        .bind(3, sub.channel_id)
        .bind(4, sub.endpoint)
        .bind(5, ByteView(sub.private_key))
        .bind(6, ByteView(sub.public_key))
        .bind(7, ByteView(sub.auth_secret))
        .bind(8, sub.app_server_key)
        .bind(9, sub.created_at)
        .bind(10, to_string(sub.state))
        .bind(11, sub.changed_at)
        .bind(12, sub.previous_endpoint);
    if (auto ok = s.run(); !ok) return forward(ok);
  }
  const std::int64_t id = impl_->db.last_insert_rowid();
  if (sub.app) {
    if (auto ok = impl_->add_app(id, *sub.app); !ok) return forward(ok);
  }
  if (sub.fcm) {
    if (auto ok = impl_->add_fcm(id, *sub.fcm); !ok) return forward(ok);
  }
  if (auto ok = txn->commit(); !ok) return forward(ok);
  return id;
}

Result<void> Store::remove_subscription(std::int64_t id) {
  if (auto ok = impl_->writable("remove subscription"); !ok) return ok;
  auto txn = Transaction::begin(impl_->db);
  if (!txn) return forward(txn);
  {
    Statement& s = impl_->stmt(Sql::inbox_fail_app_rows);
    ResetGuard reset(s);
    s.bind(1, id);
    if (auto ok = s.run(); !ok) return ok;
  }
  if (auto ok = impl_->update_one(
          Sql::remove_subscription, id, [](Statement&) {}, "remove subscription");
      !ok) {
    return ok;
  }
  return txn->commit();
}

Result<std::optional<Subscription>> Store::find_subscription_by_id(std::int64_t id) {
  return impl_->one_subscription(impl_->stmt(Sql::subscription_by_id).bind(1, id));
}

Result<std::optional<Subscription>> Store::find_subscription_by_name(std::string_view name) {
  return impl_->one_subscription(impl_->stmt(Sql::subscription_by_name).bind(1, name));
}

Result<std::optional<Subscription>> Store::find_subscription_by_channel(std::string_view channel_id) {
  return impl_->one_subscription(impl_->stmt(Sql::subscription_by_channel).bind(1, channel_id));
}

Result<std::vector<Subscription>> Store::list_subscriptions(std::optional<std::string_view> server) {
  if (server) {
    return impl_->all_rows<Subscription>(impl_->stmt(Sql::list_subscriptions_of_server).bind(1, *server),
                                         &Impl::read_subscription);
  }
  return impl_->all_rows<Subscription>(impl_->stmt(Sql::list_subscriptions), &Impl::read_subscription);
}

Result<void> Store::set_subscription_state(std::int64_t id, SubscriptionState state) {
  if (auto ok = impl_->writable("set subscription state"); !ok) return ok;
  return impl_->update_one(
      Sql::set_subscription_state, id, [&](Statement& s) { s.bind(2, to_string(state)); }, "set subscription state");
}

Result<void> Store::replace_registration(std::int64_t id, const Reregistration& reg) {
  if (auto ok = impl_->writable("replace registration"); !ok) return ok;
  const std::string who = fmt::format("id {}", id);
  if (reg.channel_id.empty() || reg.endpoint.empty()) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: subscription {}: channel ID and endpoint must not be empty", path().string(), who));
  }
  if (auto ok = check_keys(path(), who, reg.private_key, reg.public_key, reg.auth_secret); !ok) return ok;
  auto txn = Transaction::begin(impl_->db);
  if (!txn) return forward(txn);
  auto current = impl_->one_subscription(impl_->stmt(Sql::subscription_by_id).bind(1, id));
  if (!current) return forward(current);
  if (!*current) {
    return fail(Errc::not_found,
                fmt::format("{}: replace registration: no subscription with id {}", path().string(), id));
  }
  auto clash = impl_->one_subscription(impl_->stmt(Sql::subscription_by_channel).bind(1, reg.channel_id));
  if (!clash) return forward(clash);
  if (*clash && (*clash)->id != id) {
    return fail(Errc::constraint, fmt::format("{}: channel ID {} is already used by subscription {}", path().string(),
                                              reg.channel_id, (*clash)->name));
  }
  auto ok = impl_->update_one(
      Sql::replace_registration, id,
      [&](Statement& s) {
        s.bind(2, reg.channel_id)
            .bind(3, reg.endpoint)
            .bind(4, ByteView(reg.private_key))
            .bind(5, ByteView(reg.public_key))
            .bind(6, ByteView(reg.auth_secret))
            .bind(7, to_string(reg.state))
            .bind(8, reg.changed_at)
            .bind(9, reg.previous_endpoint);
      },
      "replace registration");
  if (!ok) return ok;
  return txn->commit();
}

Result<std::int64_t> Store::count_subscriptions() {
  Statement& s = impl_->stmt(Sql::count_subscriptions);
  ResetGuard reset(s);
  auto step = s.step();
  if (!step) return forward(step);
  return s.column_int64(0);
}

Result<std::optional<Subscription>> Store::find_subscription_by_app(std::string_view service, std::string_view token) {
  return impl_->one_subscription(impl_->stmt(Sql::subscription_by_app).bind(1, service).bind(2, token));
}

Result<void> Store::set_app_notified_endpoint(std::int64_t subscription_id, std::string_view endpoint) {
  if (auto ok = impl_->writable("set app endpoint"); !ok) return ok;
  return impl_->update_one(
      Sql::set_app_notified, subscription_id, [&](Statement& s) { s.bind(2, endpoint); }, "set app endpoint");
}

Result<std::optional<Subscription>> Store::find_subscription_by_fcm_app(std::string_view app_id) {
  return impl_->one_subscription(impl_->stmt(Sql::subscription_by_fcm_app).bind(1, app_id));
}

Result<void> Store::set_fcm_registration(std::int64_t subscription_id, const FcmRegistration& reg) {
  if (auto ok = impl_->writable("set FCM registration"); !ok) return ok;
  if (auto ok = check_fcm(path(), fmt::format("id {}", subscription_id), reg); !ok) return ok;
  auto txn = Transaction::begin(impl_->db);
  if (!txn) return forward(txn);
  if (auto ok = impl_->check_fcm_app_free(subscription_id, reg.app_id); !ok) return ok;
  auto ok = impl_->update_one(
      Sql::set_fcm, subscription_id, [&](Statement& s) { Impl::bind_fcm(s, reg); }, "set FCM registration");
  if (!ok) return ok;
  return txn->commit();
}

// ---- Chrome's push service (FCM) -----------------------------------------------

namespace {

// An unsigned 64-bit value kept as decimal text (SQLite's INTEGER is signed): 1 to
// 20 digits, no sign, within range.
std::optional<std::uint64_t> parse_decimal_u64(std::string_view text) noexcept {
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace

Result<std::optional<FcmDevice>> Store::get_fcm_device() {
  Statement& s = impl_->stmt(Sql::fcm_get_device);
  ResetGuard reset(s);
  auto step = s.step();
  if (!step) return forward(step);
  if (*step == Step::done) return std::optional<FcmDevice>();
  FcmDevice out{.checked_in_at = s.column_int64(2)};
  // The values stay out of the message: the security token is a credential.
  const auto android_id = parse_decimal_u64(s.column_text(0));
  if (!android_id || *android_id == 0) {
    return tl::unexpected(impl_->corrupt_row("fcm_device", 1, "android_id is not a non-zero 64-bit decimal number"));
  }
  const auto security_token = parse_decimal_u64(s.column_text(1));
  if (!security_token || *security_token == 0) {
    return tl::unexpected(
        impl_->corrupt_row("fcm_device", 1, "security_token is not a non-zero 64-bit decimal number"));
  }
  out.android_id = *android_id;
  out.security_token = *security_token;
  return std::optional<FcmDevice>(out);
}

Result<void> Store::set_fcm_device(const FcmDevice& device) {
  if (auto ok = impl_->writable("set FCM device"); !ok) return ok;
  if (device.android_id == 0 || device.security_token == 0) {
    return fail(Errc::invalid_argument,
                fmt::format("{}: set FCM device: android id and security token must not be 0", path().string()));
  }
  const std::string android_id = std::to_string(device.android_id);
  const std::string security_token = std::to_string(device.security_token);
  Statement& s = impl_->stmt(Sql::fcm_set_device);
  ResetGuard reset(s);
  s.bind(1, android_id).bind(2, security_token).bind(3, device.checked_in_at);
  return s.run();
}

Result<void> Store::add_fcm_acks(std::span<const std::string> ids, std::int64_t now) {
  if (auto ok = impl_->writable("add FCM acks"); !ok) return ok;
  if (ids.empty()) return {};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) {
      return fail(Errc::invalid_argument,
                  fmt::format("{}: add FCM acks: persistent id {} of {} is empty", path().string(), i, ids.size()));
    }
  }
  const Impl::RelaxedSync relaxed(*impl_);
  auto txn = Transaction::begin(impl_->db);
  if (!txn) return forward(txn);
  for (const std::string& id : ids) {
    Statement& s = impl_->stmt(Sql::fcm_ack_add);
    ResetGuard reset(s);
    s.bind(1, id).bind(2, now);
    if (auto ok = s.run(); !ok) return ok;
  }
  {
    // Bounded, so that ids a login never confirms cannot grow the table (and the
    // LoginRequest that presents them) without end. Forgetting the oldest is
    // harmless: the service redelivers such a message, the inbox recognises it by
    // (channel ID, version), and its id is recorded and acked again.
    Statement& s = impl_->stmt(Sql::fcm_ack_trim);
    ResetGuard reset(s);
    s.bind(1, kMaxFcmAcks);
    if (auto ok = s.run(); !ok) return ok;
  }
  return txn->commit();
}

Result<std::vector<std::string>> Store::list_fcm_acks(std::int64_t limit) {
  if (limit < 0) return fail(Errc::invalid_argument, fmt::format("{}: list FCM acks: negative limit", path().string()));
  Statement& s = impl_->stmt(Sql::fcm_ack_list);
  ResetGuard reset(s);
  s.bind(1, limit);
  std::vector<std::string> out;
  for (;;) {
    auto step = s.step();
    if (!step) return forward(step);
    if (*step == Step::done) break;
    out.push_back(s.column_text(0));
  }
  return out;
}

Result<void> Store::remove_fcm_acks(std::span<const std::string> ids) {
  if (auto ok = impl_->writable("remove FCM acks"); !ok) return ok;
  if (ids.empty()) return {};
  const Impl::RelaxedSync relaxed(*impl_);
  auto txn = Transaction::begin(impl_->db);
  if (!txn) return forward(txn);
  for (const std::string& id : ids) {
    Statement& s = impl_->stmt(Sql::fcm_ack_remove);
    ResetGuard reset(s);
    s.bind(1, id);
    if (auto ok = s.run(); !ok) return ok;
  }
  return txn->commit();
}

Result<std::int64_t> Store::count_fcm_acks() {
  Statement& s = impl_->stmt(Sql::fcm_ack_count);
  ResetGuard reset(s);
  auto step = s.step();
  if (!step) return forward(step);
  return s.column_int64(0);
}

// ---- inbox -------------------------------------------------------------------

Result<PutResult> Store::inbox_put_if_new(const InboxEntry& entry) {
  if (auto ok = impl_->writable("store message"); !ok) return forward(ok);
  auto txn = Transaction::begin(impl_->db);
  if (!txn) return forward(txn);
  auto put = impl_->put_one(entry);
  if (!put) return put;
  // A redelivery changed nothing but AUTOINCREMENT's rewrite of sqlite_sequence:
  // rolling back spares it a sync (the original row is already durable).
  if (!put->is_new) return put;
  if (auto ok = txn->commit(); !ok) return forward(ok);
  return put;
}

Result<std::vector<PutResult>> Store::inbox_put_batch(std::span<const InboxEntry> entries) {
  if (auto ok = impl_->writable("store messages"); !ok) return forward(ok);
  std::vector<PutResult> out;
  out.reserve(entries.size());
  if (entries.empty()) return out;
  auto txn = Transaction::begin(impl_->db);
  if (!txn) return forward(txn);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto put = impl_->put_one(entries[i]);
    if (!put) {
      return tl::unexpected(put.error().with_context(
          fmt::format("batch message {} (channel {}, version {})", i, entries[i].channel_id, entries[i].version)));
    }
    out.push_back(*put);
  }
  const bool any_new = std::any_of(out.begin(), out.end(), [](const PutResult& r) { return r.is_new; });
  if (!any_new) return out;  // all redeliveries: nothing to make durable (see inbox_put_if_new)
  if (auto ok = txn->commit(); !ok) return forward(ok);
  return out;
}

Result<bool> Store::inbox_contains(std::string_view channel_id, std::string_view version) {
  Statement& s = impl_->stmt(Sql::inbox_find_key);
  ResetGuard reset(s);
  s.bind(1, channel_id).bind(2, version);
  auto step = s.step();
  if (!step) return forward(step);
  return *step == Step::row;
}

Result<void> Store::mark_delivered(std::int64_t id, std::int64_t when) {
  if (auto ok = impl_->writable("mark delivered"); !ok) return ok;
  const Impl::RelaxedSync relaxed(*impl_);
  return impl_->update_one(
      Sql::inbox_mark_delivered, id, [&](Statement& s) { s.bind(2, when); }, "mark delivered");
}

Result<void> Store::mark_delivered_batch(std::span<const std::int64_t> ids, std::int64_t when) {
  if (auto ok = impl_->writable("mark delivered"); !ok) return ok;
  if (ids.empty()) return {};
  const Impl::RelaxedSync relaxed(*impl_);
  auto txn = Transaction::begin(impl_->db);
  if (!txn) return forward(txn);
  for (const std::int64_t id : ids) {
    auto ok = impl_->update_one(
        Sql::inbox_mark_delivered, id, [&](Statement& s) { s.bind(2, when); }, "mark delivered");
    if (!ok) return ok;
  }
  return txn->commit();
}

Result<void> Store::mark_failed(std::int64_t id, std::string_view error) {
  if (auto ok = impl_->writable("mark failed"); !ok) return ok;
  const Impl::RelaxedSync relaxed(*impl_);
  return impl_->update_one(
      Sql::inbox_mark_failed, id, [&](Statement& s) { s.bind(2, error); }, "mark failed");
}

Result<void> Store::mark_undelivered(std::int64_t id) {
  if (auto ok = impl_->writable("mark undelivered"); !ok) return ok;
  return impl_->update_one(
      Sql::inbox_mark_undelivered, id, [](Statement&) {}, "mark undelivered");
}

Result<std::optional<InboxEntry>> Store::find_message(std::int64_t id) {
  Statement& s = impl_->stmt(Sql::inbox_by_id);
  ResetGuard reset(s);
  s.bind(1, id);
  auto step = s.step();
  if (!step) return forward(step);
  if (*step == Step::done) return std::optional<InboxEntry>();
  auto row = impl_->read_inbox(s);
  if (!row) return forward(row);
  return std::optional<InboxEntry>(std::move(*row));
}

Result<std::vector<InboxEntry>> Store::list_undelivered() {
  return impl_->all_rows<InboxEntry>(impl_->stmt(Sql::inbox_undelivered), &Impl::read_inbox);
}

Result<std::vector<InboxEntry>> Store::list_undelivered_from(std::int64_t first_id, std::int64_t limit) {
  if (limit < 0)
    return fail(Errc::invalid_argument, fmt::format("{}: list_undelivered_from: negative limit", path().string()));
  return impl_->all_rows<InboxEntry>(impl_->stmt(Sql::inbox_undelivered_from).bind(1, first_id).bind(2, limit),
                                     &Impl::read_inbox);
}

Result<std::vector<InboxEntry>> Store::list_undelivered_of(std::int64_t subscription_id, std::int64_t first_id,
                                                           std::int64_t limit) {
  if (limit < 0)
    return fail(Errc::invalid_argument, fmt::format("{}: list_undelivered_of: negative limit", path().string()));
  Statement& s = impl_->stmt(Sql::inbox_undelivered_of);
  s.bind(1, subscription_id).bind(2, first_id).bind(3, limit);
  return impl_->all_rows<InboxEntry>(s, &Impl::read_inbox);
}

Result<std::int64_t> Store::count_undelivered_of(std::int64_t subscription_id) {
  Statement& s = impl_->stmt(Sql::inbox_count_undelivered_of);
  ResetGuard reset(s);
  s.bind(1, subscription_id);
  auto step = s.step();
  if (!step) return forward(step);
  return s.column_int64(0);
}

Result<std::vector<InboxEntry>> Store::list_messages(const MessageFilter& filter) {
  std::optional<std::int64_t> subscription_id = filter.subscription_id;
  if (filter.subscription_name) {
    auto sub = find_subscription_by_name(*filter.subscription_name);
    if (!sub) return forward(sub);
    if (!*sub) {
      return fail(Errc::not_found,
                  fmt::format("{}: no subscription named {}", path().string(), *filter.subscription_name));
    }
    if (subscription_id && *subscription_id != (*sub)->id) return std::vector<InboxEntry>();
    subscription_id = (*sub)->id;
  }
  if (filter.limit && *filter.limit < 0) {
    return fail(Errc::invalid_argument, fmt::format("{}: messages: negative limit {}", path().string(), *filter.limit));
  }
  std::optional<std::string_view> state;
  if (filter.state) state = to_string(*filter.state);
  Statement& s = impl_->stmt(Sql::inbox_list);
  s.bind(1, filter.since).bind(2, subscription_id).bind(3, state).bind(4, filter.limit.value_or(-1));
  auto rows = impl_->all_rows<InboxEntry>(s, &Impl::read_inbox);
  if (rows) std::reverse(rows->begin(), rows->end());
  return rows;
}

Result<std::int64_t> Store::prune(std::int64_t now, const RetentionPolicy& policy) {
  if (auto ok = impl_->writable("prune"); !ok) return forward(ok);
  if (policy.max_rows < 0 || policy.max_age.count() < 0) {
    return fail(Errc::invalid_argument, fmt::format("{}: prune: negative retention (max_age {} ms, max_rows {})",
                                                    path().string(), policy.max_age.count(), policy.max_rows));
  }
  const Impl::RelaxedSync relaxed(*impl_);
  auto txn = Transaction::begin(impl_->db);
  if (!txn) return forward(txn);
  Statement& s = impl_->stmt(Sql::inbox_prune);
  ResetGuard reset(s);
  s.bind(1, now - policy.max_age.count()).bind(2, policy.max_rows);
  if (auto ok = s.run(); !ok) return forward(ok);
  const std::int64_t deleted = impl_->db.changes();
  if (auto ok = txn->commit(); !ok) return forward(ok);
  return deleted;
}

Result<void> Store::save_sink_backlog(const std::map<std::string, std::int64_t>& owed_from) {
  if (auto ok = impl_->writable("save sink backlog"); !ok) return ok;
  auto txn = Transaction::begin(impl_->db);
  if (!txn) return forward(txn);
  if (auto ok = impl_->db.exec("DELETE FROM sink_backlog"); !ok) return ok;
  auto s = impl_->db.prepare("INSERT INTO sink_backlog (sink, owed_from) VALUES (?1, ?2)");
  if (!s) return forward(s);
  for (const auto& [sink, from] : owed_from) {
    s->reset();
    s->bind(1, sink).bind(2, from);
    if (auto step = s->step(); !step) return forward(step);
  }
  return txn->commit();
}

Result<std::map<std::string, std::int64_t>> Store::take_sink_backlog() {
  std::map<std::string, std::int64_t> out;
  auto s = impl_->db.prepare("SELECT sink, owed_from FROM sink_backlog");
  if (!s) return forward(s);
  for (;;) {
    auto step = s->step();
    if (!step) return forward(step);
    if (*step == Step::done) break;
    out[s->column_text(0)] = s->column_int64(1);
  }
  if (!out.empty() && impl_->writable("take sink backlog")) {
    if (auto ok = impl_->db.exec("DELETE FROM sink_backlog"); !ok) return forward(ok);
  }
  return out;
}

Result<InboxStats> Store::inbox_stats() {
  Statement& s = impl_->stmt(Sql::inbox_stats);
  ResetGuard reset(s);
  InboxStats out;
  for (;;) {
    auto step = s.step();
    if (!step) return forward(step);
    if (*step == Step::done) break;
    const auto state = parse_inbox_state(s.column_text(0));
    const std::int64_t count = s.column_int64(1);
    if (state == InboxState::stored) out.stored = count;
    if (state == InboxState::delivered) out.delivered = count;
    if (state == InboxState::failed) out.failed = count;
    const std::int64_t last = s.column_int64(2);
    if (!out.last_received_at || last > *out.last_received_at) out.last_received_at = last;
  }
  return out;
}

}  // namespace webpush::store
