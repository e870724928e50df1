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
  watch->wsi_ =
      lws_adopt_descriptor_vhost(loop.raw_vhost(), LWS_ADOPT_RAW_FILE_DESC, desc, detail::kRawProtocol, nullptr);
  // lws owns (and has closed, on failure) the descriptor from here on.
  (void)fd.release();
  if (watch->wsi_ == nullptr) return fail(Errc::setup, fmt::format("cannot watch descriptor {}", watch->fd_));
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
  if (wsi_ != nullptr) lws_callback_on_writable(wsi_);
}

void FdWatch::dispatch_readable() noexcept {
  if (on_readable_) detail::guarded("descriptor callback", on_readable_);
}

void FdWatch::dispatch_writable() noexcept {
  if (on_writable_) detail::guarded("descriptor callback", on_writable_);
}

}  // namespace webpush::event
