// Control-socket input as the daemon reads it: the bytes cut into lines at
// '\n' (ControlServer::on_readable; the last line needs none here), each line
// through parse_control_request, each refusal through error_reply. Nothing may
// crash, throw or leak; a reply must be one JSON line whatever bytes the
// request held, and an accepted request must hold what control_request.h
// promises.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "webpush/daemon/control_request.h"

namespace control_fuzz {

using namespace webpush::daemon;

bool holds_promises(const ControlRequest& req) {
  if (const auto* s = std::get_if<SubscribeRequest>(&req)) return !s->name.empty() && s->name.size() <= 128;
  if (const auto* u = std::get_if<UnsubscribeRequest>(&req)) return u->id || u->name;
  return true;
}

// The reply a client gets for a refused request: one line, {"ok":false,"error":"…"}. Checked by its shape
// rather than parsed back, which would compile nlohmann/json into this target for little more.
bool is_error_reply(const std::string& line) {
  constexpr std::string_view kHead = R"({"ok":false,"error":")";
  return line.rfind(kHead, 0) == 0 && line.size() >= kHead.size() + 2 && line.ends_with("\"}") &&
         line.find('\n') == std::string::npos;
}

void one_line(std::string_view line) {
  auto req = parse_control_request(line);
  if (req) {
    if (!holds_promises(*req)) __builtin_trap();
    return;
  }
  if (req.error().empty() || !is_error_reply(error_reply(req.error()))) __builtin_trap();
}

}  // namespace control_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (auto nl = in.find('\n'); nl != std::string_view::npos; nl = in.find('\n')) {
    control_fuzz::one_line(in.substr(0, nl));
    in.remove_prefix(nl + 1);
  }
  // The daemon keeps a tail without '\n' until the rest arrives; parsed as if it had.
  if (!in.empty()) control_fuzz::one_line(in);
  return 0;
}
