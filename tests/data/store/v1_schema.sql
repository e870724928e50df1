-- webpushd store, schema version 1: the frozen DDL of migration 1.
-- Never edit: databases in the wild were created from exactly this text. The
-- migration tests load it (with v1_data.sql) to build a version-1 database and
-- check that the current migration 1 still produces the same schema.

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
