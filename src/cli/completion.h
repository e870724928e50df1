// `webpushd completion bash|zsh|fish`: a shell completion script generated
// from the command-line definitions themselves (the CLI11 App), so that an
// option is completed the day it is added. Option values complete as their
// type name says: files for FILE, directories for DIR, subscription names
// (from `webpushd list --names`, which reads the store the daemon writes) for
// NAME. Hidden options (those without a group) are left out.
//
// Pure: the model is read from the App, the scripts are text. Thread: any.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace webpush::cli {

enum class CompletionValue { none, any, file, dir, subscription };

struct CompletionOption {
  std::vector<std::string> names;  ///< "--jsonl", "-v"
  std::string description;
  CompletionValue value = CompletionValue::none;
};

struct CompletionCommand {
  std::string name;
  std::string description;
  std::vector<CompletionOption> options;
  CompletionValue positional = CompletionValue::none;  ///< what its first positional argument is
  std::vector<CompletionCommand> subcommands;
};

/// The command tree of `app`, its global options included.
[[nodiscard]] CompletionCommand completion_model(const CLI::App& app);

[[nodiscard]] std::string bash_completion(const CompletionCommand& root);
[[nodiscard]] std::string zsh_completion(const CompletionCommand& root);
[[nodiscard]] std::string fish_completion(const CompletionCommand& root);

/// Adds `completion SHELL` to `app`; `shell` receives the choice.
CLI::App* add_completion_command(CLI::App& app, std::string& shell);
/// Prints the script for `shell` (bash, zsh or fish) for `app`.
int run_completion(const CLI::App& app, const std::string& shell);

}  // namespace webpush::cli
