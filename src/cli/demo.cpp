// `webpushd demo`: the whole loop on this machine, step by step — the embedded
// push service on an ephemeral loopback port, a daemon with a temporary state
// directory, a subscription, a real encrypted push sent with `send`'s code path,
// its arrival, decryption and display, and the end-to-end latency. Everything
// it starts it stops, and its temporary files are removed.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "child_process.h"
#include "commands.h"
#include "control_client.h"
#include "sender.h"
#include "webpush/core/base64url.h"

namespace webpush::cli {

void add_demo_options(CLI::App& sub, DemoOptions& o) {
  sub.add_option("--message", o.message, "the text to push")->capture_default_str();
  sub.add_flag("--keep", o.keep, "keep the temporary directory (its path is printed)");
  sub.add_option("--timeout", o.timeout, "seconds each step may take")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 600.0));
}

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

struct StepFailed {
  std::string why;
};

class Steps {
 public:
  explicit Steps(int total) : total_(total) {}
  template <class F>
  auto run(const std::string& what, F&& f) {
    ++n_;
    std::printf("[%d/%d] %-56s", n_, total_, what.c_str());
    std::fflush(stdout);
    const auto start = Clock::now();
    try {
      auto result = f();
      std::printf(" ok  %8.1f ms\n", ms_since(start));
      return result;
    } catch (const StepFailed& e) {
      std::printf(" FAILED\n");
      std::fflush(stdout);
      throw StepFailed{fmt::format("step {} ({}) failed: {}", n_, what, e.why)};
    }
  }

 private:
  int total_;
  int n_ = 0;
};

// $TMPDIR (when absolute, else /tmp)/webpushd-demo-XXXXXX, created; nullopt if it cannot be.
std::optional<std::filesystem::path> make_temp_dir() {
  const char* tmp_base = std::getenv("TMPDIR");
  std::string templ =
      std::string(tmp_base != nullptr && *tmp_base == '/' ? tmp_base : "/tmp") + "/webpushd-demo-XXXXXX";
  std::vector<char> tmpl(templ.begin(), templ.end());
  tmpl.push_back('\0');
  if (mkdtemp(tmpl.data()) == nullptr) return std::nullopt;
  return std::filesystem::path(tmpl.data());
}

// What the steps share: the temporary directory and the processes started in it.
struct Demo {
  const DemoOptions& o;
  std::filesystem::path dir;
  std::chrono::milliseconds timeout;
  std::unique_ptr<ChildProcess> service;
  std::unique_ptr<ChildProcess> daemon;
};

// Starts `webpushd serve`; its WebSocket URL.
std::string start_service(Demo& d) {
  d.service =
      std::make_unique<ChildProcess>(std::vector<std::string>{"webpushd", "-q", "serve", "--listen", "127.0.0.1:0",
                                                              "--state-dir", (d.dir / "service").string()},
                                     d.dir / "service.log");
  auto line = d.service->line(Clock::now() + d.timeout);
  if (!line || line->rfind("ws://", 0) != 0) throw StepFailed{"the service did not start: " + d.service->log_tail()};
  return *line;
}

