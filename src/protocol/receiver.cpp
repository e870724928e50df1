#include "webpush/protocol/receiver.h"

#include <fmt/format.h>

#include "webpush/core/base64url.h"
#include "webpush/crypto/webpush.h"

namespace webpush::protocol {

std::vector<Received> Receiver::process(std::span<const Notification> batch, std::int64_t now_ms) {
  std::vector<Received> out;
  out.reserve(batch.size());
  std::vector<Message> to_store;
  std::vector<std::size_t> stored_index;  // position in `out` of each message in to_store

  for (const Notification& n : batch) {
    Received r{n.channel_id, n.version, std::nullopt, std::nullopt};
    auto channel = inbox_->find_channel(n.channel_id);
    if (!channel) {
      out.push_back(std::move(r));  // store failure: no ack
      continue;
    }
    if (!*channel) {
      r.ack = AckCode::not_delivered;  // no subscription owns this channel
      out.push_back(std::move(r));
      continue;
    }
    auto seen = inbox_->contains(n.channel_id, n.version);
    if (!seen) {
      out.push_back(std::move(r));
      continue;
    }
    // The same message twice in one batch counts as a duplicate as well.
    bool repeated = *seen;
    for (const auto& m : to_store) repeated = repeated || (m.channel_id == n.channel_id && m.version == n.version);
    if (repeated) {
      r.ack = AckCode::not_delivered;
      out.push_back(std::move(r));
      continue;
    }

    const ChannelKeys& keys = **channel;
    Message m;
    m.subscription_id = keys.subscription_id;
    m.subscription = keys.subscription_name;
    m.channel_id = n.channel_id;
    m.version = n.version;
    m.received_at = now_ms;
    if (!n.data) {
      // A data-less push is a valid message without payload (docs/protocol.md §6.22).
      r.ack = AckCode::delivered;
    } else if (!n.headers || n.headers->encoding.empty()) {
      m.error = "the message has data but no Content-Encoding";
      r.ack = AckCode::decrypt_error;
    } else {
      m.encoding = n.headers->encoding;
      auto body = base64url_decode(*n.data);
      if (!body) {
        m.error = fmt::format("data is not base64url: {}", body.error().message());
        r.ack = AckCode::decrypt_error;
      } else {
        auto plain = crypto::decrypt_push({.encoding = n.headers->encoding,
                                           .encryption = n.headers->encryption,
                                           .crypto_key = n.headers->crypto_key,
                                           .body = *body},
                                          {keys.key, keys.auth_secret});
        if (plain) {
          m.payload = std::move(*plain);
          r.ack = AckCode::delivered;
        } else {
          m.error = plain.error().to_string();
          r.ack = AckCode::decrypt_error;
        }
      }
    }
    stored_index.push_back(out.size());
    to_store.push_back(std::move(m));
    out.push_back(std::move(r));
  }

  if (to_store.empty()) return out;
  auto put = inbox_->put(to_store);
  if (!put || put->size() != to_store.size()) {
    // Nothing of this batch is known to be durable: ack none of it.
    for (const std::size_t i : stored_index) out[i].ack.reset();
    return out;
  }
  for (std::size_t k = 0; k < to_store.size(); ++k) {
    Received& r = out[stored_index[k]];
    if ((*put)[k]) {
      to_store[k].id = *(*put)[k];
      r.message = std::move(to_store[k]);
    } else {
      r.ack = AckCode::not_delivered;  // stored meanwhile: a duplicate after all
    }
  }
  return out;
}

}  // namespace webpush::protocol
