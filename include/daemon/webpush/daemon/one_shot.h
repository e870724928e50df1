// run_one_shot: a short-lived user agent for the commands that must talk to the
// push service when no daemon runs (`subscribe`, `unsubscribe`). It opens its
// own loop and connection, lets `work` drive an Agent (which stores and acks
// whatever arrives meanwhile, leaving it for the daemon to deliver), and ends
// when `work` reports or the timeout passes.
//
// Thread: blocks the calling thread, which runs the loop meanwhile.
#pragma once

#include <functional>
#include <string>

#include "webpush/core/clock.h"
#include "webpush/core/error.h"
#include "webpush/daemon/agent.h"
#include "webpush/store/store.h"
#include "webpush/transport/ws_client.h"

namespace webpush::daemon {

struct OneShotOptions {
  std::string server;
  bool insecure = false;
  transport::ClientOptions client;
  Duration timeout{30'000};
};

/// Calls `work(agent, finish)` once the agent has started; `work` calls
/// `finish(result)` exactly once when done. Returns that result, or
/// Errc::timeout ("no answer from SERVER within N s (state)") when the timeout
/// passes first. Errors also: setup of the loop or the agent.
using OneShotWork = std::function<void(Agent& agent, std::function<void(Result<void>)> finish)>;
Result<void> run_one_shot(store::Store& store, const OneShotOptions& options, const OneShotWork& work);

}  // namespace webpush::daemon
