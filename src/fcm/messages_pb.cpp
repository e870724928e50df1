// messages.h's encoders and decoders with protobuf-lite (the codec of codec.h,
// pb_codec.h): built into the module webpushd-fcm.so and into the tests.
#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <limits>
#include <utility>

#include "mcs.pb.h"
#include "pb_codec.h"

namespace webpush::fcm::pb_codec {

// Named rather than anonymous: the unity build merges this file with the
// layer's others, whose anonymous namespaces would then be the same one.
namespace messages_impl {

namespace pb = google::protobuf;

// Parsed without the required-field check (ParsePartial), so that a body that
// is well-formed protobuf but lacks a required field is told apart from one
// that is not protobuf at all: the caller checks the fields by name.
template <class M>
Result<M> parse(std::string_view body, std::string_view name) {
  M message;
  if (body.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
      !message.ParsePartialFromArray(body.data(), static_cast<int>(body.size()))) {
    return fail(Errc::bad_message, fmt::format("{}: not a valid {}-byte protobuf body", name, body.size()));
  }
  return message;
}

tl::unexpected<Error> missing(std::string_view name, std::string_view what) {
  return fail(Errc::missing_field, fmt::format("{}: no {}", name, what));
}

// A proto2 enum value the generated code does not know is kept in the unknown
// fields, and the field itself reads as absent: find it there, so that an
// unknown value is reported as such rather than as a missing field.
std::optional<std::uint64_t> unknown_varint(const std::string& unknown, std::uint32_t field) {
  pb::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(unknown.data()), static_cast<int>(unknown.size()));
  for (std::uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
    if (tag ==
        pb::internal::WireFormatLite::MakeTag(static_cast<int>(field), pb::internal::WireFormatLite::WIRETYPE_VARINT)) {
      std::uint64_t value = 0;
      if (in.ReadVarint64(&value)) return value;
      return std::nullopt;
    }
    if (!pb::internal::WireFormatLite::SkipField(&in, tag)) return std::nullopt;
  }
  return std::nullopt;
}

template <class T>
std::optional<T> optional_of(bool has, T value) {
  return has ? std::optional<T>(value) : std::nullopt;
}

constexpr std::string_view kDataMessage = "DataMessageStanza";

Result<void> read_app_data(const mcs_proto::DataMessageStanza& in, DataMessage& out) {
  if (static_cast<std::size_t>(in.app_data_size()) > kMaxAppDataEntries) {
    return fail(Errc::bad_value, fmt::format("{}: {} app_data entries, over the limit of {}", kDataMessage,
                                             in.app_data_size(), kMaxAppDataEntries));
  }
  out.app_data.reserve(static_cast<std::size_t>(in.app_data_size()));
  for (int i = 0; i < in.app_data_size(); ++i) {
    const mcs_proto::AppData& entry = in.app_data(i);
    if (!entry.has_key()) return missing(kDataMessage, fmt::format("key in app_data {}", i));
    if (!entry.has_value()) return missing(kDataMessage, fmt::format("value in app_data {}", i));
    if (entry.key().size() > kMaxAppDataKeyBytes) {
      return fail(Errc::bad_value, fmt::format("{}: app_data {} key of {} bytes, over the limit of {}", kDataMessage, i,
                                               entry.key().size(), kMaxAppDataKeyBytes));
    }
    out.app_data.emplace_back(entry.key(), entry.value());
  }
  return {};
}

mcs_proto::IqStanza ack_stanza(std::int32_t extension_id, std::string data,
                               std::optional<std::int32_t> last_stream_id_received) {
  mcs_proto::IqStanza iq;
  iq.set_type(mcs_proto::IqStanza::SET);
  iq.set_id("");
  iq.mutable_extension()->set_id(extension_id);
  iq.mutable_extension()->set_data(std::move(data));
  if (last_stream_id_received) iq.set_last_stream_id_received(*last_stream_id_received);
  return iq;
}

}  // namespace messages_impl

using messages_impl::missing;
using messages_impl::optional_of;
using messages_impl::parse;

