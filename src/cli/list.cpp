// `webpushd list`: the subscriptions in the store, and the helpers `messages` shares.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "inbox_commands.h"
#include "webpush/core/base64url.h"
#include "webpush/core/utf8.h"
#include "webpush/daemon/agent.h"
#include "webpush/sinks/sink.h"

namespace webpush::cli {

// ---- shared helpers ------------------------------------------------------------------

Result<std::optional<store::Store>> open_store_read_only(const GlobalOptions& g) {
  store::StoreOptions options;
  // A full page scan would slow every `list` on a large inbox; corruption in the
  // pages read still fails the command, and the daemon checks everything at start.
  options.quick_check = false;
  auto s = store::Store::open(state_dir(g), store::OpenMode::read_only, options);
  if (!s) {
    if (s.error().is(store::Errc::not_found)) return std::optional<store::Store>();
    return tl::unexpected(s.error());
  }
  return std::optional<store::Store>(std::move(*s));
}

namespace {

// Characters a terminal would act on, or that reorder what follows them.
bool needs_escape(char32_t cp) {
  return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

std::string escape(std::uint32_t cp) {
  switch (cp) {
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: break;
  }
  return cp < 0x80 ? fmt::format("\\x{:02x}", cp) : fmt::format("\\u{:04x}", cp);
}

// Code points in valid UTF-8.
std::size_t width(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<std::uint8_t>(c) & 0xc0) != 0x80 ? 1 : 0;
  return n;
}

// The first `count` code points of valid UTF-8 `s`, and the rest.
std::size_t prefix_bytes(std::string_view s, std::size_t count) {
  std::size_t i = 0;
  for (std::size_t seen = 0; i < s.size(); ++i) {
    if ((static_cast<std::uint8_t>(s[i]) & 0xc0) != 0x80) {
      if (seen == count) break;
      ++seen;
    }
  }
  return i;
}

constexpr std::size_t kUnlimited = std::numeric_limits<std::size_t>::max();
constexpr std::size_t kNameWidth = 24;
constexpr std::size_t kServerWidth = 40;
constexpr std::size_t kEndpointWidth = 64;
constexpr std::size_t kEndpointTail = 12;

}  // namespace

std::string printable(std::string_view text, std::size_t max_width) {
  if (max_width == 0) return "";
  std::string out;
  std::size_t w = 0;
  std::size_t fits = 0;  // bytes of `out` that fit in max_width - 1 (room for "…")
  bool cut = false;
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const std::size_t len = utf8_decode(text, i, cp);
    std::string piece;
    if (len == 0) {
      piece = fmt::format("\\x{:02x}", static_cast<std::uint8_t>(text[i]));
    } else if (needs_escape(cp)) {
      piece = escape(cp);
    } else {
      piece.assign(text.substr(i, len));
    }
    i += len == 0 ? 1 : len;
    const std::size_t piece_width = width(piece);
    if (w + piece_width > max_width) {
      cut = true;
      break;
    }
    out += piece;
    w += piece_width;
    if (w <= max_width - 1) fits = out.size();
  }
  if (cut) {
    out.resize(fits);
    out += "…";
  }
  return out;
}

// Endpoints differ in their last characters (the token): keep the head (host and
// path) and the tail, elide the middle.
std::string elide_middle(const std::string& s, std::size_t max_width, std::size_t tail) {
  const std::size_t w = width(s);
  if (w <= max_width) return s;
  const std::size_t head = max_width - tail - 1;
  return s.substr(0, prefix_bytes(s, head)) + "…" + s.substr(prefix_bytes(s, w - tail));
}

std::string local_time(std::int64_t unix_ms, bool seconds) {
  const auto secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm);
  return std::string(buf, n);
}

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(header_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::render() const {
  std::vector<std::size_t> widths(header_.size());
  for (std::size_t c = 0; c < header_.size(); ++c) {
    widths[c] = width(header_[c]);
    for (const auto& row : rows_) widths[c] = std::max(widths[c], width(row[c]));
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      out += cells[c];
      if (c + 1 < cells.size()) out.append(widths[c] - width(cells[c]) + 2, ' ');
    }
    out += '\n';
  };
  line(header_);
  for (const auto& row : rows_) line(row);
  return out;
}

bool write_stdout(std::string_view text) {
  const bool written = std::fwrite(text.data(), 1, text.size(), stdout) == text.size();
  return std::fflush(stdout) == 0 && written;
}

