#include "store_inbox.h"

#include <algorithm>

#include <fmt/format.h>

#include "webpush/core/base64url.h"
#include "webpush/crypto/ece.h"
#include "webpush/crypto/keys.h"
#include "webpush/event/trace.h"

namespace webpush::daemon {

namespace {

// How the body `n` carried was cut into records, given that it decrypted to
// `plaintext` bytes; nullopt when that cannot be told.
std::optional<crypto::RecordLayout> layout_of(const protocol::Notification* n, std::size_t plaintext) {
  if (n == nullptr || !n->data || !n->headers) return std::nullopt;
  const auto body = base64url_decode(*n->data);
  if (!body) return std::nullopt;
  auto layout =
      crypto::record_layout({n->headers->encoding, n->headers->encryption, n->headers->crypto_key, *body}, plaintext);
  return layout ? std::optional(*layout) : std::nullopt;
}

// What decrypting a stored message gave, for `--trace`: the encoding, how the
// body was cut into records (from its public header and the plaintext's size)
// and the plaintext's size; never the plaintext or a key.
void trace_decrypt(const Message& m, const protocol::Notification* n) {
  const std::string_view event = m.error ? "decrypt.failed" : m.payload ? "decrypt.ok" : "decrypt.skipped";
  event::trace(event, [&](event::TraceFields& f) {
    f.add("id", m.version).add("channel", m.channel_id);
    if (!m.subscription.empty()) f.add("subscription", m.subscription);
    if (!m.payload && !m.error) {
      f.add("reason", "no-data");
      return;
    }
    if (!m.encoding.empty()) f.add("encoding", m.encoding);
    if (m.error) {
      f.add("error", *m.error);
      return;
    }
    if (const auto layout = layout_of(n, m.payload->size())) {
      f.add("body", layout->body).add("rs", layout->rs).add("records", layout->records).add("padding", layout->padding);
    }
    f.add("plaintext", m.payload->size());
  });
}

}  // namespace

Result<std::shared_ptr<const protocol::ChannelKeys>> StoreInbox::find_channel(const std::string& channel_id) {
  if (const auto it = cache_.find(channel_id); it != cache_.end()) return it->second;
  auto sub = store_->find_subscription_by_channel(channel_id);
  if (!sub) return tl::unexpected(sub.error());
  if (!*sub) return std::shared_ptr<const protocol::ChannelKeys>();
  // Importing the scalar costs a point multiplication: do it once per channel.
  auto key = crypto::KeyPair::from_private((*sub)->private_key);
  if (!key) return tl::unexpected(key.error().with_context("stored key of subscription " + (*sub)->name));
  auto keys = std::make_shared<const protocol::ChannelKeys>(
      protocol::ChannelKeys{(*sub)->id, (*sub)->name, std::move(*key), (*sub)->auth_secret,
                            (*sub)->app ? std::optional<std::string>((*sub)->app->service) : std::nullopt});
  cache_[channel_id] = keys;
  return keys;
}

Result<bool> StoreInbox::contains(const std::string& channel_id, const std::string& version) {
  return store_->inbox_contains(channel_id, version);
}

Result<std::vector<std::optional<std::int64_t>>> StoreInbox::put(std::span<const Message> messages) {
  std::vector<store::InboxEntry> entries;
  entries.reserve(messages.size());
  for (const auto& m : messages) {
    entries.push_back(store::InboxEntry{m, m.error ? store::InboxState::failed : store::InboxState::stored, {}});
  }
  const bool tracing = event::Trace::enabled();
  if (tracing) {
    for (const auto& m : messages) trace_decrypt(m, notification_of(m));
    event::Trace::emit("inbox.put", fmt::format("n={}", messages.size()));
  }
  auto put = store_->inbox_put_batch(entries);
  if (!put) return tl::unexpected(put.error());
  if (tracing) {
    for (const auto& m : messages) event::Trace::emit("inbox.committed", "id=" + m.version);
  }
  std::vector<std::optional<std::int64_t>> out;
  out.reserve(put->size());
  for (const auto& r : *put) out.push_back(r.is_new ? std::optional<std::int64_t>(r.id) : std::nullopt);
  return out;
}

const protocol::Notification* StoreInbox::notification_of(const Message& m) const {
  if (traced_batch_ == nullptr) return nullptr;
  const auto it = std::find_if(traced_batch_->begin(), traced_batch_->end(), [&](const protocol::Notification& n) {
    return n.channel_id == m.channel_id && n.version == m.version;
  });
  return it != traced_batch_->end() ? &*it : nullptr;
}

}  // namespace webpush::daemon
