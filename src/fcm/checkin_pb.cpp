// The checkin half of registration.h with protobuf-lite (AndroidCheckinRequest /
// AndroidCheckinResponse), part of the codec of codec.h (pb_codec.h).
#include <fmt/format.h>

#include <limits>

#include "android_checkin.pb.h"
#include "checkin.pb.h"
#include "pb_codec.h"

namespace webpush::fcm::pb_codec {

std::string encode_checkin_request(const CheckinParams& params) {
  checkin_proto::AndroidCheckinRequest request;
  checkin_proto::AndroidCheckinProto* checkin = request.mutable_checkin();
  checkin->set_type(checkin_proto::DEVICE_CHROME_BROWSER);
  checkin_proto::ChromeBuildProto* build = checkin->mutable_chrome_build();
  build->set_platform(checkin_proto::ChromeBuildProto::PLATFORM_LINUX);
  build->set_chrome_version(params.chrome_version);
  build->set_channel(checkin_proto::ChromeBuildProto::CHANNEL_STABLE);
  request.set_version(3);
  request.set_user_serial_number(0);
  if (params.known) {
    // The id is an int64 on the wire and an unsigned number everywhere else:
    // the same 64 bits either way.
    request.set_id(static_cast<std::int64_t>(params.known->android_id));
    request.set_security_token(params.known->security_token);
  }
  return request.SerializeAsString();
}

Result<DeviceIdentity> decode_checkin_response(int status, std::string_view body) {
  if (status < 200 || status > 299) return fail(Errc::refused, fmt::format("checkin: HTTP status {}", status));
  checkin_proto::AndroidCheckinResponse response;
  // ParsePartial: a missing required field is reported by name below, not as
  // a body that does not parse.
  if (body.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
      !response.ParsePartialFromArray(body.data(), static_cast<int>(body.size()))) {
    return fail(Errc::bad_message,
                fmt::format("checkin: the {}-byte answer is not an AndroidCheckinResponse", body.size()));
  }
  if (!response.has_stats_ok()) return fail(Errc::missing_field, "checkin: AndroidCheckinResponse has no stats_ok");
  if (!response.has_android_id()) return fail(Errc::missing_field, "checkin: AndroidCheckinResponse has no android_id");
  if (!response.has_security_token()) {
    return fail(Errc::missing_field, "checkin: AndroidCheckinResponse has no security_token");
  }
  if (!response.IsInitialized()) {
    return fail(Errc::missing_field, "checkin: AndroidCheckinResponse has a setting without its name or value");
  }
  if (response.android_id() == 0) return fail(Errc::bad_value, "checkin: AndroidCheckinResponse android_id is 0");
  if (response.security_token() == 0) {
    return fail(Errc::bad_value, "checkin: AndroidCheckinResponse security_token is 0");
  }
  return DeviceIdentity{.android_id = response.android_id(), .security_token = response.security_token()};
}

void add_checkin(Codec& codec) noexcept {
  codec.encode_checkin_request = &encode_checkin_request;
  codec.decode_checkin_response = &decode_checkin_response;
}

}  // namespace webpush::fcm::pb_codec
