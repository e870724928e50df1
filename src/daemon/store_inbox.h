// daemon::StoreInbox — the receive path's inbox (protocol::InboxPort) over the
// daemon's store::Store, with a per-channel key cache. Shared by the autopush
// Agent and the FCM link: both look channels up by channel ID and commit a
// batch of messages in one transaction before acking it.
//
// Errors are the store's. Thread: the loop thread only. The store is borrowed
// and must outlive the StoreInbox.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "webpush/protocol/receiver.h"
#include "webpush/store/store.h"

namespace webpush::daemon {

class StoreInbox final : public protocol::InboxPort {
 public:
  explicit StoreInbox(store::Store& store) : store_(&store) {}

  /// Drops the cached keys of one channel (its subscription was removed).
  void forget(const std::string& channel_id) { cache_.erase(channel_id); }
  /// Drops every cached key (registrations were replaced).
  void clear() { cache_.clear(); }
  /// While tracing: the notifications being processed (borrowed), whose decrypt
  /// step put() traces; nullptr otherwise.
  void trace_batch(const std::vector<protocol::Notification>* batch) { traced_batch_ = batch; }

  Result<std::shared_ptr<const protocol::ChannelKeys>> find_channel(const std::string& channel_id) override;
  Result<bool> contains(const std::string& channel_id, const std::string& version) override;
  Result<std::vector<std::optional<std::int64_t>>> put(std::span<const Message> messages) override;

 private:
  [[nodiscard]] const protocol::Notification* notification_of(const Message& m) const;

  store::Store* store_;
  std::map<std::string, std::shared_ptr<const protocol::ChannelKeys>> cache_;
  const std::vector<protocol::Notification>* traced_batch_ = nullptr;
};

}  // namespace webpush::daemon
