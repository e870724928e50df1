#include "schema.h"

#include <array>

#include "webpush/store/store.h"

namespace webpush::store::detail {

namespace {

// Version 1: the base tables. STRICT tables, so that a blob never lands in a text
// column; AUTOINCREMENT, so that an id is never reused after a prune or an
// unsubscribe (the CLI shows them).
constexpr std::string_view kV1 = R"sql(
PRAGMA application_id = 2003858788;

CREATE TABLE connections (
  server TEXT PRIMARY KEY NOT NULL,
  uaid TEXT
) STRICT;

CREATE TABLE subscriptions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE CHECK (name <> ''),
  server TEXT NOT NULL,
  channel_id TEXT NOT NULL UNIQUE,
  endpoint TEXT NOT NULL,
  private_key BLOB NOT NULL CHECK (length(private_key) = 32),
  public_key BLOB NOT NULL CHECK (length(public_key) = 65),
  auth_secret BLOB NOT NULL CHECK (length(auth_secret) = 16),
  app_server_key BLOB,
  created_at INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'needs_resubscribe'))
) STRICT;

CREATE INDEX subscriptions_server ON subscriptions (server);

CREATE TABLE inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription_id INTEGER REFERENCES subscriptions (id) ON DELETE SET NULL,
  channel_id TEXT NOT NULL,
  version TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  payload BLOB,
  encoding TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('stored', 'delivered', 'failed')),
  error TEXT,
  delivered_at INTEGER,
  UNIQUE (channel_id, version)
) STRICT;

CREATE INDEX inbox_subscription ON inbox (subscription_id);
)sql";

// Version 2: what re-registration after a uaid change records, and the index the
// retention and re-dispatch queries (state, received_at) scan.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE subscriptions ADD COLUMN changed_at INTEGER;
ALTER TABLE subscriptions ADD COLUMN previous_endpoint TEXT;

CREATE INDEX inbox_state_received ON inbox (state, received_at);
)sql";

// Version 3: where each sink that was behind stood when the daemon stopped, so
// that the next start hands it what it was owed and the others nothing twice.
constexpr std::string_view kV3 = R"sql(
CREATE TABLE sink_backlog (
  sink TEXT PRIMARY KEY NOT NULL,
  owed_from INTEGER NOT NULL
) STRICT;
)sql";

// Version 4: subscriptions that belong to a UnifiedPush app (docs/unifiedpush.md):
// the app's bus name and token (one subscription per pair), the interface
// version it speaks, and the endpoint it was last told, so that a restart
// sends NewEndpoint only when the endpoint changed.
constexpr std::string_view kV4 = R"sql(
CREATE TABLE unifiedpush_apps (
  subscription_id INTEGER PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
  service TEXT NOT NULL CHECK (service <> ''),
  token TEXT NOT NULL CHECK (token <> ''),
  description TEXT NOT NULL,
  api INTEGER NOT NULL CHECK (api IN (1, 2)),
  notified_endpoint TEXT,
  UNIQUE (service, token)
) STRICT;
)sql";

// Version 5: Chrome's push service (docs/fcm.md). fcm_device holds the one
// checkin identity (android id and security token are unsigned 64-bit values,
// kept as decimal text because SQLite's INTEGER is signed); fcm_subscriptions the
// registration of each subscription received through FCM, found by the app id
// (X-subtype) a message names; fcm_acks the persistent ids of messages already
// stored, which the next MCS login presents as received.
constexpr std::string_view kV5 = R"sql(
CREATE TABLE fcm_device (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  android_id TEXT NOT NULL,
  security_token TEXT NOT NULL,
  checked_in_at INTEGER NOT NULL
) STRICT;

CREATE TABLE fcm_subscriptions (
  subscription_id INTEGER PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
  app_id TEXT NOT NULL UNIQUE CHECK (app_id <> ''),
  gcm_token TEXT NOT NULL CHECK (gcm_token <> ''),
  fcm_token TEXT NOT NULL,
  installation_id TEXT
) STRICT;

CREATE TABLE fcm_acks (
  persistent_id TEXT PRIMARY KEY NOT NULL CHECK (persistent_id <> ''),
  stored_at INTEGER NOT NULL
) STRICT;
)sql";

constexpr std::array<std::string_view, 5> kMigrations = {kV1, kV2, kV3, kV4, kV5};
static_assert(kMigrations.size() == kSchemaVersion, "one migration per schema version");

}  // namespace

std::span<const std::string_view> migrations() noexcept { return kMigrations; }

}  // namespace webpush::store::detail
