// webpushd: a headless Web Push user agent.
//
// Exit codes (docs/cli.md): 0 success, 1 runtime failure, 2 usage error.
#include <cstdio>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "commands.h"
#include "common.h"
#include "completion.h"
#include "inbox_commands.h"
#include "serve.h"
#include "webpushd_version.h"

namespace {

using namespace webpush::cli;

// Every subcommand: its options, and the CLI11 object that says whether it was given.
struct Commands {
  GlobalOptions g;
  RunOptions run_options;
  CLI::App* run = nullptr;
  SubscribeOptions subscribe_options;
  CLI::App* subscribe = nullptr;
  UnsubscribeOptions unsubscribe_options;
  CLI::App* unsubscribe = nullptr;
  bool status_json = false;
  CLI::App* status = nullptr;
  DemoOptions demo_options;
  CLI::App* demo = nullptr;
  SendCommandOptions send_options;
  CLI::App* send = nullptr;
  std::string vapid_key_path;
  CLI::App* keygen = nullptr;
  ServeOptions serve_options;
  CLI::App* serve = nullptr;
  ListOptions list_options;
  CLI::App* list = nullptr;
  MessagesOptions messages_options;
  CLI::App* messages = nullptr;
  LoadtestOptions loadtest_options;
  CLI::App* loadtest = nullptr;
  CLI::App* loadtest_merge = nullptr;
  CheckServiceOptions check_service_options;
  CLI::App* check_service = nullptr;
  std::string completion_shell;
  CLI::App* completion = nullptr;
  std::string command_line;
  char** argv = nullptr;
};

// run, subscribe, unsubscribe, status: the user agent and its subscriptions.
void add_agent_commands(CLI::App& app, Commands& c) {
  c.run = app.add_subcommand("run", "run the user agent daemon in the foreground (logs on stderr)");
  add_run_options(*c.run, c.run_options);
  c.subscribe = app.add_subcommand(
      "subscribe", "create a subscription and print its PushSubscription JSON (connects to the service itself)");
  add_subscribe_options(*c.subscribe, c.subscribe_options);
  c.unsubscribe = app.add_subcommand("unsubscribe", "unregister a subscription and delete its keys");
  add_unsubscribe_options(*c.unsubscribe, c.unsubscribe_options);
  c.status = app.add_subcommand(
      "status", "show the daemon's connection state, uaid, server and counters (exit 1 when not connected)");
  add_status_options(*c.status, c.status_json);
}

// demo, send, vapid-keygen, serve, list, messages, loadtest, check-service.
void add_tool_commands(CLI::App& app, Commands& c) {
  c.demo = app.add_subcommand(
      "demo", "the whole loop on this machine: service, subscription, encrypted message, notification, latency");
  add_demo_options(*c.demo, c.demo_options);
  c.send = app.add_subcommand("send", "encrypt, sign (VAPID) and POST a message to a subscription");
  add_send_options(*c.send, c.send_options);
  c.keygen = app.add_subcommand("vapid-keygen", "write a new VAPID private key and print its public key");
  add_vapid_keygen_options(*c.keygen, c.vapid_key_path);
  c.serve = app.add_subcommand("serve", "run the embedded autopush-compatible push service");
  add_serve_options(*c.serve, c.serve_options);
  c.list = app.add_subcommand("list", "list subscriptions (a table, or JSON with --json)");
  add_list_options(*c.list, c.list_options);
  c.messages =
      app.add_subcommand("messages", "show received messages from the inbox (a table, or JSON lines with --json)");
  add_messages_options(*c.messages, c.messages_options);
  c.loadtest = app.add_subcommand(
      "loadtest", "load-test a push service: many user agents, an open-loop sender, latency histograms");
  c.loadtest_merge = add_loadtest_options(*c.loadtest, c.loadtest_options);
  c.check_service = app.add_subcommand(
      "check-service", "check a push service against the protocol and the RFCs: one PASS/FAIL row per rule");
  add_check_service_options(*c.check_service, c.check_service_options);
  c.completion = add_completion_command(app, c.completion_shell);
}

// The exit code of the subcommand given, none if none was.
std::optional<int> run_command(const CLI::App& app, const Commands& c) {
  const GlobalOptions& g = c.g;
  if (c.run->parsed()) {
    setup_logging(g);
    exec_daemon_program(c.argv);
    return run_daemon(g, c.run_options, *c.run);
  }
  if (c.subscribe->parsed()) return run_subscribe(g, c.subscribe_options);
  if (c.unsubscribe->parsed()) return run_unsubscribe(g, c.unsubscribe_options);
  if (c.status->parsed()) return run_status(g, c.status_json);
  if (c.send->parsed()) return run_send(g, c.send_options);
  if (c.demo->parsed()) return run_demo(g, c.demo_options);
  if (c.keygen->parsed()) return run_vapid_keygen(c.vapid_key_path);
  if (c.serve->parsed()) return run_serve(c.serve_options, g.state_dir, g.verbose, g.quiet);
  if (c.list->parsed()) return run_list(g, c.list_options);
  if (c.messages->parsed()) return run_messages(g, c.messages_options);
  if (c.loadtest_merge->parsed()) return run_loadtest_merge(c.loadtest_options);
  if (c.loadtest->parsed()) return run_loadtest(g, c.loadtest_options, c.command_line);
  if (c.check_service->parsed()) return run_check_service(g, c.check_service_options);
  if (c.completion->parsed()) return run_completion(app, c.completion_shell);
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"webpushd " WEBPUSHD_VERSION
               " - a headless Web Push user agent.\n\n"
               "Keeps an outbound WebSocket to a push service (Mozilla autopush protocol), holds\n"
               "subscription keys, decrypts each message (RFC 8291 aes128gcm, legacy aesgcm) and\n"
               "hands it to a desktop notification, a command or a JSON-lines stream.\n\n"
               "Start with `webpushd demo`: the whole loop on this machine, no internet needed.",
               "webpushd"};
  app.set_version_flag("-V,--version", "webpushd " WEBPUSHD_VERSION);
  app.require_subcommand(0, 1);
  app.fallthrough();  // global options may also follow the subcommand

  // Until a command sets up logging, whatever a library logs goes to stderr, never
  // into a command's output.
  setup_logging(GlobalOptions{.quiet = true});

  Commands c;
  add_global_options(app, c.g);
  add_agent_commands(app, c);
  add_tool_commands(app, c);
  if (const auto code = parse_command_line(app, argc, argv)) return *code;
  c.argv = argv;
  for (int i = 0; i < argc; ++i) c.command_line += (i == 0 ? "" : " ") + std::string(argv[i]);

  try {
    c.g.server_given = app.count("--server") > 0;
    if (const auto code = run_command(app, c)) return *code;
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitFailure;
  }
  std::fputs(app.help().c_str(), stdout);
  return kExitOk;
}
