// The protobuf-lite codec (codec.h): messages_pb.cpp and checkin_pb.cpp fill
// its table, pb_codec.cpp holds it. Internal to src/fcm: the module
// webpushd-fcm.so hands the table out (codec_module.cpp), the tests link it
// (codec_linked.cpp).
#pragma once

#include "webpush/fcm/codec.h"

namespace webpush::fcm::pb_codec {

/// Sets the members for messages.h's functions (messages_pb.cpp).
void add_messages(Codec& codec) noexcept;
/// Sets the members for registration.h's checkin (checkin_pb.cpp).
void add_checkin(Codec& codec) noexcept;

/// The whole table.
[[nodiscard]] const Codec& table() noexcept;

}  // namespace webpush::fcm::pb_codec
