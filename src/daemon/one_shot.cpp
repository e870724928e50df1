#include "webpush/daemon/one_shot.h"

#include <fmt/format.h>

#include "webpush/event/loop.h"
#include "webpush/event/scheduler.h"
#include "webpush/event/timer.h"

namespace webpush::daemon {

Result<void> run_one_shot(store::Store& store, const OneShotOptions& options, const OneShotWork& work) {
  auto loop = event::EventLoop::create();
  if (!loop) return tl::unexpected(loop.error());
  auto client = transport::ClientVhost::create(**loop, options.client);
  if (!client) return tl::unexpected(client.error());
  transport::WsConnectionFactory connections(**client, {options.server, options.insecure});
  event::LoopScheduler scheduler(**loop);
  SystemClock clock;
  RandomJitter jitter;
  AgentOptions agent_options;
  agent_options.server = options.server;
  agent_options.insecure = options.insecure;
  agent_options.deliver = false;

  std::optional<Result<void>> outcome;
  {
    Agent agent(store, connections, scheduler, agent_options, clock, jitter);
    event::Timer stop_timer(**loop, [&] { (*loop)->stop(); });
    auto finish = [&](Result<void> result) {
      if (outcome) return;
      outcome = std::move(result);
      agent.shutdown();
      stop_timer.arm(Duration{200});  // let the close frame go out
    };
    event::Timer deadline(**loop, [&] {
      finish(fail(Errc::timeout,
                  fmt::format("no answer from {} within {} s ({})", options.server,
                              static_cast<double>(options.timeout.count()) / 1000.0, agent.status().detail)));
    });
    deadline.arm(options.timeout);
    if (auto ok = agent.start(); !ok) return ok;
    work(agent, finish);
    if (auto ran = (*loop)->run(); !ran && !outcome) return ran;
  }
  return outcome ? std::move(*outcome) : fail(Errc::stopped, "the loop ended before the work did");
}

}  // namespace webpush::daemon
