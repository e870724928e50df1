// The HTTPS exchanges that give a device its identity and a subscription its
// FCM token, and that take them back (docs/fcm.md §1–2): the requests to build
// and the answers to read. The I/O is the caller's (transport::HttpClient);
// this is only the content.
//
//   checkin (protobuf)                   → DeviceIdentity
//   GCM register3 (form)                 → GCM token
//   Firebase installation (JSON)         → installation auth token
//   FCM registration (JSON)              → FCM token
//   FCM registration DELETE (no body)    → done
//   GCM register3 with delete=true       → done
//
// Every answer is hostile: a parser checks the status, bounds every string,
// accepts only printable ASCII tokens and names what was wrong.
//
// Pure: no I/O, no clock, no randomness (callers pass random bytes in); any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "webpush/core/bytes.h"
#include "webpush/core/error.h"
#include "webpush/fcm/errc.h"
#include "webpush/fcm/messages.h"

namespace webpush::fcm {

/// The longest token, id or auth string accepted from a registration answer.
inline constexpr std::size_t kMaxTokenLength = 4096;
/// The largest answer body read: a longer one is refused (a 2xx one as
/// Errc::bad_response), and only its start is quoted in an error.
inline constexpr std::size_t kMaxAnswerSize = std::size_t{64} << 10;

// ---- checkin ------------------------------------------------------------------

struct CheckinParams {
  /// The stored identity, for a re-checkin; nullopt for the first one.
  std::optional<DeviceIdentity> known;
  std::string chrome_version{kChromeVersion};
};

/// A serialized AndroidCheckinRequest: checkin {type DEVICE_CHROME_BROWSER,
/// chrome_build {PLATFORM_LINUX, chrome_version, CHANNEL_STABLE}}, version 3,
/// user_serial_number 0, and id/security_token when known.
[[nodiscard]] std::string encode_checkin_request(const CheckinParams& params);

/// Reads an AndroidCheckinResponse. `status` is the HTTP status.
/// Errors: Errc::refused (status not 2xx), Errc::bad_message, Errc::missing_field
/// (stats_ok, android_id, security_token, a setting's name or value),
/// Errc::bad_value (a zero id or token).
Result<DeviceIdentity> decode_checkin_response(int status, std::string_view body);

// ---- GCM register3 --------------------------------------------------------------

struct GcmRegisterParams {
  DeviceIdentity device;
  std::string app_id;  ///< X-subtype: unique per subscription ("wp:<name>#<uuid>")
  std::string sender;  ///< the application server key (base64url), or the default
};

/// The application/x-www-form-urlencoded body: app=org.chromium.linux,
/// X-subtype, device, sender (each form-encoded).
[[nodiscard]] std::string encode_gcm_register_form(const GcmRegisterParams& params);
/// The Authorization header's value: "AidLogin <android id>:<security token>".
[[nodiscard]] std::string gcm_register_authorization(const DeviceIdentity& device);
/// Reads "token=<token>" (a trailing line break allowed). Errors: Errc::refused
/// ("Error=<value>" or a non-2xx status, the value in the message),
/// Errc::bad_value (a token not 1 to kMaxTokenLength printable ASCII
/// characters, 0x21-0x7e), Errc::bad_response (anything else).
Result<std::string> decode_gcm_register_response(int status, std::string_view body);

/// The sender key used when the subscription has no application server key (the
/// key Chrome and the Firebase JS SDK use by default).
[[nodiscard]] std::string_view default_sender_key() noexcept;

/// The body that takes a registration back: the registration's form
/// (encode_gcm_register_form) and delete=true. Sent to register3 with the same
/// Authorization and Content-Type.
[[nodiscard]] std::string encode_gcm_unregister_form(const GcmRegisterParams& params);
/// Reads "deleted=<app id>" (a trailing line break allowed), which must name
/// `app_id`, the X-subtype sent. Errors: Errc::refused ("Error=<value>" or a
/// non-2xx status, the value in the message), Errc::bad_value (another app id
/// deleted), Errc::bad_response (anything else).
Result<void> decode_gcm_unregister_response(int status, std::string_view body, std::string_view app_id);

// ---- Firebase installation ---------------------------------------------------------

/// The request's authVersion and sdkVersion (those of the Firebase JS SDK).
inline constexpr std::string_view kFirebaseAuthVersion = "FIS_v2";
inline constexpr std::string_view kFirebaseSdkVersion = "w:0.6.6";

/// What the user creates in the Firebase console (README "Receiving from Chrome's push service").
struct FirebaseApp {
  std::string project_id;
  std::string app_id;  ///< "1:<sender id>:web:<hex>"
  std::string api_key;
};

/// A Firebase installation id from 17 random bytes: the first 4 bits set to
/// 0111, base64url, cut to 22 characters (matches /^[cdef][\w-]{21}$/).
/// Errors: Errc::bad_value when `random17` is not 17 bytes.
Result<std::string> make_installation_id(ByteView random17);
/// The JSON body of the installation request: {appId, authVersion, fid, sdkVersion}.
[[nodiscard]] std::string encode_installation_request(const FirebaseApp& app, std::string_view fid);

struct Installation {
  std::string fid;
  std::string refresh_token;
  std::string auth_token;
  std::int64_t expires_in_s = 0;  ///< from "604800s"
};

/// Errors: Errc::refused (non-2xx or an "error" object, with Google's error
/// message if the body has one), Errc::bad_response (not JSON, a field missing
/// or of the wrong type), Errc::bad_value (fid, refreshToken or
/// authToken.token not 1 to kMaxTokenLength printable ASCII characters, an
/// expiresIn not "<whole seconds>s").
Result<Installation> decode_installation_response(int status, std::string_view body);

// ---- FCM registration ---------------------------------------------------------------

struct FcmRegistrationParams {
  std::string endpoint;                            ///< "<send base>/<GCM token>"
  std::string p256dh;                              ///< the subscription's public key, base64url
  std::string auth;                                ///< its auth secret, base64url
  std::optional<std::string> application_pub_key;  ///< only when not the default key
};

/// The JSON body {"web": {endpoint, p256dh, auth[, applicationPubKey]}}.
[[nodiscard]] std::string encode_fcm_registration_request(const FcmRegistrationParams& params);
/// The answer's "token". Errors: Errc::refused (non-2xx or an "error" object,
/// its message quoted), Errc::bad_response (not JSON, no "token" string),
/// Errc::bad_value (a token not 1 to kMaxTokenLength printable ASCII characters).
Result<std::string> decode_fcm_registration_response(int status, std::string_view body);

/// The URL a DELETE takes an FCM registration back with:
/// "<registrations base>/projects/<project id>/registrations/<FCM token>", the
/// project id and the token percent-encoded where they hold more than a path
/// segment may (a token is "<id>:<rest>"; its ':' stays). The request carries
/// the same x-goog-api-key and x-goog-firebase-installations-auth headers as
/// the registration, and no body.
[[nodiscard]] std::string fcm_unregistration_url(std::string_view registrations_base, std::string_view project_id,
                                                 std::string_view fcm_token);
/// Reads the DELETE's answer: any 2xx with an empty body or a JSON object
/// without "error" (Google answers "{}"). Errors: Errc::refused (non-2xx or an
/// "error" object, its message quoted), Errc::bad_response (a 2xx body that is
/// not a JSON object, or over kMaxAnswerSize).
Result<void> decode_fcm_unregistration_response(int status, std::string_view body);

}  // namespace webpush::fcm
