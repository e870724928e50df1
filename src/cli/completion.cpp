#include "completion.h"

#include <cstdio>

#include <fmt/format.h>

#include "common.h"

namespace webpush::cli {

namespace {

CompletionValue value_of(const CLI::Option& o) {
  if (o.get_expected_max() == 0) return CompletionValue::none;  // a flag
  const std::string type = o.get_type_name();
  if (type.find("FILE") != std::string::npos) return CompletionValue::file;
  if (type.find("DIR") != std::string::npos) return CompletionValue::dir;
  if (type.find("NAME") != std::string::npos) return CompletionValue::subscription;
  return CompletionValue::any;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

CompletionCommand model_of(const CLI::App& app) {
  CompletionCommand c{app.get_name(), first_line(app.get_description()), {}, CompletionValue::none, {}};
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_group().empty()) continue;  // hidden
    if (!o->nonpositional()) {
      if (c.positional == CompletionValue::none) c.positional = value_of(*o);
      continue;
    }
    CompletionOption opt{{}, first_line(o->get_description()), value_of(*o)};
    for (const auto& s : o->get_snames()) opt.names.push_back("-" + s);
    for (const auto& l : o->get_lnames()) opt.names.push_back("--" + l);
    c.options.push_back(std::move(opt));
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); })) {
    c.subcommands.push_back(model_of(*sub));
  }
  return c;
}

// Every command with its path from the root ("loadtest merge"), the root first as "".
void flatten(const CompletionCommand& c, const std::string& path,
             std::vector<std::pair<std::string, const CompletionCommand*>>& out) {
  out.emplace_back(path, &c);
  for (const auto& sub : c.subcommands) flatten(sub, path.empty() ? sub.name : path + " " + sub.name, out);
}

// The option names of `c` (skip_help: without -h/--help, which every command has
// itself), or the names of its subcommands.
std::string join_names(const CompletionCommand& c, bool options, bool skip_help = false) {
  std::string out;
  if (options) {
    for (const auto& o : c.options) {
      for (const auto& n : o.names) {
        if (!skip_help || (n != "-h" && n != "--help")) out += (out.empty() ? "" : " ") + n;
      }
    }
  } else {
    for (const auto& s : c.subcommands) out += (out.empty() ? "" : " ") + s.name;
  }
  return out;
}

// The bash words that complete a value of `kind` (empty: none offered).
std::string bash_values(CompletionValue kind) {
  switch (kind) {
    case CompletionValue::file: return R"sh(COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null)sh";
    case CompletionValue::dir: return R"sh(COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null)sh";
    case CompletionValue::subscription: return R"sh(COMPREPLY=($(compgen -W "$(_webpushd_names)" -- "$cur")))sh";
    case CompletionValue::any:
    case CompletionValue::none: break;
  }
  return "COMPREPLY=()";
}

// `case "$prev"` arms for the options of `c` that take a value.
std::string bash_value_arms(const CompletionCommand& c) {
  std::string out;
  for (const auto& o : c.options) {
    if (o.value == CompletionValue::none) continue;
    std::string pattern;
    for (const auto& n : o.names) pattern += (pattern.empty() ? "" : "|") + n;
    out += fmt::format("          {}) {}; return ;;\n", pattern, bash_values(o.value));
  }
  return out;
}

std::string bash_command_arm(const std::string& path, const CompletionCommand& c, const CompletionCommand& root) {
  std::string out = fmt::format("      \"{}\")\n        case \"$prev\" in\n{}{}        esac\n", path,
                                bash_value_arms(c), path.empty() ? "" : bash_value_arms(root));
  out += fmt::format("        if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"{} {}\" -- \"$cur\")); return; fi\n",
                     join_names(c, true), path.empty() ? "" : join_names(root, true, true));
  if (!c.subcommands.empty()) {
    out += fmt::format("        COMPREPLY=($(compgen -W \"{}\" -- \"$cur\"))\n", join_names(c, false));
  } else if (c.positional != CompletionValue::none) {
    out += "        " + bash_values(c.positional) + "\n";
  }
  return out + "        ;;\n";
}

std::string bash_function(const CompletionCommand& root) {
  std::vector<std::pair<std::string, const CompletionCommand*>> all;
  flatten(root, "", all);
  std::string paths;
  for (const auto& [path, c] : all) {
    if (!path.empty()) paths += (paths.empty() ? "" : "|") + fmt::format("\"{}\"", path);
  }
  std::string arms;
  for (const auto& [path, c] : all) arms += bash_command_arm(path, *c, root);
  return fmt::format(R"sh(_webpushd_names() {{
  "${{COMP_WORDS[0]}}" list --names 2>/dev/null
}}

