#include "webpush/event/fd_watch.h"

#include <fmt/format.h>
#include <libwebsockets.h>

#include "internal.h"

namespace webpush::event {

Result<std::unique_ptr<FdWatch>> FdWatch::create(EventLoop& loop, UniqueFd fd, std::function<void()> on_readable,
                                                 std::function<void()> on_writable) {
  std::unique_ptr<FdWatch> watch(new FdWatch());
  watch->on_readable_ = std::move(on_readable);
  watch->on_writable_ = std::move(on_writable);
  watch->fd_ = fd.get();
  lws_sock_file_fd_type desc{};
  desc.filefd = fd.get();
  watch->loop_ = &loop;
  watch->wsi_ =
      lws_adopt_descriptor_vhost(loop.raw_vhost(), LWS_ADOPT_RAW_FILE_DESC, desc, detail::kRawProtocol, nullptr);
  // On failure lws leaves a raw file open: `fd` still owns it and closes it.
  if (watch->wsi_ == nullptr) return fail(Errc::setup, fmt::format("cannot watch descriptor {}", watch->fd_));
  (void)fd.release();  // lws owns it now, and closes it with the wsi
  lws_set_opaque_user_data(watch->wsi_, watch.get());
  return watch;
}

FdWatch::~FdWatch() {
  if (wsi_ != nullptr) {
    // Detach first so that no callback reaches a dying object; lws closes the
    // descriptor with the wsi, asynchronously, because the owner may be
    // destroying this watch from inside its own callback.
    lws_set_opaque_user_data(wsi_, nullptr);
    lws_set_timeout(wsi_, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
  }
}

void FdWatch::want_writable() {
  if (wsi_ == nullptr) return;
  if (!in_writable_) {
    lws_callback_on_writable(wsi_);
    return;
  }
  // Asked from on_writable: lws clears the request when that callback returns,
  // so ask again on a later turn.
  loop_->defer([alive = std::weak_ptr<bool>(alive_), this] {
    if (!alive.expired() && wsi_ != nullptr) lws_callback_on_writable(wsi_);
  });
}

void FdWatch::hung_up() noexcept {
  // lws closes a raw descriptor when the other end hangs up; the owner reads
  // what is left and sees end-of-file first. The wsi is being freed: forget it
  // before the owner runs (it may destroy this watch).
  wsi_ = nullptr;
  const std::weak_ptr<bool> alive = alive_;
  dispatch_readable();
  if (!alive.expired()) fd_ = -1;
}

void FdWatch::dispatch_readable() noexcept {
  if (on_readable_) detail::guarded("descriptor callback", on_readable_);
}

void FdWatch::dispatch_writable() noexcept {
  if (!on_writable_) return;
  in_writable_ = true;
  const std::weak_ptr<bool> alive = alive_;
  detail::guarded("descriptor callback", on_writable_);
  if (!alive.expired()) in_writable_ = false;
}

}  // namespace webpush::event