// ---- list ----------------------------------------------------------------------------

void add_list_options(CLI::App& sub, ListOptions& o) {
  sub.add_flag("--json", o.json,
               "print a JSON array of objects, each with the PushSubscription JSON to give an application server");
  // Hidden (group ""): what `webpushd completion` scripts run to complete a name.
  sub.add_flag("--names", o.names, "one subscription name per line")->group("");
  sub.footer(
      "Reads the store read-only: works while the daemon runs. Without a database yet the list is empty (exit 0).");
}

namespace {

nlohmann::ordered_json to_json(const store::Subscription& sub) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["id"] = sub.id;
  j["name"] = sub.name;
  j["state"] = std::string(store::to_string(sub.state));
  j["server"] = sub.server;
  j["channel_id"] = sub.channel_id;
  j["endpoint"] = sub.endpoint;
  j["created_at"] = sinks::rfc3339(sub.created_at);
  j["changed_at"] = sub.changed_at ? ordered_json(sinks::rfc3339(*sub.changed_at)) : ordered_json(nullptr);
  j["previous_endpoint"] = sub.previous_endpoint ? ordered_json(*sub.previous_endpoint) : ordered_json(nullptr);
  j["application_server_key"] =
      sub.app_server_key ? ordered_json(base64url_encode(*sub.app_server_key)) : ordered_json(nullptr);
  // Exactly what `subscribe` printed: public key and auth secret, which the
  // application server needs; the private key never leaves the store.
  j["subscription"] = ordered_json::parse(daemon::subscription_json(sub));
  j["app"] = sub.app ? ordered_json{{"service", sub.app->service},
                                    {"token", sub.app->token},
                                    {"description", sub.app->description},
                                    {"api", sub.app->api}}
                     : ordered_json(nullptr);
  j["push_service"] = sub.fcm ? "fcm" : "autopush";
  return j;
}

// The APP column (the UnifiedPush app's bus name) only when some subscription is an app's.
std::string subscription_table(const std::vector<store::Subscription>& subs) {
  const bool apps = std::any_of(subs.begin(), subs.end(), [](const auto& s) { return s.app.has_value(); });
  std::vector<std::string> header{"NAME", "STATE", "CREATED", "SERVER", "ENDPOINT"};
  if (apps) header.insert(header.begin() + 2, "APP");
  Table table(std::move(header));
  for (const auto& sub : subs) {
    std::vector<std::string> row{printable(sub.name, kNameWidth), std::string(store::to_string(sub.state)),
                                 local_time(sub.created_at, false), printable(sub.server, kServerWidth),
                                 elide_middle(printable(sub.endpoint, kUnlimited), kEndpointWidth, kEndpointTail)};
    if (apps) row.insert(row.begin() + 2, sub.app ? printable(sub.app->service, kNameWidth) : "-");
    table.add_row(std::move(row));
  }
  return table.render();
}

}  // namespace

int run_list(const GlobalOptions& g, const ListOptions& o) {
  setup_logging(g);  // the store's warnings (e.g. a corrected mode) go to stderr, never into the output
  auto opened = open_store_read_only(g);
  if (!opened) {
    print_error(opened.error().message());
    return kExitFailure;
  }
  std::vector<store::Subscription> subs;
  if (*opened) {
    auto listed = (*opened)->list_subscriptions();
    if (!listed) {
      print_error(listed.error().message());
      return kExitFailure;
    }
    subs = std::move(*listed);
  }

  std::string out;
  if (o.names) {
    for (const auto& sub : subs) {
      // Only names a shell word can hold as they are; others are typed by hand.
      if (!sub.name.empty() && sub.name.find_first_of(" \t\n\"'\\$`") == std::string::npos) out += sub.name + "\n";
    }
  } else if (o.json) {
    auto array = nlohmann::ordered_json::array();
    for (const auto& sub : subs) array.push_back(to_json(sub));
    out = array.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else if (subs.empty()) {
    if (*opened) {
      std::fprintf(stderr, "webpushd: no subscriptions yet; create one with `webpushd subscribe`\n");
    } else {
      std::fprintf(stderr, "webpushd: no subscriptions yet (no database in %s); create one with `webpushd subscribe`\n",
                   state_dir(g).c_str());
    }
    return kExitOk;
  } else {
    out = subscription_table(subs);
  }
  if (!write_stdout(out)) {
    print_error("cannot write to standard output");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace webpush::cli
