#include "webpush/protocol/session.h"

#include <algorithm>

#include <fmt/format.h>

#include "webpush/core/url.h"

namespace webpush::protocol {

std::string_view to_string(DisconnectReason r) noexcept {
  switch (r) {
    case DisconnectReason::server_close: return "server closed the connection";
    case DisconnectReason::ping_timeout: return "ping timeout";
    case DisconnectReason::hello_timeout: return "hello timeout";
    case DisconnectReason::request_timeout: return "request timeout";
    case DisconnectReason::protocol_violation: return "protocol violation";
    case DisconnectReason::hello_refused: return "hello refused";
    case DisconnectReason::tls_error: return "TLS error";
    case DisconnectReason::dns_failure: return "DNS failure";
    case DisconnectReason::connect_refused: return "connection refused or unreachable";
    case DisconnectReason::connect_timeout: return "connect timeout";
    case DisconnectReason::io_error: return "I/O error";
    case DisconnectReason::network_change: return "network change";
    case DisconnectReason::periodic_refresh: return "periodic refresh";
    case DisconnectReason::store_failure: return "store failure";
    case DisconnectReason::shutdown: return "shutdown";
  }
  return "unknown";
}

std::string_view to_string(SessionState s) noexcept {
  switch (s) {
    case SessionState::idle: return "idle";
    case SessionState::connecting: return "connecting";
    case SessionState::handshaking: return "handshaking";
    case SessionState::ready: return "connected";
    case SessionState::backing_off: return "reconnecting";
    case SessionState::paused: return "paused";
  }
  return "unknown";
}

namespace {

constexpr int kBackoffCloseCode = 4774;

std::string seconds(Duration d) { return fmt::format("{:.1f} s", static_cast<double>(d.count()) / 1000.0); }

}  // namespace

Session::Session(SessionConfig config, Jitter& jitter, std::function<Result<std::string>()> new_channel_id)
    : config_(config),
      backoff_(config.backoff, jitter),
      bad_frames_(config.max_bad_frames_per_minute),
      new_channel_id_(std::move(new_channel_id)) {}

void Session::set_identity(std::optional<std::string> uaid, bool has_subscriptions) {
  uaid_ = std::move(uaid);
  has_subscriptions_ = has_subscriptions;
}

void Session::set_state(SessionState s, std::string detail, Actions& out) {
  state_ = s;
  out.push_back(action::StateChanged{s, std::move(detail)});
}

void Session::connect_now(Instant now, Actions& out) {
  reconnect_at_.reset();
  paused_until_.reset();
  last_seen_ = now;
  set_state(SessionState::connecting, "", out);
  out.push_back(action::Connect{});
}

Actions Session::start(Instant now) {
  Actions out;
  if (state_ == SessionState::idle || state_ == SessionState::backing_off || state_ == SessionState::paused) {
    connect_now(now, out);
  }
  return out;
}

Actions Session::stop(Instant now) {
  Actions out;
  last_seen_ = now;
  if (connected() || state_ == SessionState::connecting) out.push_back(action::Close{DisconnectReason::shutdown});
  fail_pending_requests("the connection is shutting down", /*retryable_socket_loss=*/true, out);
  reconnect_at_.reset();
  paused_until_.reset();
  set_state(SessionState::idle, "stopped", out);
  return out;
}

Actions Session::on_connected(Instant now) {
  Actions out;
  if (state_ != SessionState::connecting) return out;
  last_seen_ = now;
  connected_at_ = now.mono;
  hello_sent_at_ = now.mono;
  hello_at_.reset();
  ping_sent_at_.reset();
  last_rx_boot_ = now.boot;
  bad_frames_.reset_flood();
  set_state(SessionState::handshaking, "", out);
  // Firefox sends the uaid only while it holds subscriptions, so that a client
  // without any gets a fresh one each time (docs/protocol.md §1.4).
  Hello hello;
  if (has_subscriptions_) hello.uaid = uaid_;
  out.push_back(action::Send{serialize(ClientMessage{std::move(hello)})});
  return out;
}

void Session::fail(DisconnectReason reason, Instant now, Actions& out, std::string detail) {
  out.push_back(action::Close{reason});
  schedule_reconnect(reason, 0, now, out, detail);
}

void Session::schedule_reconnect(DisconnectReason reason, int close_code, Instant now, Actions& out,
                                 const std::string& detail) {
  // Sent requests go back to the queue; they are sent again after the next hello.
  for (auto& p : pending_) p.sent_at.reset();
  ping_sent_at_.reset();
  std::string why(to_string(reason));
  if (close_code != 0) why += fmt::format(" (code {})", close_code);
  if (!detail.empty()) why += ": " + detail;

  if (close_code == kBackoffCloseCode) {
    hello_at_.reset();
    paused_until_ = now.mono + config_.pause_after_4774;
    set_state(SessionState::paused,
              fmt::format("{}; the service asked not to reconnect: waiting for a network change, new work or {}", why,
                          seconds(config_.pause_after_4774)),
              out);
    return;
  }
  // Backoff is reset only for a connection that lived past the reset window
  // after its hello: one that is accepted and dropped at once keeps growing it.
  if (hello_at_ && now.mono - *hello_at_ >= config_.reset_window) backoff_.reset();
  hello_at_.reset();
  const Duration delay = backoff_.next();
  reconnect_at_ = now.mono + delay;
  set_state(SessionState::backing_off, fmt::format("{}; retry in {}", why, seconds(delay)), out);
}

Actions Session::on_store_failure(Instant now) {
  Actions out;
  last_seen_ = now;
  // Unacked messages stay with the service; a new connection gets them again.
  if (connected()) fail(DisconnectReason::store_failure, now, out);
  return out;
}

Actions Session::on_closed(DisconnectReason reason, int close_code, Instant now) {
  Actions out;
  last_seen_ = now;
  if (!connected() && state_ != SessionState::connecting) return out;
  schedule_reconnect(reason, close_code, now, out);
  return out;
}

bool Session::note_inbound(Instant now) {
  if (!connected()) return false;
  last_seen_ = now;
  // Any inbound frame proves the link is alive, a bad one included.
  last_rx_boot_ = now.boot;
  ping_sent_at_.reset();
  return true;
}

Actions Session::on_frame(std::string_view frame, Instant now) {
  Actions out;
  if (!note_inbound(now)) return out;
  auto parsed = parse_server_message(frame);
  if (!parsed) {
    const bool unparsable = parsed.error().is(Errc::not_json);
    bad_frame(unparsable ? BadFrame::unparsable : BadFrame::malformed, parsed.error().message(), now, out);
    return out;
  }
  on_message(std::move(*parsed), now, out);
  return out;
}

Actions Session::on_oversized_frame(std::size_t bytes, Instant now) {
  Actions out;
  if (!note_inbound(now)) return out;
  bad_frame(BadFrame::oversized, fmt::format("{} bytes or more", bytes), now, out);
  return out;
}

void Session::bad_frame(BadFrame kind, std::string_view detail, Instant now, Actions& out) {
  auto verdict = bad_frames_.record(kind, detail, now.mono);
  if (verdict.log_line) out.push_back(action::Warn{std::move(*verdict.log_line)});
  if (verdict.too_many) {
    fail(DisconnectReason::protocol_violation, now, out,
         fmt::format("more than {} unusable frames within a minute", config_.max_bad_frames_per_minute));
  }
}

void Session::on_message(ServerMessage message, Instant now, Actions& out) {
  const bool ready = state_ == SessionState::ready;
  std::visit(
      [&](auto&& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, HelloReply>) {
          if (state_ == SessionState::handshaking) {
            on_hello(std::move(m), now, out);
          } else {
            on_hello_mid_session(m, now, out);
          }
        } else if constexpr (std::is_same_v<T, RegisterReply>) {
          if (ready) {
            on_register(m, now, out);
          } else {
            bad_frame(BadFrame::unexpected, "a register reply before the hello reply", now, out);
          }
        } else if constexpr (std::is_same_v<T, UnregisterReply>) {
          if (ready) {
            on_unregister(m, out);
          } else {
            bad_frame(BadFrame::unexpected, "an unregister reply before the hello reply", now, out);
          }
        } else if constexpr (std::is_same_v<T, Notification>) {
          if (ready) {
            out.push_back(action::Notify{std::move(m)});
          } else {
            bad_frame(BadFrame::unexpected, "a notification before the hello reply", now, out);
          }
        } else if constexpr (std::is_same_v<T, UnknownMessage>) {
          bad_frame(BadFrame::unknown_type, fmt::format("\"{}\"", m.message_type), now, out);
        }
        // Pongs and broadcasts need nothing more.
      },
      std::move(message));
}

