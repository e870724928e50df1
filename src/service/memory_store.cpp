// ServiceStore in memory: the reference behaviour the SQLite store must match.
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "webpush/service/store.h"
#include "webpush/store/errc.h"

namespace webpush::service {

namespace {

class MemoryStore final : public ServiceStore {
 public:
  Result<bool> has_user(std::string_view uaid) override { return users_.count(std::string(uaid)) != 0; }

  Result<void> add_user(std::string_view uaid, std::int64_t /*now_ms*/) override {
    users_.insert(std::string(uaid));
    return {};
  }

  Result<void> drop_user(std::string_view uaid) override {
    users_.erase(std::string(uaid));
    for (auto& [token, c] : channels_) {
      if (c.uaid == uaid) c.registered = false;
    }
    erase_messages([&](const Row& r) { return r.msg.uaid == uaid; });
    return {};
  }

  Result<std::optional<ChannelRecord>> channel_by_token(std::string_view token) override {
    const auto it = channels_.find(std::string(token));
    if (it == channels_.end()) return std::optional<ChannelRecord>();
    return std::optional<ChannelRecord>(it->second);
  }

  Result<std::optional<ChannelRecord>> registered_channel(std::string_view uaid, std::string_view channel_id) override {
    std::optional<ChannelRecord> best;
    for (const auto& [token, c] : channels_) {
      if (c.registered && c.uaid == uaid && c.channel_id == channel_id && (!best || c.created_ms >= best->created_ms)) {
        best = c;
      }
    }
    return best;
  }

  Result<void> add_channel(const ChannelRecord& channel) override {
    if (!channels_.emplace(channel.token, channel).second) {
      return fail(store::Errc::constraint, "memory store: endpoint token issued twice");
    }
    return {};
  }

  Result<void> unregister_channel(std::string_view uaid, std::string_view channel_id) override {
    for (auto& [token, c] : channels_) {
      if (c.uaid == uaid && c.channel_id == channel_id) c.registered = false;
    }
    erase_messages([&](const Row& r) { return r.msg.uaid == uaid && r.msg.channel_id == channel_id; });
    return {};
  }

  Result<std::optional<std::string>> put_message(const StoredMessage& message) override {
    std::optional<std::string> replaced;
    if (message.topic) {
      for (auto it = rows_.begin(); it != rows_.end(); ++it) {
        if (it->second.msg.topic == message.topic && it->second.msg.uaid == message.uaid &&
            it->second.msg.channel_id == message.channel_id) {
          replaced = it->second.msg.id;
          by_id_.erase(it->second.msg.id);
          rows_.erase(it);
          break;
        }
      }
    }
    const auto seq = ++seq_;
    rows_.emplace(seq, Row{seq, message});
    by_id_.emplace(message.id, seq);
    return replaced;
  }

  Result<std::vector<StoredMessage>> pending_messages(std::string_view uaid, std::int64_t now_ms, std::size_t limit,
                                                      const std::vector<std::string>& exclude) override {
    std::vector<StoredMessage> out;
    for (const bool topic_pass : {true, false}) {
      for (const auto& [seq, r] : rows_) {
        if (out.size() >= limit) return out;
        if (r.msg.uaid != uaid || r.msg.topic.has_value() != topic_pass || r.msg.expires_ms() <= now_ms) continue;
        if (std::find(exclude.begin(), exclude.end(), r.msg.id) != exclude.end()) continue;
        out.push_back(r.msg);
      }
    }
    return out;
  }

  Result<bool> delete_message(std::string_view id) override {
    const auto it = by_id_.find(std::string(id));
    if (it == by_id_.end()) return false;
    rows_.erase(it->second);
    by_id_.erase(it);
    return true;
  }

  Result<std::size_t> purge_expired(std::int64_t now_ms, std::string_view uaid) override {
    return erase_messages(
        [&](const Row& r) { return r.msg.expires_ms() <= now_ms && (uaid.empty() || r.msg.uaid == uaid); });
  }

  Result<StoreCounts> counts() override {
    StoreCounts c;
    c.users = static_cast<std::int64_t>(users_.size());
    c.channels = std::count_if(channels_.begin(), channels_.end(), [](const auto& kv) { return kv.second.registered; });
    c.messages = static_cast<std::int64_t>(rows_.size());
    return c;
  }

 private:
  struct Row {
    std::int64_t seq;
    StoredMessage msg;
  };

  template <class Pred>
  std::size_t erase_messages(Pred pred) {
    std::size_t n = 0;
    for (auto it = rows_.begin(); it != rows_.end();) {
      if (pred(it->second)) {
        by_id_.erase(it->second.msg.id);
        it = rows_.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }

  std::set<std::string, std::less<>> users_;
  std::map<std::string, ChannelRecord, std::less<>> channels_;
  std::map<std::int64_t, Row> rows_;  // by arrival
  std::unordered_map<std::string, std::int64_t> by_id_;
  std::int64_t seq_ = 0;
};

}  // namespace

std::unique_ptr<ServiceStore> make_memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace webpush::service
