// webpushd: a headless Web Push user agent.
//
// Exit codes (docs/cli.md): 0 success, 1 runtime failure, 2 usage error.
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "webpushd_version.h"

namespace {

struct Planned {
  const char* name;
  const char* summary;
};

// Subcommands of the command-line contract that this build does not carry yet.
// They are listed so that --help describes the whole tool honestly.
constexpr Planned kPlanned[] = {
    {"run", "run the user agent daemon in the foreground (not yet available)"},
    {"subscribe", "create a subscription and print its PushSubscription JSON (not yet available)"},
    {"unsubscribe", "unregister a subscription and delete its keys (not yet available)"},
    {"list", "list subscriptions (not yet available)"},
    {"messages", "show received messages from the inbox (not yet available)"},
    {"status", "show the daemon's connection state and counters (not yet available)"},
    {"send", "encrypt, sign (VAPID) and POST a message to a subscription (not yet available)"},
    {"serve", "run the embedded autopush-compatible push service (not yet available)"},
    {"demo", "the whole loop on this machine: service, subscription, message, notification (not yet available)"},
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"webpushd " WEBPUSHD_VERSION
               " - a headless Web Push user agent.\n\n"
               "Keeps an outbound WebSocket to a push service (Mozilla autopush protocol), holds\n"
               "subscription keys, decrypts each message (RFC 8291 aes128gcm, legacy aesgcm) and\n"
               "hands it to a desktop notification, a command or a JSON-lines stream.\n\n"
               "This version carries the cryptographic layer; the subcommands below are planned\n"
               "and report that they are not yet available.",
               "webpushd"};
  app.set_version_flag("-V,--version", "webpushd " WEBPUSHD_VERSION);
  app.require_subcommand(0, 1);

  std::string state_dir;
  std::string config;
  std::string server = "wss://push.services.mozilla.com/";
  app.add_option("--state-dir", state_dir, "where the database and control socket live")
      ->envname("WEBPUSHD_STATE_DIR")
      ->type_name("DIR");
  app.add_option("--config", config, "TOML configuration file")->type_name("FILE");
  app.add_option("--server", server, "push service WebSocket URL")->capture_default_str()->type_name("URL");
  int verbose = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbose, "more log output (repeat for more)");
  app.add_flag("-q,--quiet", quiet, "less log output");

  std::vector<CLI::App*> planned;
  for (const auto& p : kPlanned) {
    auto* sub = app.add_subcommand(p.name, p.summary);
    sub->allow_extras();
    planned.push_back(sub);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  for (const auto* sub : planned) {
    if (sub->parsed()) {
      std::fprintf(stderr, "webpushd: '%s' is not yet available in this version (%s)\n", sub->get_name().c_str(),
                   WEBPUSHD_VERSION);
      return 1;
    }
  }
  std::fputs(app.help().c_str(), stdout);
  return 0;
}