void Session::on_hello_mid_session(const HelloReply& reply, Instant now, Actions& out) {
  // A repeated reply for the same uaid changes nothing; one for another uaid
  // would leave the subscriptions bound to an identity the service dropped.
  if (uaid_ && reply.uaid == *uaid_) {
    bad_frame(BadFrame::unexpected, "a second hello reply", now, out);
    return;
  }
  fail(DisconnectReason::protocol_violation, now, out, "a hello reply with a different uaid mid-session");
}

void Session::on_hello(HelloReply reply, Instant now, Actions& out) {
  if (reply.status != 200) {
    fail(DisconnectReason::hello_refused, now, out);
    return;
  }
  std::optional<std::string> previous = uaid_;
  const bool changed = !previous || *previous != reply.uaid;
  const bool lost = has_subscriptions_ && changed;
  uaid_ = reply.uaid;
  hello_at_ = now.mono;
  set_state(SessionState::ready, fmt::format("uaid {}", reply.uaid), out);
  out.push_back(action::UaidAssigned{reply.uaid, std::move(previous), lost});
  if (lost) has_subscriptions_ = false;  // the daemon re-registers them
  for (auto& p : pending_) {
    if (!p.sent_at) send_request(p, now, out);
  }
}

void Session::send_request(Pending& p, Instant now, Actions& out) {
  p.sent_at = now.mono;
  if (p.is_register) {
    out.push_back(action::Send{serialize(ClientMessage{Register{p.channel_id, p.key}})});
  } else {
    out.push_back(action::Send{serialize(ClientMessage{Unregister{p.channel_id, p.code}})});
  }
}

