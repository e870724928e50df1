// A scripted InboxPort: channels and stored messages in memory, with injectable
// failures, and a log of the calls in order.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "webpush/protocol/receiver.h"

namespace webpush::fakes {

/// Errors injected by fakes.
enum class FakeErrc { injected };
inline std::string_view to_string(FakeErrc) noexcept { return "injected"; }

}  // namespace webpush::fakes

WEBPUSH_ERROR_DOMAIN(webpush::fakes::FakeErrc, webpush::Domain::daemon, webpush::fakes::to_string);

namespace webpush::fakes {

class FakeInbox final : public protocol::InboxPort {
 public:
  std::map<std::string, std::shared_ptr<const protocol::ChannelKeys>> channels;
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<Message> stored;
  std::vector<std::string> calls;
  bool fail_find = false;
  bool fail_put = false;

  Result<std::shared_ptr<const protocol::ChannelKeys>> find_channel(const std::string& channel_id) override {
    calls.push_back("find " + channel_id);
    if (fail_find) return fail(FakeErrc::injected, "injected find failure");
    const auto it = channels.find(channel_id);
    return it == channels.end() ? nullptr : it->second;
  }
  Result<bool> contains(const std::string& channel_id, const std::string& version) override {
    calls.push_back("contains " + version);
    return seen.count({channel_id, version}) > 0;
  }
  Result<std::vector<std::optional<std::int64_t>>> put(std::span<const Message> messages) override {
    calls.push_back("put " + std::to_string(messages.size()));
    if (fail_put) return fail(FakeErrc::injected, "injected put failure");
    std::vector<std::optional<std::int64_t>> out;
    for (const auto& m : messages) {
      const bool fresh = seen.insert({m.channel_id, m.version}).second;
      if (fresh) stored.push_back(m);
      out.push_back(fresh ? std::optional<std::int64_t>(static_cast<std::int64_t>(stored.size())) : std::nullopt);
    }
    return out;
  }
};

}  // namespace webpush::fakes
