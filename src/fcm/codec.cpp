// messages.h's functions and the checkin of registration.h, forwarded to the
// codec in use (codec.h); without one, empty bodies and Errc::no_codec.
#include "webpush/fcm/codec.h"

#include <atomic>

// Defined only where the codec is linked in (codec_linked.cpp).
extern "C" const webpush::fcm::Codec* webpushd_fcm_linked_codec() __attribute__((weak));

namespace webpush::fcm {

namespace codec_impl {

std::atomic<const Codec*> in_use{nullptr};

tl::unexpected<Error> no_codec(std::string_view what) {
  return fail(Errc::no_codec, std::string(what) + ": no protobuf codec is loaded (the FCM module webpushd-fcm.so)");
}

// Used while no codec is: encoders give nothing, decoders fail.
constexpr Codec kNone{
    .encode_login_request = [](const LoginParams&) { return std::string(); },
    .decode_login_response = [](std::string_view) -> Result<LoginResult> { return no_codec("LoginResponse"); },
    .encode_heartbeat = [](const Heartbeat&) { return std::string(); },
    .decode_heartbeat = [](std::string_view) -> Result<Heartbeat> { return no_codec("HeartbeatPing/Ack"); },
    .decode_data_message = [](std::string_view) -> Result<DataMessage> { return no_codec("DataMessageStanza"); },
    .encode_data_message = [](const DataMessage&) { return std::string(); },
    .decode_iq_stanza = [](std::string_view) -> Result<IqStanza> { return no_codec("IqStanza"); },
    .encode_selective_ack = [](std::span<const std::string>, std::optional<std::int32_t>) { return std::string(); },
    .encode_stream_ack = [](std::int32_t) { return std::string(); },
    .decode_selective_ack = [](std::string_view) -> Result<std::vector<std::string>> {
      return no_codec("SelectiveAck");
    },
    .decode_stream_error = [](std::string_view) -> Result<std::string> { return no_codec("StreamErrorStanza"); },
    .encode_checkin_request = [](const CheckinParams&) { return std::string(); },
    .decode_checkin_response = [](int, std::string_view) -> Result<DeviceIdentity> {
      return no_codec("AndroidCheckinResponse");
    },
};

const Codec* linked() noexcept { return webpushd_fcm_linked_codec != nullptr ? webpushd_fcm_linked_codec() : nullptr; }

const Codec& codec() noexcept {
  if (const Codec* c = in_use.load(std::memory_order_acquire)) return *c;
  if (const Codec* c = linked()) return *c;
  return kNone;
}

}  // namespace codec_impl

using codec_impl::codec;

void use_codec(const Codec& c) noexcept { codec_impl::in_use.store(&c, std::memory_order_release); }

bool codec_ready() noexcept {
  return codec_impl::in_use.load(std::memory_order_acquire) != nullptr || codec_impl::linked() != nullptr;
}

// ---- messages.h ------------------------------------------------------------------

std::string encode_login_request(const LoginParams& params) { return codec().encode_login_request(params); }
Result<LoginResult> decode_login_response(std::string_view body) { return codec().decode_login_response(body); }
std::string encode_heartbeat(const Heartbeat& heartbeat) { return codec().encode_heartbeat(heartbeat); }
Result<Heartbeat> decode_heartbeat(std::string_view body) { return codec().decode_heartbeat(body); }
Result<DataMessage> decode_data_message(std::string_view body) { return codec().decode_data_message(body); }
std::string encode_data_message(const DataMessage& message) { return codec().encode_data_message(message); }
Result<IqStanza> decode_iq_stanza(std::string_view body) { return codec().decode_iq_stanza(body); }
std::string encode_selective_ack(std::span<const std::string> ids,
                                 std::optional<std::int32_t> last_stream_id_received) {
  return codec().encode_selective_ack(ids, last_stream_id_received);
}
std::string encode_stream_ack(std::int32_t last_stream_id_received) {
  return codec().encode_stream_ack(last_stream_id_received);
}
Result<std::vector<std::string>> decode_selective_ack(std::string_view data) {
  return codec().decode_selective_ack(data);
}
Result<std::string> decode_stream_error(std::string_view body) { return codec().decode_stream_error(body); }

const std::string* DataMessage::app_data_value(std::string_view key) const noexcept {
  for (const auto& [name, value] : app_data) {
    if (name == key) return &value;
  }
  return nullptr;
}

// ---- registration.h: the checkin ------------------------------------------------

std::string encode_checkin_request(const CheckinParams& params) { return codec().encode_checkin_request(params); }
Result<DeviceIdentity> decode_checkin_response(int status, std::string_view body) {
  return codec().decode_checkin_response(status, body);
}

}  // namespace webpush::fcm
