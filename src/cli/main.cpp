// webpushd: a headless Web Push user agent.
//
// Exit codes (docs/cli.md): 0 success, 1 runtime failure, 2 usage error.
#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "commands.h"
#include "common.h"
#include "inbox_commands.h"
#include "serve.h"
#include "webpushd_version.h"

int main(int argc, char** argv) {
  using namespace webpush::cli;
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

  GlobalOptions g;
  app.add_option("--state-dir", g.state_dir, "where the database and control socket live")
      ->envname("WEBPUSHD_STATE_DIR")
      ->type_name("DIR");
  app.add_option("--config", g.config, "TOML configuration file")->type_name("FILE");
  app.add_option("--server", g.server, "push service WebSocket URL")->capture_default_str()->type_name("URL");
  app.add_flag("-v,--verbose", g.verbose, "more log output (repeat for more)");
  app.add_flag("-q,--quiet", g.quiet, "less log output");

  RunOptions run_options;
  auto* run = app.add_subcommand("run", "run the user agent daemon in the foreground (logs on stderr)");
  add_run_options(*run, run_options);

  SubscribeOptions subscribe_options;
  auto* subscribe = app.add_subcommand(
      "subscribe", "create a subscription and print its PushSubscription JSON (connects to the service itself)");
  add_subscribe_options(*subscribe, subscribe_options);

  UnsubscribeOptions unsubscribe_options;
  auto* unsubscribe = app.add_subcommand("unsubscribe", "unregister a subscription and delete its keys");
  add_unsubscribe_options(*unsubscribe, unsubscribe_options);

  bool status_json = false;
  auto* status = app.add_subcommand(
      "status", "show the daemon's connection state, uaid, server and counters (exit 1 when not connected)");
  add_status_options(*status, status_json);

  DemoOptions demo_options;
  auto* demo = app.add_subcommand(
      "demo", "the whole loop on this machine: service, subscription, encrypted message, notification, latency");
  add_demo_options(*demo, demo_options);

  SendCommandOptions send_options;
  auto* send = app.add_subcommand("send", "encrypt, sign (VAPID) and POST a message to a subscription");
  add_send_options(*send, send_options);

  std::string vapid_key_path;
  auto* keygen = app.add_subcommand("vapid-keygen", "write a new VAPID private key and print its public key");
  add_vapid_keygen_options(*keygen, vapid_key_path);

  ServeOptions serve_options;
  auto* serve = app.add_subcommand("serve", "run the embedded autopush-compatible push service");
  add_serve_options(*serve, serve_options);

  ListOptions list_options;
  auto* list = app.add_subcommand("list", "list subscriptions (a table, or JSON with --json)");
  add_list_options(*list, list_options);

  MessagesOptions messages_options;
  auto* messages =
      app.add_subcommand("messages", "show received messages from the inbox (a table, or JSON lines with --json)");
  add_messages_options(*messages, messages_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every other parse error is a usage error
    // (docs/cli.md), reported on one line.
    if (e.get_exit_code() == 0) return app.exit(e);
    print_error(std::string(e.what()) + " (see --help)");
    return kExitUsage;
  }

  try {
    g.server_given = app.count("--server") > 0;
    if (run->parsed()) return run_daemon(g, run_options, *run);
    if (subscribe->parsed()) return run_subscribe(g, subscribe_options);
    if (unsubscribe->parsed()) return run_unsubscribe(g, unsubscribe_options);
    if (status->parsed()) return run_status(g, status_json);
    if (send->parsed()) return run_send(g, send_options);
    if (demo->parsed()) return run_demo(g, demo_options);
    if (keygen->parsed()) return run_vapid_keygen(vapid_key_path);
    if (serve->parsed()) return run_serve(serve_options, g.state_dir, g.verbose, g.quiet);
    if (list->parsed()) return run_list(g, list_options);
    if (messages->parsed()) return run_messages(g, messages_options);
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitFailure;
  }
  std::fputs(app.help().c_str(), stdout);
  return kExitOk;
}
