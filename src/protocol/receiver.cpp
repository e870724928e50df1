#include "webpush/protocol/receiver.h"

#include <optional>
#include <string>

#include <fmt/format.h>

#include "webpush/core/base64url.h"
#include "webpush/crypto/ece.h"
#include "webpush/crypto/webpush.h"

namespace webpush::protocol {

namespace {

// A batch being processed: the answers, and the messages to store with where their answers are.
struct Batch {
  std::vector<Received> out;
  std::vector<Message> to_store;
  std::vector<std::size_t> stored_index;  // position in `out` of each message in to_store
};

// Whether `n` is already among the messages to store.
bool in_batch(const Batch& batch, const Notification& n) {
  for (const auto& m : batch.to_store) {
    if (m.channel_id == n.channel_id && m.version == n.version) return true;
  }
  return false;
}

// The keys of the channel of `n` when it is a new message to store; otherwise null,
// with `r.ack` saying why (left unset after a store failure: no ack).
std::shared_ptr<const ChannelKeys> admit(InboxPort& inbox, const Batch& batch, const Notification& n, Received& r) {
  auto channel = inbox.find_channel(n.channel_id);
  if (!channel) {
    r.failure = channel.error();  // store failure: no ack
    return nullptr;
  }
  if (!*channel) {
    r.ack = AckCode::not_delivered;  // no subscription owns this channel
    return nullptr;
  }
  auto seen = inbox.contains(n.channel_id, n.version);
  if (!seen) {
    r.failure = seen.error();
    return nullptr;
  }
  // The same message twice in one batch counts as a duplicate as well.
  if (*seen || in_batch(batch, n)) {
    r.ack = AckCode::not_delivered;
    return nullptr;
  }
  return *channel;
}

Message new_message(const Notification& n, const ChannelKeys& keys, std::int64_t now_ms) {
  Message m;
  m.subscription_id = keys.subscription_id;
  m.subscription = keys.subscription_name;
  m.channel_id = n.channel_id;
  m.version = n.version;
  m.received_at = now_ms;
  m.app = keys.app;
  return m;
}

// The bytes of the notification's data, or nullopt with m.error saying why not.
std::optional<Bytes> decode_data(Message& m, const std::string& data) {
  auto body = base64url_decode(data);
  if (!body) {
    m.error = fmt::format("data is not base64url: {}", body.error().message());
    return std::nullopt;
  }
  return std::move(*body);
}

// For a UnifiedPush app: keeps the body as it is, for the app to decrypt, when
// it is an aes128gcm body (its parameters are all in the body); anything else
// cannot be forwarded and is recorded as failed.
AckCode keep_encrypted(Message& m, const Notification& n) {
  if (!n.data) return AckCode::delivered;
  m.encoding = n.headers ? n.headers->encoding : "";
  if (m.encoding != "aes128gcm") {
    m.error = fmt::format(
        "a UnifiedPush app takes aes128gcm only; this message is '{}', whose parameters are in headers the app never "
        "sees",
        m.encoding.empty() ? "without Content-Encoding" : m.encoding);
    return AckCode::decrypt_error;
  }
  auto body = decode_data(m, *n.data);
  if (!body) return AckCode::decrypt_error;
  if (auto header = crypto::parse_aes128gcm_header(*body); !header) {
    m.error = fmt::format("not an aes128gcm body: {}", header.error().message());
    return AckCode::decrypt_error;
  }
  m.payload = std::move(*body);
  return AckCode::delivered;
}

// Decrypts the data of `n` into m.payload, or says in m.error why it cannot; returns the ack.
AckCode decrypt_into(Message& m, const Notification& n, const ChannelKeys& keys) {
  // A data-less push is a valid message without payload (docs/protocol.md §6.22).
  if (!n.data) return AckCode::delivered;
  if (!n.headers || n.headers->encoding.empty()) {
    m.error = "the message has data but no Content-Encoding";
    return AckCode::decrypt_error;
  }
  m.encoding = n.headers->encoding;
  auto body = decode_data(m, *n.data);
  if (!body) return AckCode::decrypt_error;
  auto plain = crypto::decrypt_push({.encoding = n.headers->encoding,
                                     .encryption = n.headers->encryption,
                                     .crypto_key = n.headers->crypto_key,
                                     .body = *body},
                                    {keys.key, keys.auth_secret});
  if (!plain) {
    m.error = plain.error().to_string();
    return AckCode::decrypt_error;
  }
  m.payload = std::move(*plain);
  return AckCode::delivered;
}

// Stores the batch's messages at once; acks only what is durable.
void store_batch(InboxPort& inbox, Batch& batch) {
  if (batch.to_store.empty()) return;
  auto put = inbox.put(batch.to_store);
  if (!put || put->size() != batch.to_store.size()) {
    // Nothing of this batch is known to be durable: ack none of it.
    for (const std::size_t i : batch.stored_index) {
      batch.out[i].ack.reset();
      if (!put) batch.out[i].failure = put.error();
    }
    return;
  }
  for (std::size_t k = 0; k < batch.to_store.size(); ++k) {
    Received& r = batch.out[batch.stored_index[k]];
    if ((*put)[k]) {
      batch.to_store[k].id = *(*put)[k];
      r.message = std::move(batch.to_store[k]);
    } else {
      r.ack = AckCode::not_delivered;  // stored meanwhile: a duplicate after all
    }
  }
}

}  // namespace

std::vector<Received> Receiver::process(std::span<const Notification> batch, std::int64_t now_ms) {
  Batch b;
  b.out.reserve(batch.size());
  for (const Notification& n : batch) {
    Received r{n.channel_id, n.version, std::nullopt, std::nullopt};
    if (auto keys = admit(*inbox_, b, n, r)) {
      Message m = new_message(n, *keys, now_ms);
      r.ack = keys->app ? keep_encrypted(m, n) : decrypt_into(m, n, *keys);
      b.stored_index.push_back(b.out.size());
      b.to_store.push_back(std::move(m));
    }
    b.out.push_back(std::move(r));
  }
  store_batch(*inbox_, b);
  return std::move(b.out);
}

}  // namespace webpush::protocol
