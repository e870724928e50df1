// The MCS message bodies a server sends (messages.h). The first input byte
// picks the tag and the rest is that message's body; the whole input is also
// read as a stream of frames (mcs_framing.h) and every frame decoded by its
// tag. Nothing may crash or leak; every error is the fcm layer's, of a code
// the decoder declares, and names its message; what decodes survives an
// encode and a second decode unchanged.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "webpush/fcm/mcs_framing.h"
#include "webpush/fcm/messages.h"

namespace fcm_message_fuzz {

using namespace webpush::fcm;

template <class T>
void check_error(const webpush::Result<T>& result, std::string_view name, std::initializer_list<Errc> allowed) {
  if (result) return;
  bool known = false;
  for (Errc c : allowed) known = known || result.error().is(c);
  if (!known) __builtin_trap();
  if (result.error().message().rfind(name, 0) != 0) __builtin_trap();
}

void heartbeat(std::string_view body) {
  auto h = decode_heartbeat(body);
  check_error(h, "Heartbeat", {Errc::bad_message});
  if (!h) return;
  auto again = decode_heartbeat(encode_heartbeat(*h));
  if (!again || again->stream_id != h->stream_id || again->last_stream_id_received != h->last_stream_id_received ||
      again->status != h->status) {
    __builtin_trap();
  }
}

void login_response(std::string_view body) {
  auto login = decode_login_response(body);
  check_error(login, "LoginResponse", {Errc::bad_message, Errc::missing_field});
}

bool same(const DataMessage& a, const DataMessage& b) {
  return a.id == b.id && a.from == b.from && a.to == b.to && a.category == b.category && a.token == b.token &&
         a.reg_id == b.reg_id && a.persistent_id == b.persistent_id && a.app_data == b.app_data &&
         a.raw_data == b.raw_data && a.stream_id == b.stream_id &&
         a.last_stream_id_received == b.last_stream_id_received && a.ttl == b.ttl && a.sent == b.sent &&
         a.immediate_ack == b.immediate_ack;
}

void data_message(std::string_view body) {
  auto message = decode_data_message(body);
  check_error(message, "DataMessageStanza", {Errc::bad_message, Errc::missing_field, Errc::bad_value});
  if (!message) return;
  if (message->app_data.size() > kMaxAppDataEntries) __builtin_trap();
  for (const auto& [key, value] : message->app_data) {
    if (key.size() > kMaxAppDataKeyBytes) __builtin_trap();
  }
  auto again = decode_data_message(encode_data_message(*message));
  if (!again || !same(*again, *message)) __builtin_trap();
}

void selective_ack(std::string_view data) {
  auto ids = decode_selective_ack(data);
  check_error(ids, "SelectiveAck", {Errc::bad_message});
  if (!ids) return;
  auto iq = decode_iq_stanza(encode_selective_ack(*ids, 1));
  if (!iq || iq->extension_id != kSelectiveAckExtension) __builtin_trap();
  auto again = decode_selective_ack(iq->extension_data);
  if (!again || *again != *ids) __builtin_trap();
}

void iq_stanza(std::string_view body) {
  auto iq = decode_iq_stanza(body);
  check_error(iq, "IqStanza", {Errc::bad_message, Errc::missing_field, Errc::bad_value});
  if (!iq) return;
  if (static_cast<int>(iq->type) < 0 || static_cast<int>(iq->type) > 3) __builtin_trap();
  if (iq->extension_id == kSelectiveAckExtension) selective_ack(iq->extension_data);
}

void stream_error(std::string_view body) {
  auto text = decode_stream_error(body);
  check_error(text, "StreamErrorStanza", {Errc::bad_message, Errc::missing_field});
}

void decode_by_tag(std::uint8_t tag, std::string_view body) {
  switch (known_tag(tag).value_or(Tag::talk_metadata)) {
    case Tag::heartbeat_ping:
    case Tag::heartbeat_ack: heartbeat(body); break;
    case Tag::login_response: login_response(body); break;
    case Tag::iq_stanza: iq_stanza(body); break;
    case Tag::data_message_stanza: data_message(body); break;
    case Tag::stream_error_stanza: stream_error(body); break;
    default: selective_ack(body); break;
  }
}

}  // namespace fcm_message_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fcm_message_fuzz;
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  decode_by_tag(data[0], input.substr(1));
  McsDecoder decoder({.expect_version = false});
  std::string_view in = input;
  for (;;) {
    auto frame = decoder.next(in);
    if (!frame || !frame->has_value()) break;
    decode_by_tag((*frame)->tag, (*frame)->body);
  }
  return 0;
}
