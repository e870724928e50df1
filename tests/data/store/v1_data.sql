-- webpushd store, rows of a version-1 database, loaded after v1_schema.sql.
-- The keys are random bytes of the right sizes, not real keys.

INSERT INTO connections (server, uaid) VALUES ('wss://push.services.mozilla.com/', '5f6bd7d8f2a94c5ca4f6a3d1d5b2c0e1');
INSERT INTO connections (server, uaid) VALUES ('wss://push.example.net/', NULL);

INSERT INTO subscriptions (id, name, server, channel_id, endpoint, private_key, public_key, auth_secret,
  app_server_key, created_at, state)
VALUES (1, 'alerts', 'wss://push.services.mozilla.com/', '1b6d4e3a-9f2c-4d7e-8a5b-0c1d2e3f4a5b',
  'https://updates.push.services.mozilla.com/wpush/v2/gAAAAABalerts',
  X'A5FB19C12B113853CF50031C166A460B268FC332286BA407DB1144B701848215',
  X'046B425F9B8506BF4A99D9D449B0792E9C4173EF2E9294B11D106C4C94F9AACAEC6F02B5A7C659B18BD6DDBD0F3F7C219899D6B760128AF91CB747804F5CB5BEE0',
  X'E2C5875D04479C76E65E8EB09C1236BB',
  X'048637243E832FD2C1FE6882493F0D76B9F9707AE27577452B3F62DE013AAD4D45DD38A122CA6F517F087CDF4902A827ABFDB3D1A49A6484220AA3179E9495BA63',
  1717000000000, 'active');
INSERT INTO subscriptions (id, name, server, channel_id, endpoint, private_key, public_key, auth_secret,
  app_server_key, created_at, state)
VALUES (2, 'builds', 'wss://push.example.net/', '7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b',
  'https://push.example.net/wpush/v1/builds',
  X'EEEF4981B0E43A3CBF5B338879CB63F2917AEFEA1C48CDA6CDC171D8DDE08F88',
  X'041A7D4CFC3049CCB23DF2F6ED3388290C872482127DFFD61A9519E08027F31EFE85F6009687709B0E0A45E8CE55F1EFC50B9E91B470F799CFDE09167FE1D88AA0',
  X'63D2B4578511539FAB046AB5B273A0B7',
  NULL,
  1717000100000, 'pending');

INSERT INTO inbox (id, subscription_id, channel_id, version, received_at, payload, encoding, state, error,
  delivered_at)
VALUES
  (1, 1, '1b6d4e3a-9f2c-4d7e-8a5b-0c1d2e3f4a5b', 'v-0001', 1717000200000, CAST('disk almost full' AS BLOB), 'aes128gcm',
    'delivered', NULL, 1717000200050),
  (2, 1, '1b6d4e3a-9f2c-4d7e-8a5b-0c1d2e3f4a5b', 'v-0002', 1717000300000, X'00FF00FF', 'aes128gcm', 'stored', NULL,
    NULL),
  (3, 2, '7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b', 'v-0003', 1717000400000, NULL, '', 'stored', NULL, NULL),
  (4, NULL, 'ffffffff-0000-4000-8000-000000000000', 'v-0004', 1717000500000, NULL, 'aesgcm', 'failed',
    'crypto.decrypt_failed: no subscription for this channel', NULL);

PRAGMA user_version = 1;