std::string encode_login_request(const LoginParams& params) {
  const std::string android_id = std::to_string(params.device.android_id);
  mcs_proto::LoginRequest login;
  login.set_id("chrome-" + params.chrome_version);
  login.set_domain("mcs.android.com");
  login.set_user(android_id);
  login.set_resource(android_id);
  login.set_auth_token(std::to_string(params.device.security_token));
  login.set_device_id(fmt::format("android-{:x}", params.device.android_id));
  login.set_auth_service(mcs_proto::LoginRequest::ANDROID_ID);
  login.set_network_type(1);
  login.set_adaptive_heartbeat(false);
  login.set_use_rmq2(true);
  mcs_proto::Setting* setting = login.add_setting();
  setting->set_name("new_vc");
  setting->set_value("1");
  for (const std::string& id : params.received_persistent_ids) login.add_received_persistent_id(id);
  return login.SerializeAsString();
}

Result<LoginResult> decode_login_response(std::string_view body) {
  constexpr std::string_view kName = "LoginResponse";
  auto parsed = parse<mcs_proto::LoginResponse>(body, kName);
  if (!parsed) return tl::unexpected(parsed.error());
  const mcs_proto::LoginResponse& in = *parsed;
  if (!in.has_id()) return missing(kName, "id");
  if (in.has_error() && !in.error().has_code()) return missing(kName, "code in error");
  for (int i = 0; i < in.setting_size(); ++i) {
    if (!in.setting(i).has_name() || !in.setting(i).has_value()) {
      return missing(kName, fmt::format("name or value in setting {}", i));
    }
  }
  if (!in.IsInitialized()) return missing(kName, "id or data in error.extension");
  LoginResult out;
  out.id = in.id();
  if (in.has_error()) {
    out.error = in.error().has_message() ? fmt::format("code {}: {}", in.error().code(), in.error().message())
                                         : fmt::format("code {}", in.error().code());
  }
  if (in.has_heartbeat_config() && in.heartbeat_config().has_interval_ms()) {
    out.heartbeat_interval_ms = in.heartbeat_config().interval_ms();
  }
  out.last_stream_id_received = optional_of(in.has_last_stream_id_received(), in.last_stream_id_received());
  out.server_timestamp_ms = optional_of(in.has_server_timestamp(), in.server_timestamp());
  return out;
}

std::string encode_heartbeat(const Heartbeat& heartbeat) {
  // HeartbeatPing and HeartbeatAck have the same fields and numbers.
  mcs_proto::HeartbeatPing out;
  if (heartbeat.stream_id) out.set_stream_id(*heartbeat.stream_id);
  if (heartbeat.last_stream_id_received) out.set_last_stream_id_received(*heartbeat.last_stream_id_received);
  if (heartbeat.status) out.set_status(*heartbeat.status);
  return out.SerializeAsString();
}

Result<Heartbeat> decode_heartbeat(std::string_view body) {
  auto parsed = parse<mcs_proto::HeartbeatPing>(body, "Heartbeat");
  if (!parsed) return tl::unexpected(parsed.error());
  const mcs_proto::HeartbeatPing& in = *parsed;
  return Heartbeat{
      .stream_id = optional_of(in.has_stream_id(), in.stream_id()),
      .last_stream_id_received = optional_of(in.has_last_stream_id_received(), in.last_stream_id_received()),
      .status = optional_of(in.has_status(), in.status()),
  };
}

Result<DataMessage> decode_data_message(std::string_view body) {
  using messages_impl::kDataMessage;
  auto parsed = parse<mcs_proto::DataMessageStanza>(body, kDataMessage);
  if (!parsed) return tl::unexpected(parsed.error());
  const mcs_proto::DataMessageStanza& in = *parsed;
  if (!in.has_from()) return missing(kDataMessage, "from");
  if (!in.has_category()) return missing(kDataMessage, "category");
  DataMessage out;
  if (auto app_data = messages_impl::read_app_data(in, out); !app_data) return tl::unexpected(app_data.error());
  out.id = in.id();
  out.from = in.from();
  out.to = in.to();
  out.category = in.category();
  out.token = in.token();
  out.reg_id = in.reg_id();
  out.persistent_id = in.persistent_id();
  out.raw_data = optional_of(in.has_raw_data(), in.raw_data());
  out.stream_id = optional_of(in.has_stream_id(), in.stream_id());
  out.last_stream_id_received = optional_of(in.has_last_stream_id_received(), in.last_stream_id_received());
  out.ttl = optional_of(in.has_ttl(), in.ttl());
  out.sent = optional_of(in.has_sent(), in.sent());
  out.immediate_ack = in.immediate_ack();
  return out;
}

