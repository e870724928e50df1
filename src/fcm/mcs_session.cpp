#include "webpush/fcm/mcs_session.h"

#include <algorithm>
#include <limits>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

#include "webpush/core/base64url.h"
#include "webpush/core/bytes.h"

namespace webpush::fcm {

using protocol::BadFrame;
using protocol::DisconnectReason;
using protocol::SessionState;

namespace {

std::string mcs_seconds(Duration d) { return fmt::format("{:.1f} s", static_cast<double>(d.count()) / 1000.0); }

std::string mcs_app_data_or_empty(const DataMessage& message, std::string_view key) {
  const std::string* value = message.app_data_value(key);
  return value ? *value : std::string();
}

bool mcs_all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "stream-<n>-<m>": a version to_deliver made up for a message without a persistent id.
bool mcs_made_up_version(std::string_view id) {
  constexpr std::string_view kPrefix = "stream-";
  if (!id.starts_with(kPrefix)) return false;
  id.remove_prefix(kPrefix.size());
  const std::size_t dash = id.find('-');
  return dash != std::string_view::npos && mcs_all_digits(id.substr(0, dash)) && mcs_all_digits(id.substr(dash + 1));
}

}  // namespace

std::string_view describe_disconnect(DisconnectReason reason) noexcept {
  // protocol::to_string speaks of autopush's hello; MCS has a login.
  switch (reason) {
    case DisconnectReason::hello_timeout: return "login timeout";
    case DisconnectReason::hello_refused: return "login refused";
    case DisconnectReason::ping_timeout: return "heartbeat timeout";
    default: return protocol::to_string(reason);
  }
}

McsSession::McsSession(McsSessionConfig config, DeviceIdentity device, Jitter& jitter)
    : config_(std::move(config)),
      device_(device),
      backoff_(config_.backoff, jitter),
      bad_frames_(config_.max_bad_frames_per_minute),
      heartbeat_interval_(config_.heartbeat_interval) {}

void McsSession::set_unconfirmed(std::vector<std::string> persistent_ids) {
  unconfirmed_.clear();
  for (auto& id : persistent_ids) remember(std::move(id));
}

std::vector<std::string> McsSession::unconfirmed() const { return {unconfirmed_.begin(), unconfirmed_.end()}; }

std::int32_t McsSession::last_stream_id_received() const noexcept {
  // Everything before the first uncommitted message is done: other frames need no ack.
  const std::int64_t committed = inflight_.empty() ? stream_in_ : inflight_.front().stream_id - 1;
  // Saturates: a hostile server must not make the count wrap.
  return static_cast<std::int32_t>(std::min<std::int64_t>(committed, std::numeric_limits<std::int32_t>::max()));
}

void McsSession::remember(std::string id) {
  // An id over the size of a whole LoginRequest could never be presented.
  if (id.empty() || id.size() > kMaxSentMessageBytes || config_.max_unconfirmed == 0) return;
  if (std::find(unconfirmed_.begin(), unconfirmed_.end(), id) != unconfirmed_.end()) return;
  unconfirmed_.push_back(std::move(id));
  // The oldest go first: the server may deliver them again, and the store's
  // dedup on the persistent id recognises them.
  while (unconfirmed_.size() > config_.max_unconfirmed) unconfirmed_.pop_front();
}

void McsSession::set_state(SessionState s, std::string detail, McsActions& out) {
  state_ = s;
  out.push_back(action::StateChanged{s, std::move(detail)});
}

void McsSession::connect_now(Instant now, McsActions& out) {
  reconnect_at_.reset();
  last_seen_ = now;
  set_state(SessionState::connecting, "", out);
  out.push_back(action::Connect{});
}

McsActions McsSession::start(Instant now) {
  McsActions out;
  if (state_ == SessionState::idle || state_ == SessionState::backing_off) connect_now(now, out);
  return out;
}

McsActions McsSession::stop(Instant now) {
  McsActions out;
  last_seen_ = now;
  if (connected() || state_ == SessionState::connecting) out.push_back(action::Close{DisconnectReason::shutdown});
  presented_.clear();
  late_.clear();
  reset_stream();
  ready_at_.reset();
  ping_pending_at_.reset();
  reconnect_at_.reset();
  set_state(SessionState::idle, "stopped", out);
  return out;
}

McsActions McsSession::on_connected(Instant now) {
  McsActions out;
  if (state_ != SessionState::connecting) return out;
  last_seen_ = now;
  ++connections_;
  decoder_ = McsDecoder(McsDecoder::Options{.expect_version = true, .max_frame_size = config_.max_frame_size});
  reset_stream();
  heartbeat_interval_ = config_.heartbeat_interval;
  login_sent_at_ = now.mono;
  ready_at_.reset();
  ping_pending_at_.reset();
  bad_frames_.reset_flood();
  presented_ = ids_to_present();
  late_.clear();
  set_state(SessionState::handshaking,
            presented_.empty() ? "login sent" : fmt::format("login sent with {} stored ids", presented_.size()), out);
  LoginParams params{device_, config_.chrome_version, presented_};
  auto bytes = encode_frame(Tag::login_request, encode_login_request(params), VersionPrefix::with_version);
  if (!bytes) {
    // Only a list far beyond any sane bound gets here; the login would fail anyway.
    fail(DisconnectReason::protocol_violation, now, out, "cannot send the LoginRequest: " + bytes.error().message());
    return out;
  }
  out.push_back(action::Send{std::move(*bytes)});
  return out;
}

void McsSession::fail(DisconnectReason reason, Instant now, McsActions& out, const std::string& detail,
                      Duration min_delay) {
  out.push_back(action::Close{reason});
  schedule_reconnect(reason, now, out, detail, min_delay);
}

void McsSession::schedule_reconnect(DisconnectReason reason, Instant now, McsActions& out, const std::string& detail,
                                    Duration min_delay) {
  ping_pending_at_.reset();
  presented_.clear();  // not confirmed: they stay in the unconfirmed list
  late_.clear();
  // What this connection delivered and the position did not pass stays with
  // the server: a later ack() puts the ids in the unconfirmed list.
  reset_stream();
  std::string why(describe_disconnect(reason));
  if (!detail.empty()) why += ": " + detail;
  // Backoff is reset only for a connection that lived past the reset window
  // after its login: one that is accepted and dropped at once keeps growing it.
  if (ready_at_ && now.mono - *ready_at_ >= config_.reset_window) backoff_.reset();
  ready_at_.reset();
  const Duration delay = std::max(backoff_.next(), min_delay);
  reconnect_at_ = now.mono + delay;
  set_state(SessionState::backing_off, fmt::format("{}; retry in {}", why, mcs_seconds(delay)), out);
}

McsActions McsSession::on_closed(DisconnectReason reason, Instant now) {
  McsActions out;
  last_seen_ = now;
  if (!connected() && state_ != SessionState::connecting) return out;
  schedule_reconnect(reason, now, out, {}, Duration{0});
  return out;
}

McsActions McsSession::on_store_failure(Instant now) {
  McsActions out;
  last_seen_ = now;
  // Unacked messages stay with the server; a new connection gets them again.
  if (connected()) fail(DisconnectReason::store_failure, now, out);
  return out;
}

McsActions McsSession::on_network_change(Instant now) {
  McsActions out;
  last_seen_ = now;
  if (state_ == SessionState::backing_off) {
    connect_now(now, out);  // bypass the wait, once; the backoff count is kept
  } else if (state_ == SessionState::ready && !ping_pending_at_) {
    send_ping(now, out);  // the socket may not have survived the change: probe it now
  }
  return out;
}

void McsSession::send_frame(Tag tag, std::string_view body, McsActions& out) {
  auto bytes = encode_frame(tag, body);
  if (!bytes) {
    out.push_back(action::Warn{fmt::format("MCS: not sending a {}: {}", to_string(tag), bytes.error().message())});
    return;
  }
  out.push_back(action::Send{std::move(*bytes)});
}

void McsSession::send_ping(Instant now, McsActions& out) {
  ping_pending_at_ = now.mono;
  last_ping_boot_ = now.boot;
  send_frame(Tag::heartbeat_ping, encode_heartbeat(Heartbeat{.last_stream_id_received = last_stream_id_received()}),
             out);
}

void McsSession::send_stream_ack(McsActions& out) {
  committed_since_stream_ack_ = 0;
  immediate_committed_ = false;
  send_frame(Tag::iq_stanza, encode_stream_ack(last_stream_id_received()), out);
}

void McsSession::send_selective_ack(std::span<const std::string> ids, McsActions& out) {
  if (ids.empty()) return;
  std::string body = encode_selective_ack(ids, last_stream_id_received());
  if (body.size() <= kMaxSentMessageBytes) {
    send_frame(Tag::iq_stanza, body, out);
    return;
  }
  if (ids.size() == 1) {
    out.push_back(action::Warn{fmt::format(
        "MCS: a persistent id of {} bytes is too long to acknowledge by id; the stream ack covers it", ids[0].size())});
    return;
  }
  // Halving keeps every piece within the limit, measured by the real encoder.
  send_selective_ack(ids.first(ids.size() / 2), out);
  send_selective_ack(ids.subspan(ids.size() / 2), out);
}

std::vector<std::string> McsSession::ids_to_present() const {
  // A repeated field adds each id's bytes on its own, so one id's cost is the
  // growth it causes; the newest that fit go in, an id that would overflow is skipped.
  LoginParams params{device_, config_.chrome_version, {}};
  const std::size_t base = encode_login_request(params).size();
  std::size_t room = kMaxSentMessageBytes > base ? kMaxSentMessageBytes - base : 0;
  std::vector<std::string> newest_first;
  for (auto it = unconfirmed_.rbegin(); it != unconfirmed_.rend() && room > 0; ++it) {
    params.received_persistent_ids.assign(1, *it);
    const std::size_t cost = encode_login_request(params).size() - base;
    if (cost > room) continue;
    room -= cost;
    newest_first.push_back(*it);
  }
  std::vector<std::string> ids(newest_first.rbegin(), newest_first.rend());
  // The whole request, measured: should the costs ever not add up, the oldest go.
  params.received_persistent_ids = ids;
  while (!params.received_persistent_ids.empty() && encode_login_request(params).size() > kMaxSentMessageBytes) {
    params.received_persistent_ids.erase(params.received_persistent_ids.begin());
  }
  return std::move(params.received_persistent_ids);
}

void McsSession::reset_stream() {
  stream_in_ = 0;
  inflight_.clear();
  settlements_.clear();
  committed_since_stream_ack_ = 0;
  immediate_committed_ = false;
}

void McsSession::settle(const std::string& version) {
  auto it = settlements_.find(version);
  if (it != settlements_.end()) it->second.acked = true;
}

bool McsSession::commit_settled() {
  bool moved = false;
  while (!inflight_.empty()) {
    auto it = settlements_.find(inflight_.front().version);
    if (it == settlements_.end() || !it->second.acked) break;
    if (--it->second.count == 0) settlements_.erase(it);
    ++committed_since_stream_ack_;
    immediate_committed_ = immediate_committed_ || inflight_.front().immediate_ack;
    inflight_.pop_front();
    moved = true;
  }
  return moved;
}

McsActions McsSession::ack(std::vector<std::string> persistent_ids, Instant now) {
  McsActions out;
  last_seen_ = now;
  std::erase_if(persistent_ids, [](const std::string& id) { return id.empty(); });
  if (persistent_ids.empty()) return out;
  for (const auto& id : persistent_ids) settle(id);
  // Committed first, so that the selective ack already reports the new position.
  const bool moved = commit_settled();
  std::erase_if(persistent_ids, [](const std::string& id) { return mcs_made_up_version(id); });
  if (state_ == SessionState::ready) {
    send_selective_ack(persistent_ids, out);
    if (moved && (immediate_committed_ || committed_since_stream_ack_ >= config_.stream_ack_every)) {
      send_stream_ack(out);
    }
  } else if (state_ == SessionState::handshaking) {
    for (const auto& id : persistent_ids) {
      const bool known = std::find(presented_.begin(), presented_.end(), id) != presented_.end() ||
                         std::find(late_.begin(), late_.end(), id) != late_.end();
      if (!known) late_.push_back(id);
    }
  }
  for (auto& id : persistent_ids) remember(std::move(id));
  return out;
}

McsActions McsSession::on_bytes(std::string_view bytes, Instant now) {
  McsActions out;
  if (!connected()) return out;
  last_seen_ = now;
  // Any byte proves the link alive, also a large frame still arriving.
  if (!bytes.empty()) ping_pending_at_.reset();
  while (connected()) {
    auto frame = decoder_.next(bytes);
    if (!frame) {
      fail(DisconnectReason::protocol_violation, now, out, frame.error().message());
      break;
    }
    if (!frame->has_value()) break;
    on_frame(std::move(**frame), now, out);
  }
  return out;
}

void McsSession::bad_frame(BadFrame kind, std::string_view detail, Instant now, McsActions& out) {
  auto verdict = bad_frames_.record(kind, detail, now.mono);
  if (verdict.log_line) out.push_back(action::Warn{std::move(*verdict.log_line)});
  if (verdict.too_many) {
    fail(DisconnectReason::protocol_violation, now, out,
         fmt::format("more than {} unusable frames within a minute", config_.max_bad_frames_per_minute));
  }
}

void McsSession::on_frame(Frame frame, Instant now, McsActions& out) {
  ++stream_in_;
  const std::optional<Tag> tag = known_tag(frame.tag);
  if (!tag) {
    bad_frame(BadFrame::unknown_type, fmt::format("MCS tag {}", frame.tag), now, out);
    return;
  }
  const bool ready = state_ == SessionState::ready;
  switch (*tag) {
    case Tag::login_response:
      if (ready) {
        bad_frame(BadFrame::unexpected, "a second LoginResponse", now, out);
      } else {
        on_login_response(frame.body, now, out);
      }
      return;
    case Tag::heartbeat_ping:
    case Tag::heartbeat_ack: on_heartbeat(*tag, frame.body, now, out); return;
    case Tag::close: fail(DisconnectReason::server_close, now, out, "the server sent Close"); return;
    case Tag::stream_error_stanza: on_stream_error(frame.body, now, out); return;
    case Tag::data_message_stanza:
    case Tag::iq_stanza:
      if (!ready) {
        bad_frame(BadFrame::unexpected, fmt::format("a {} before the LoginResponse", to_string(*tag)), now, out);
      } else if (*tag == Tag::data_message_stanza) {
        on_data_message(frame.body, now, out);
      } else {
        on_iq(frame.body, now, out);
      }
      return;
    default:
      bad_frame(BadFrame::unknown_type,
                fmt::format("MCS tag {} ({}), of no use to a receiver", frame.tag, to_string(*tag)), now, out);
      return;
  }
}

void McsSession::on_login_response(std::string_view body, Instant now, McsActions& out) {
  auto login = decode_login_response(body);
  if (!login) {
    bad_frame(BadFrame::malformed, login.error().message(), now, out);
    return;
  }
  if (login->error) {
    fail(DisconnectReason::hello_refused, now, out, *login->error, config_.refused_min_delay);
    return;
  }
  ready_at_ = now.mono;
  last_ping_boot_ = now.boot;
  adopt_heartbeat(login->heartbeat_interval_ms, out);
  const std::size_t confirmed = presented_.size();
  std::string detail = fmt::format("logged in; heartbeat every {}", mcs_seconds(heartbeat_interval_));
  if (confirmed > 0) detail += fmt::format("; {} acknowledgements confirmed", confirmed);
  set_state(SessionState::ready, std::move(detail), out);
  confirm_presented(out);
}

void McsSession::adopt_heartbeat(std::optional<std::int32_t> interval_ms, McsActions& out) {
  if (!interval_ms) return;
  const Duration offered{*interval_ms};
  if (offered >= kMinHeartbeatInterval && offered <= kMaxHeartbeatInterval) {
    heartbeat_interval_ = offered;
    return;
  }
  out.push_back(action::Warn{fmt::format(
      "MCS: the server's heartbeat interval of {} ms is outside [{}, {}]; keeping {}", *interval_ms,
      mcs_seconds(kMinHeartbeatInterval), mcs_seconds(kMaxHeartbeatInterval), mcs_seconds(heartbeat_interval_))});
}

void McsSession::confirm_presented(McsActions& out) {
  const std::unordered_set<std::string> confirmed(presented_.begin(), presented_.end());
  std::erase_if(unconfirmed_, [&](const std::string& id) { return confirmed.contains(id); });
  if (!presented_.empty()) out.push_back(action::AcksConfirmed{std::exchange(presented_, {})});
  // Ids acked after the LoginRequest went out were not in it: acknowledge them now.
  send_selective_ack(std::exchange(late_, {}), out);
}

void McsSession::on_heartbeat(Tag tag, std::string_view body, Instant now, McsActions& out) {
  auto heartbeat = decode_heartbeat(body);
  if (!heartbeat) {
    bad_frame(BadFrame::malformed, heartbeat.error().message(), now, out);
    return;
  }
  // An ack needs nothing more: its bytes already proved the link alive.
  if (tag == Tag::heartbeat_ping) {
    send_frame(Tag::heartbeat_ack, encode_heartbeat(Heartbeat{.last_stream_id_received = last_stream_id_received()}),
               out);
  }
}

action::Deliver McsSession::to_deliver(const DataMessage& message) const {
  action::Deliver d;
  d.persistent_id = message.persistent_id;
  const std::string* subtype = message.app_data_value("subtype");
  d.app_id = subtype && !subtype->empty() ? *subtype : message.category;
  protocol::Notification& n = d.notification;
  n.version =
      message.persistent_id.empty() ? fmt::format("stream-{}-{}", connections_, stream_in_) : message.persistent_id;
  if (message.raw_data) {
    n.data = base64url_encode(as_bytes(*message.raw_data));
    n.headers = protocol::NotificationHeaders{mcs_app_data_or_empty(message, "content-encoding"),
                                              mcs_app_data_or_empty(message, "encryption"),
                                              mcs_app_data_or_empty(message, "crypto-key")};
  }
  return d;
}

void McsSession::on_data_message(std::string_view body, Instant now, McsActions& out) {
  auto message = decode_data_message(body);
  if (!message) {
    bad_frame(BadFrame::malformed, message.error().message(), now, out);
    return;
  }
  action::Deliver deliver = to_deliver(*message);
  // Not committed until ack() names its version: no last_stream_id_received may cover it before.
  inflight_.push_back(Inflight{stream_in_, deliver.notification.version, message->immediate_ack});
  ++settlements_[deliver.notification.version].count;
  out.push_back(std::move(deliver));
}

void McsSession::on_iq(std::string_view body, Instant now, McsActions& out) {
  auto iq = decode_iq_stanza(body);
  if (!iq) {
    bad_frame(BadFrame::malformed, iq.error().message(), now, out);
    return;
  }
  if (iq->extension_id == kStreamAckExtension) {
    ++server_acks_;
  } else if (iq->extension_id == kSelectiveAckExtension) {
    auto ids = decode_selective_ack(iq->extension_data);
    if (!ids) {
      bad_frame(BadFrame::malformed, ids.error().message(), now, out);
      return;
    }
    ++server_acks_;
  }
  // Other IQs (Chromium's account and presence business) mean nothing to a receiver.
}

void McsSession::on_stream_error(std::string_view body, Instant now, McsActions& out) {
  auto text = decode_stream_error(body);
  const std::string what = text ? *text : "(undecodable: " + text.error().message() + ")";
  out.push_back(action::Warn{"MCS: the server reported a stream error: " + what});
  fail(DisconnectReason::protocol_violation, now, out, "stream error " + what);
}

McsActions McsSession::on_timer(Instant now) {
  McsActions out;
  // A boot clock that ran ahead of the monotonic one means we were suspended.
  const Duration lead = (now.boot - last_seen_.boot) - (now.mono - last_seen_.mono);
  const bool resumed = lead > config_.suspend_threshold;
  last_seen_ = now;
  switch (state_) {
    case SessionState::idle:
    case SessionState::connecting:
    case SessionState::paused: break;
    case SessionState::handshaking:
      if (now.mono - login_sent_at_ >= config_.login_timeout) fail(DisconnectReason::hello_timeout, now, out);
      break;
    case SessionState::ready:
      if (ping_pending_at_) {
        if (now.mono - *ping_pending_at_ >= config_.heartbeat_timeout) {
          fail(DisconnectReason::ping_timeout, now, out,
               fmt::format("nothing received within {} of a HeartbeatPing", mcs_seconds(config_.heartbeat_timeout)));
        }
      } else if (resumed || now.boot - last_ping_boot_ >= heartbeat_interval_) {
        send_ping(now, out);
      }
      break;
    case SessionState::backing_off:
      if (reconnect_at_ && now.mono >= *reconnect_at_) connect_now(now, out);
      break;
  }
  return out;
}

std::optional<Duration> McsSession::next_wakeup(Instant now) const {
  std::optional<Duration> wait;
  switch (state_) {
    case SessionState::idle:
    case SessionState::connecting:
    case SessionState::paused: break;
    case SessionState::handshaking: wait = login_sent_at_ + config_.login_timeout - now.mono; break;
    case SessionState::ready:
      wait = ping_pending_at_ ? *ping_pending_at_ + config_.heartbeat_timeout - now.mono
                              : last_ping_boot_ + heartbeat_interval_ - now.boot;
      break;
    case SessionState::backing_off:
      if (reconnect_at_) wait = *reconnect_at_ - now.mono;
      break;
  }
  if (wait && *wait < Duration{0}) wait = Duration{0};
  return wait;
}

}  // namespace webpush::fcm
