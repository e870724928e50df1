// The notify sink in a build without libnotify (meson -Dnotify=disabled, or
// libnotify-dev missing): the factory says so, and the daemon goes on without it.
#include "webpush/sinks/notify.h"

namespace webpush::sinks {

bool notify_sink_built() noexcept { return false; }

Result<std::unique_ptr<Sink>> make_notify_sink(event::EventLoop&, NotifyOptions) {
  return fail(Errc::unavailable,
              "notify: webpushd was built without libnotify (install libnotify-dev and reconfigure with meson)");
}

}  // namespace webpush::sinks