void Session::on_register(const RegisterReply& reply, Instant now, Actions& out) {
  const auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
    return p.is_register && p.sent_at && p.channel_id == reply.channel_id;
  });
  if (it == pending_.end()) return;  // a reply to a request we gave up on
  const RequestId id = it->id;
  if (reply.status == 200) {
    auto url = parse_url(reply.push_endpoint);
    if (!url || !(url->scheme == "https" || url->scheme == "http")) {
      pending_.erase(it);
      out.push_back(action::RegisterFailed{
          id,
          fmt::format("the push service answered 200 with an endpoint that is not an http(s) URL: {}",
                      url ? reply.push_endpoint.substr(0, 80) : url.error().message()),
          false});
      return;
    }
    const std::string channel_id = it->channel_id;
    pending_.erase(it);
    has_subscriptions_ = true;
    out.push_back(action::RegisterOk{id, channel_id, reply.push_endpoint});
    return;
  }
  if (reply.status == 409 && !it->retried) {
    // The channel ID is taken by another user agent: pick a fresh one, once.
    auto fresh = new_channel_id_();
    if (fresh) {
      it->retried = true;
      it->channel_id = std::move(*fresh);
      send_request(*it, now, out);
      return;
    }
    pending_.erase(it);
    out.push_back(action::RegisterFailed{
        id, "the channel ID was taken and no fresh one could be drawn: " + fresh.error().message(), true});
    return;
  }
  pending_.erase(it);
  if (reply.status == 400) {
    out.push_back(action::RegisterFailed{
        id, fmt::format("the push service refused the registration (400): {}", reply.push_endpoint.substr(0, 200)),
        false});
  } else {
    out.push_back(
        action::RegisterFailed{id, fmt::format("the push service failed the registration ({})", reply.status), true});
  }
}

void Session::on_unregister(const UnregisterReply& reply, Actions& out) {
  const auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
    return !p.is_register && p.sent_at && p.channel_id == reply.channel_id;
  });
  if (it == pending_.end()) return;
  out.push_back(action::UnregisterDone{it->id, it->channel_id, reply.status == 200});
  pending_.erase(it);
}

void Session::fail_pending_requests(const std::string& why, bool retryable_socket_loss, Actions& out) {
  for (const auto& p : pending_) {
    if (p.is_register) {
      out.push_back(action::RegisterFailed{p.id, why, retryable_socket_loss});
    } else {
      out.push_back(action::UnregisterDone{p.id, p.channel_id, false});
    }
  }
  pending_.clear();
}

Actions Session::request_register(RequestId id, std::string channel_id, std::optional<std::string> key, Instant now) {
  Actions out;
  pending_.push_back(Pending{id, true, std::move(channel_id), std::move(key), 0, false, std::nullopt});
  if (state_ == SessionState::ready) {
    send_request(pending_.back(), now, out);
  } else if (state_ == SessionState::backing_off || state_ == SessionState::paused) {
    connect_now(now, out);  // new work needs the socket: skip the wait
  }
  return out;
}

Actions Session::request_unregister(RequestId id, std::string channel_id, int code, Instant now) {
  Actions out;
  pending_.push_back(Pending{id, false, std::move(channel_id), std::nullopt, code, false, std::nullopt});
  if (state_ == SessionState::ready) {
    send_request(pending_.back(), now, out);
  } else if (state_ == SessionState::backing_off || state_ == SessionState::paused) {
    connect_now(now, out);
  }
  return out;
}