std::string encode_data_message(const DataMessage& message) {
  mcs_proto::DataMessageStanza out;
  if (!message.id.empty()) out.set_id(message.id);
  out.set_from(message.from);
  if (!message.to.empty()) out.set_to(message.to);
  out.set_category(message.category);
  if (!message.token.empty()) out.set_token(message.token);
  for (const auto& [key, value] : message.app_data) {
    mcs_proto::AppData* entry = out.add_app_data();
    entry->set_key(key);
    entry->set_value(value);
  }
  if (!message.persistent_id.empty()) out.set_persistent_id(message.persistent_id);
  if (message.stream_id) out.set_stream_id(*message.stream_id);
  if (message.last_stream_id_received) out.set_last_stream_id_received(*message.last_stream_id_received);
  if (!message.reg_id.empty()) out.set_reg_id(message.reg_id);
  if (message.ttl) out.set_ttl(*message.ttl);
  if (message.sent) out.set_sent(*message.sent);
  if (message.raw_data) out.set_raw_data(*message.raw_data);
  if (message.immediate_ack) out.set_immediate_ack(true);
  return out.SerializeAsString();
}

Result<IqStanza> decode_iq_stanza(std::string_view body) {
  constexpr std::string_view kName = "IqStanza";
  auto parsed = parse<mcs_proto::IqStanza>(body, kName);
  if (!parsed) return tl::unexpected(parsed.error());
  const mcs_proto::IqStanza& in = *parsed;
  if (!in.has_type()) {
    if (auto type = messages_impl::unknown_varint(in.unknown_fields(), 2)) {
      return fail(Errc::bad_value, fmt::format("{}: unknown type {}", kName, static_cast<std::int64_t>(*type)));
    }
    return missing(kName, "type");
  }
  if (!in.has_id()) return missing(kName, "id");
  if (in.has_extension() && !in.extension().has_id()) return missing(kName, "id in extension");
  if (in.has_extension() && !in.extension().has_data()) return missing(kName, "data in extension");
  if (in.has_error() && !in.error().has_code()) return missing(kName, "code in error");
  if (!in.IsInitialized()) return missing(kName, "id or data in error.extension");
  IqStanza out;
  out.type = static_cast<IqStanza::Type>(in.type());
  out.id = in.id();
  if (in.has_extension()) {
    out.extension_id = in.extension().id();
    out.extension_data = in.extension().data();
  }
  out.persistent_id = in.persistent_id();
  out.last_stream_id_received = optional_of(in.has_last_stream_id_received(), in.last_stream_id_received());
  return out;
}

std::string encode_selective_ack(std::span<const std::string> ids,
                                 std::optional<std::int32_t> last_stream_id_received) {
  mcs_proto::SelectiveAck ack;
  for (const std::string& id : ids) ack.add_id(id);
  return messages_impl::ack_stanza(kSelectiveAckExtension, ack.SerializeAsString(), last_stream_id_received)
      .SerializeAsString();
}

std::string encode_stream_ack(std::int32_t last_stream_id_received) {
  return messages_impl::ack_stanza(kStreamAckExtension, std::string(), last_stream_id_received).SerializeAsString();
}

Result<std::vector<std::string>> decode_selective_ack(std::string_view data) {
  auto parsed = parse<mcs_proto::SelectiveAck>(data, "SelectiveAck");
  if (!parsed) return tl::unexpected(parsed.error());
  return std::vector<std::string>(parsed->id().begin(), parsed->id().end());
}

Result<std::string> decode_stream_error(std::string_view body) {
  constexpr std::string_view kName = "StreamErrorStanza";
  auto parsed = parse<mcs_proto::StreamErrorStanza>(body, kName);
  if (!parsed) return tl::unexpected(parsed.error());
  if (!parsed->has_type()) return missing(kName, "type");
  if (!parsed->has_text()) return parsed->type();
  return fmt::format("{}: {}", parsed->type(), parsed->text());
}

void add_messages(Codec& codec) noexcept {
  codec.encode_login_request = &encode_login_request;
  codec.decode_login_response = &decode_login_response;
  codec.encode_heartbeat = &encode_heartbeat;
  codec.decode_heartbeat = &decode_heartbeat;
  codec.decode_data_message = &decode_data_message;
  codec.encode_data_message = &encode_data_message;
  codec.decode_iq_stanza = &decode_iq_stanza;
  codec.encode_selective_ack = &encode_selective_ack;
  codec.encode_stream_ack = &encode_stream_ack;
  codec.decode_selective_ack = &decode_selective_ack;
  codec.decode_stream_error = &decode_stream_error;
}

}  // namespace webpush::fcm::pb_codec
