// The protobuf side of the layer behind one table of functions: the bodies of
// messages.h and the checkin of registration.h. libprotobuf-lite is then mapped
// into a program only when it uses FCM: the daemon loads the table from the
// module webpushd-fcm.so when its FCM link starts (daemon/fcm_codec_loader),
// and the tests and fuzzers link it in (src/fcm/codec_linked.cpp).
//
// Until a table is in use, the encoders return empty bodies and the decoders
// fail with Errc::no_codec.
//
// Thread: use_codec() once, before the first encode or decode; then any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "webpush/core/error.h"
#include "webpush/fcm/messages.h"
#include "webpush/fcm/registration.h"

namespace webpush::fcm {

/// One implementation of every protobuf encoder and decoder of the layer; the
/// members are the functions of messages.h and registration.h of the same names.
struct Codec {
  std::string (*encode_login_request)(const LoginParams&);
  Result<LoginResult> (*decode_login_response)(std::string_view);
  std::string (*encode_heartbeat)(const Heartbeat&);
  Result<Heartbeat> (*decode_heartbeat)(std::string_view);
  Result<DataMessage> (*decode_data_message)(std::string_view);
  std::string (*encode_data_message)(const DataMessage&);
  Result<IqStanza> (*decode_iq_stanza)(std::string_view);
  std::string (*encode_selective_ack)(std::span<const std::string>, std::optional<std::int32_t>);
  std::string (*encode_stream_ack)(std::int32_t);
  Result<std::vector<std::string>> (*decode_selective_ack)(std::string_view);
  Result<std::string> (*decode_stream_error)(std::string_view);
  std::string (*encode_checkin_request)(const CheckinParams&);
  Result<DeviceIdentity> (*decode_checkin_response)(int, std::string_view);
};

/// Makes `codec` the one in use; it must outlive every later call.
void use_codec(const Codec& codec) noexcept;

/// Whether a codec is in use (one linked into the program counts).
[[nodiscard]] bool codec_ready() noexcept;

/// The table's layout version: raised whenever a member, or a type a member
/// takes or gives, changes.
inline constexpr int kCodecTableVersion = 1;

/// What the daemon and the module must agree on: the build version, the
/// table's layout version and its size ("0.1.0/codec1/104").
[[nodiscard]] inline std::string codec_abi(std::string_view build_version) {
  return std::string(build_version) + "/codec" + std::to_string(kCodecTableVersion) + "/" +
         std::to_string(sizeof(Codec));
}

/// The module's entry point, found with dlsym(kCodecModuleEntry): its codec,
/// or nullptr when `abi` is not its own codec_abi().
using CodecModuleEntry = const Codec* (*)(const char* abi);
inline constexpr const char* kCodecModuleEntry = "webpushd_fcm_codec";

}  // namespace webpush::fcm