int start_daemon(Demo& d, const std::string& url) {
  d.daemon = std::make_unique<ChildProcess>(
      std::vector<std::string>{"webpushd", "--state-dir", (d.dir / "agent").string(), "--server", url, "run", "--jsonl",
                               "-", "--request-timeout", "5"},
      d.dir / "daemon.log");
  // Ready once the control socket answers and the connection is up.
  const auto deadline = Clock::now() + d.timeout;
  while (Clock::now() < deadline) {
    if (auto control = ControlClient::connect(d.dir / "agent")) {
      auto status = control->request({{"cmd", "status"}}, std::chrono::seconds(2));
      if (status && status->at("status").value("connected", false)) return 0;
    }
    ::usleep(20'000);
  }
  throw StepFailed{"the daemon did not connect: " + d.daemon->log_tail()};
}

// Subscribes through the daemon's control socket; the PushSubscription JSON.
std::string subscribe_demo(Demo& d) {
  auto control = ControlClient::connect(d.dir / "agent");
  if (!control) throw StepFailed{"the daemon's control socket is gone"};
  auto reply = control->request({{"cmd", "subscribe"}, {"name", "demo"}}, d.timeout);
  if (!reply) throw StepFailed{reply.error().message()};
  return reply->at("subscription").dump();
}

// POSTs `message`; when the POST started.
Clock::time_point post_message(Sender& sender, const PushSubscription& sub, const std::string& message) {
  const auto start = Clock::now();
  auto r = sender.send(sub, as_bytes(message), SendOptions{});
  if (!r) throw StepFailed{r.error().message()};
  if (r->status != 201) throw StepFailed{fmt::format("the service answered {}: {}", r->status, r->body)};
  return start;
}

// The daemon's JSON-lines "message" event.
nlohmann::json receive_message(Demo& d) {
  const auto deadline = Clock::now() + d.timeout;
  while (auto line = d.daemon->line(deadline)) {
    auto j = nlohmann::json::parse(*line, nullptr, false);
    if (!j.is_discarded() && j.value("type", "") == "message") return j;
  }
  throw StepFailed{"no message arrived: " + d.daemon->log_tail()};
}

void print_result(const nlohmann::json& event, bool desktop, double latency) {
  std::printf("\nreceived: \"%s\"\n", event.value("payload", "").c_str());
  std::printf("  subscription %s, version %s\n", event.value("subscription", "").c_str(),
              event.value("version", "").c_str());
  std::printf("  shown as %s\n",
              desktop ? "a desktop notification (and printed here)" : "text here (no desktop notification server)");
  std::printf("end-to-end latency (POST to the daemon's output): %.1f ms\n", latency);
}

// The seven steps; a failed one throws StepFailed.
void run_steps(Demo& d) {
  Steps steps(7);
  const std::string url = steps.run("start the embedded push service (127.0.0.1)", [&] { return start_service(d); });
  steps.run("start the user agent daemon", [&] { return start_daemon(d, url); });
  const auto sub_json = steps.run("subscribe (new P-256 key pair and auth secret)", [&] { return subscribe_demo(d); });
  auto sub = parse_push_subscription(sub_json);
  if (!sub) throw StepFailed{sub.error().message()};
  Sender sender;
  const auto sent_at = steps.run("encrypt (RFC 8291 aes128gcm) and POST to the endpoint",
                                 [&] { return post_message(sender, *sub, d.o.message); });
  const auto event = steps.run("receive, decrypt, store and acknowledge", [&] { return receive_message(d); });
  const double latency = ms_since(sent_at);
  steps.run("show it", [&] {
    const std::string payload = event.value("payload", "");
    if (payload != d.o.message) throw StepFailed{"the decrypted payload differs from what was sent"};
    return 0;
  });
  const bool desktop = d.daemon->log_tail().find("desktop notifications unavailable") == std::string::npos;
  steps.run("stop and clean up", [&] {
    d.daemon->stop();
    d.service->stop();
    return 0;
  });
  print_result(event, desktop, latency);
}

}  // namespace

int run_demo(const GlobalOptions& g, const DemoOptions& o) {
  (void)g;
  std::signal(SIGPIPE, SIG_IGN);
  const auto dir = make_temp_dir();
  if (!dir) {
    print_error("cannot create a temporary directory");
    return kExitFailure;
  }
  Demo d{o, *dir, std::chrono::milliseconds(static_cast<std::int64_t>(o.timeout * 1000)), nullptr, nullptr};
  std::printf("webpushd demo: the whole Web Push loop on this machine (temporary files in %s)\n\n", d.dir.c_str());
  int rc = kExitOk;
  try {
    run_steps(d);
  } catch (const StepFailed& e) {
    print_error(e.why);
    rc = kExitFailure;
  }
  d.daemon.reset();
  d.service.reset();
  if (o.keep) {
    std::printf("kept %s\n", d.dir.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(d.dir, ec);
  }
  return rc;
}

}  // namespace webpush::cli
