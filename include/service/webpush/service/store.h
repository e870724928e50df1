// Persistent state of the embedded push service: user agents (uaids), their
// channels (one row per endpoint token) and the messages waiting for them.
//
// Two implementations: in memory (no --state-dir; tests of the core) and SQLite
// (`<state-dir>/push-service.db`), so a restart loses no subscription and no
// stored message.
//
// Thread: loop thread only (the event loop owns the store).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"

namespace webpush::service {

/// One endpoint. Tokens are never reused: unregistering keeps the row (registered =
/// false) so the endpoint answers 410 for ever.
struct ChannelRecord {
  std::string token;         ///< the secret last path segment of the endpoint
  std::string uaid;          ///< 32 lower-case hex digits
  std::string channel_id;    ///< lower-case hyphenated UUID
  std::optional<Bytes> key;  ///< applicationServerKey (v2 endpoint) as sent, decoded
  bool registered = true;
  std::int64_t created_ms = 0;
};

/// A message accepted for a user agent.
struct StoredMessage {
  std::string id;  ///< message id: the Location suffix and the WebSocket `version`
  std::string uaid;
  std::string channel_id;
  std::optional<std::string> topic;
  std::int64_t received_ms = 0;
  std::int64_t ttl = 0;             ///< seconds, already capped
  std::optional<std::string> data;  ///< body as base64url without padding; absent for an empty POST
  std::string encoding;             ///< headers forwarded with data (already stripped)
  std::string encryption;
  std::string crypto_key;

  /// Expired when now >= received + ttl (ARS Notification::expired).
  [[nodiscard]] std::int64_t expires_ms() const noexcept { return received_ms + ttl * 1000; }
};

/// Row counts for /stats.
struct StoreCounts {
  std::int64_t users = 0;
  std::int64_t channels = 0;  ///< registered ones
  std::int64_t messages = 0;  ///< stored, expired or not
};

class ServiceStore {
 public:
  virtual ~ServiceStore() = default;

  [[nodiscard]] virtual Result<bool> has_user(std::string_view uaid) = 0;
  /// Adds a user; adding an existing one is not an error.
  virtual Result<void> add_user(std::string_view uaid, std::int64_t now_ms) = 0;
  /// Deletes a user and its messages; its channels stay, unregistered.
  virtual Result<void> drop_user(std::string_view uaid) = 0;

  /// The channel behind an endpoint token, registered or not; nullopt if never issued.
  [[nodiscard]] virtual Result<std::optional<ChannelRecord>> channel_by_token(std::string_view token) = 0;
  /// The newest registered channel of a uaid with this channel id.
  [[nodiscard]] virtual Result<std::optional<ChannelRecord>> registered_channel(std::string_view uaid,
                                                                                std::string_view channel_id) = 0;
  /// Adds a channel row. Error (store constraint) if the token exists.
  virtual Result<void> add_channel(const ChannelRecord& channel) = 0;
  /// Marks every token of (uaid, channel_id) unregistered and deletes its messages.
  virtual Result<void> unregister_channel(std::string_view uaid, std::string_view channel_id) = 0;

  /// Stores a message. One with a topic replaces a stored message with the same
  /// (uaid, channel, topic), whose id is returned.
  virtual Result<std::optional<std::string>> put_message(const StoredMessage& message) = 0;
  /// Up to `limit` unexpired messages of a uaid: topic messages first, then in
  /// arrival order; ids in `exclude` are skipped.
  [[nodiscard]] virtual Result<std::vector<StoredMessage>> pending_messages(
      std::string_view uaid, std::int64_t now_ms, std::size_t limit, const std::vector<std::string>& exclude) = 0;
  /// Deletes a message; false if there was none with that id.
  virtual Result<bool> delete_message(std::string_view id) = 0;
  /// Deletes expired messages (of one uaid, or all when `uaid` is empty); returns how many.
  virtual Result<std::size_t> purge_expired(std::int64_t now_ms, std::string_view uaid = {}) = 0;

  [[nodiscard]] virtual Result<StoreCounts> counts() = 0;
};

/// A store that lives in memory (lost at exit).
std::unique_ptr<ServiceStore> make_memory_store();

/// Opens (creating if needed) `<dir>/push-service.db`; creates `dir` with mode 0700.
/// Errors: store errors from SQLite (io, permission, not_a_database, newer_schema, …).
Result<std::unique_ptr<ServiceStore>> open_sqlite_store(const std::filesystem::path& dir);

}  // namespace webpush::service