Actions Session::ack(std::string channel_id, std::string version, AckCode code, Instant now) {
  Actions out;
  last_seen_ = now;
  // Acks are connection-scoped: after a reconnect the service redelivers, and
  // the inbox recognises the message.
  if (state_ != SessionState::ready) return out;
  out.push_back(action::Send{
      serialize(ClientMessage{Ack{{AckUpdate{std::move(channel_id), std::move(version), static_cast<int>(code)}}}})});
  return out;
}

Actions Session::on_network_change(Instant now) {
  Actions out;
  last_seen_ = now;
  if (state_ == SessionState::backing_off || state_ == SessionState::paused) {
    connect_now(now, out);  // bypass the wait, once; the backoff count is kept
  } else if (state_ == SessionState::ready && !ping_sent_at_) {
    // The socket may not have survived the change: probe it now.
    ping_sent_at_ = now.mono;
    out.push_back(action::Send{serialize(ClientMessage{Ping{}})});
  }
  return out;
}

Actions Session::on_timer(Instant now) {
  Actions out;
  // A boot clock that ran ahead of the monotonic one means we were suspended.
  const Duration lead = (now.boot - last_seen_.boot) - (now.mono - last_seen_.mono);
  const bool resumed = lead > config_.suspend_threshold;
  last_seen_ = now;

  switch (state_) {
    case SessionState::idle:
    case SessionState::connecting: break;
    case SessionState::handshaking:
      if (now.mono - hello_sent_at_ >= config_.request_timeout) fail(DisconnectReason::hello_timeout, now, out);
      break;
    case SessionState::ready: {
      if (ping_sent_at_ && now.mono - *ping_sent_at_ >= config_.pong_timeout) {
        fail(DisconnectReason::ping_timeout, now, out);
        break;
      }
      const auto late = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
        return p.sent_at && now.mono - *p.sent_at >= config_.request_timeout;
      });
      if (late != pending_.end()) {
        // As Firefox: the late request and every later one fail, and the socket
        // is considered dead.
        for (auto it = late; it != pending_.end(); ++it) {
          if (it->is_register) {
            out.push_back(
                action::RegisterFailed{it->id, "the push service did not answer the registration in time", true});
          } else {
            out.push_back(action::UnregisterDone{it->id, it->channel_id, false});
          }
        }
        pending_.erase(late, pending_.end());
        fail(DisconnectReason::request_timeout, now, out);
        break;
      }
      if (pending_.empty() && now.mono - connected_at_ >= config_.max_connection_age) {
        // Reconnect now (no backoff) so the service refreshes the uaid record.
        out.push_back(action::Close{DisconnectReason::periodic_refresh});
        hello_at_.reset();
        connect_now(now, out);
        break;
      }
      if (!ping_sent_at_ && (resumed || now.boot - last_rx_boot_ >= config_.ping_interval)) {
        ping_sent_at_ = now.mono;
        out.push_back(action::Send{serialize(ClientMessage{Ping{}})});
      }
      break;
    }
    case SessionState::backing_off:
      if (reconnect_at_ && now.mono >= *reconnect_at_) connect_now(now, out);
      break;
    case SessionState::paused:
      if (paused_until_ && now.mono >= *paused_until_) connect_now(now, out);
      break;
  }
  return out;
}

std::optional<Duration> Session::next_wakeup(Instant now) const {
  std::optional<Duration> best;
  auto consider = [&](Duration d) { best = best ? std::min(*best, d) : d; };
  switch (state_) {
    case SessionState::idle:
    case SessionState::connecting: break;
    case SessionState::handshaking: consider(hello_sent_at_ + config_.request_timeout - now.mono); break;
    case SessionState::ready:
      if (ping_sent_at_) {
        consider(*ping_sent_at_ + config_.pong_timeout - now.mono);
      } else {
        consider(last_rx_boot_ + config_.ping_interval - now.boot);
      }
      for (const auto& p : pending_) {
        if (p.sent_at) consider(*p.sent_at + config_.request_timeout - now.mono);
      }
      consider(connected_at_ + config_.max_connection_age - now.mono);
      break;
    case SessionState::backing_off:
      if (reconnect_at_) consider(*reconnect_at_ - now.mono);
      break;
    case SessionState::paused:
      if (paused_until_) consider(*paused_until_ - now.mono);
      break;
  }
  if (best && *best < Duration{0}) best = Duration{0};
  return best;
}

}  // namespace webpush::protocol
