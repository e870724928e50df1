#include "fcm_codec_loader.h"

#include <fmt/format.h>

#include "internal.h"
#include "webpush/event/errc.h"
#include "webpush/event/module_loader.h"
#include "webpush/fcm/codec.h"
#include "webpushd_version.h"

namespace webpush::daemon::detail {

Result<void> load_fcm_codec() {
  if (fcm::codec_ready()) return {};
  auto module = event::load_module({.owner = "fcm",
                                    .description = "the FCM module",
                                    .build_path = WEBPUSHD_FCM_MODULE_BUILD,
                                    .relative_path = WEBPUSHD_FCM_MODULE_RELATIVE,
                                    .installed_path = WEBPUSHD_FCM_MODULE_INSTALLED,
                                    .entry = fcm::kCodecModuleEntry});
  if (!module) return tl::unexpected(module.error());
  const std::string abi = fcm::codec_abi(WEBPUSHD_VERSION);
  const fcm::Codec* codec = module->entry<fcm::CodecModuleEntry>()(abi.c_str());
  if (codec == nullptr) {
    return fail(event::Errc::setup,
                fmt::format("fcm: {} is from another build than this webpushd ({}); reinstall or rebuild both",
                            module->path().string(), abi));
  }
  log().debug("loaded {}", module->path().string());
  fcm::use_codec(*codec);
  module->keep_loaded();  // its codec is used for the rest of the process
  return {};
}

}  // namespace webpush::daemon::detail
