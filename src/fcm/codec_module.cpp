// The module webpushd-fcm.so: the protobuf-lite codec (pb_codec.h) and
// libprotobuf-lite, mapped only into a daemon that runs FCM. Its one export is
// the entry point of codec.h.
#include <string_view>

#include "pb_codec.h"
#include "webpushd_version.h"

extern "C" __attribute__((visibility("default"))) const webpush::fcm::Codec* webpushd_fcm_codec(const char* abi) {
  // A module of another build may disagree on every type in the table.
  if (abi == nullptr || std::string_view(abi) != webpush::fcm::codec_abi(WEBPUSHD_VERSION)) return nullptr;
  return &webpush::fcm::pb_codec::table();
}