_webpushd() {{
  local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" path="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${{path:+$path }}${{COMP_WORDS[i]}}" in
      {}) path="${{path:+$path }}${{COMP_WORDS[i]}}" ;;
    esac
  done
  case "$path" in
{}  esac
}}
complete -F _webpushd webpushd
)sh",
                     paths, arms);
}

std::string fish_quote(std::string_view text) {
  std::string out = "'";
  for (char ch : text) {
    if (ch == '\'' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "'";
}

std::string fish_value(CompletionValue kind) {
  switch (kind) {
    case CompletionValue::file: return " -r -F";
    case CompletionValue::dir: return " -x -a '(__fish_complete_directories)'";
    case CompletionValue::subscription: return " -x -a '(webpushd list --names 2>/dev/null)'";
    case CompletionValue::any: return " -x";
    case CompletionValue::none: break;
  }
  return "";
}

std::string fish_options(const CompletionCommand& c, const std::string& condition) {
  std::string out;
  for (const auto& o : c.options) {
    std::string names;
    for (const auto& n : o.names) names += n.starts_with("--") ? " -l " + n.substr(2) : " -s " + n.substr(1);
    out += fmt::format("complete -c webpushd{}{}{} -d {}\n", condition, names, fish_value(o.value),
                       fish_quote(o.description));
  }
  return out;
}

}  // namespace

CompletionCommand completion_model(const CLI::App& app) { return model_of(app); }

std::string bash_completion(const CompletionCommand& root) {
  return "# bash completion for webpushd, generated by `webpushd completion bash`\n" + bash_function(root);
}

std::string zsh_completion(const CompletionCommand& root) {
  return "#compdef webpushd\n# zsh completion for webpushd, generated by `webpushd completion zsh`: the bash\n"
         "# completion, through zsh's bashcompinit.\nautoload -U +X bashcompinit && bashcompinit\n" +
         bash_function(root);
}

std::string fish_completion(const CompletionCommand& root) {
  std::string out =
      "# fish completion for webpushd, generated by `webpushd completion fish`\ncomplete -c webpushd -f\n";
  out += fish_options(root, "");
  for (const auto& sub : root.subcommands) {
    out += fmt::format("complete -c webpushd -n __fish_use_subcommand -a {} -d {}\n", sub.name,
                       fish_quote(sub.description));
    const std::string in_sub = fmt::format(" -n '__fish_seen_subcommand_from {}'", sub.name);
    for (const auto& nested : sub.subcommands) {
      out += fmt::format(
          "complete -c webpushd -n '__fish_seen_subcommand_from {}; and not __fish_seen_subcommand_from "
          "{}' -a {} -d {}\n",
          sub.name, nested.name, nested.name, fish_quote(nested.description));
      out += fish_options(nested, fmt::format(" -n '__fish_seen_subcommand_from {}'", nested.name));
    }
    out += fish_options(sub, in_sub);
    if (sub.positional == CompletionValue::subscription || sub.positional == CompletionValue::file) {
      out += fmt::format("complete -c webpushd{}{}\n", in_sub, fish_value(sub.positional));
    }
  }
  return out;
}

CLI::App* add_completion_command(CLI::App& app, std::string& shell) {
  CLI::App* sub = app.add_subcommand("completion", "print a shell completion script (bash, zsh or fish)");
  sub->add_option("shell", shell, "the shell")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
  sub->footer(
      "bash:  webpushd completion bash > ~/.local/share/bash-completion/completions/webpushd\n"
      "zsh:   webpushd completion zsh > \"${fpath[1]}/_webpushd\"\n"
      "fish:  webpushd completion fish > ~/.config/fish/completions/webpushd.fish\n"
      "Subscription names complete from `webpushd list`.");
  return sub;
}

int run_completion(const CLI::App& app, const std::string& shell) {
  const CompletionCommand model = completion_model(app);
  const std::string script = shell == "bash"  ? bash_completion(model)
                             : shell == "zsh" ? zsh_completion(model)
                                              : fish_completion(model);
  if (std::fwrite(script.data(), 1, script.size(), stdout) != script.size() || std::fflush(stdout) != 0) {
    print_error("cannot write to standard output");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace webpush::cli
