// webpushd-run: the daemon of `webpushd run`, as a program of its own.
//
// `webpushd run` replaces itself with this program (exec, same pid, same
// arguments) when it is installed, so that the long-running process maps only
// what the daemon uses: no libcurl and its TLS stack, no load or conformance
// code. The command line was checked by `webpushd` already; this parses the
// same options with the same definitions (run.cpp, common.cpp).
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "common.h"
#include "webpushd_version.h"

int main(int argc, char** argv) {
  using namespace webpush::cli;
  CLI::App app{"webpushd " WEBPUSHD_VERSION " daemon (started by `webpushd run`)", "webpushd"};
  app.set_version_flag("-V,--version", "webpushd " WEBPUSHD_VERSION);
  app.require_subcommand(1, 1);
  app.fallthrough();
  setup_logging(GlobalOptions{.quiet = true});
  GlobalOptions g;
  add_global_options(app, g);
  RunOptions options;
  CLI::App* run = app.add_subcommand("run", "run the user agent daemon in the foreground");
  add_run_options(*run, options);
  if (const auto code = parse_command_line(app, argc, argv)) return *code;
  try {
    g.server_given = app.count("--server") > 0;
    return run_daemon(g, options, *run);
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitFailure;
  }
}
