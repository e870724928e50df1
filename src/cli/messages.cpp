// `webpushd messages`: the inbox, as a table or as the JSON lines of `run --jsonl`.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "inbox_commands.h"
#include "webpush/core/clock.h"
#include "webpush/sinks/sink.h"

namespace webpush::cli {

void add_messages_options(CLI::App& sub, MessagesOptions& o) {
  sub.add_flag("--json", o.json,
               "print JSON lines, one per message, exactly as `run --jsonl` does (failed ones as decrypt_error)");
  sub.add_option("--since", o.since,
                 "only messages received at or after TIME: RFC 3339 (2026-11-27T10:00:00Z), a date "
                 "(2026-11-27, local midnight) or a duration ago (30s, 10m, 2h, 3d, 1w)")
      ->type_name("TIME")
      ->each([&o](const std::string&) { o.since_given = true; });
  sub.add_option("--subscription", o.subscription, "only the messages of this subscription (its name or id)")
      ->type_name("NAME");
  sub.add_option("--limit", o.limit, "only the newest N matches (still printed oldest first)")
      ->type_name("N")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            const bool whole =
                !value.empty() && value.size() <= 18 && value.find_first_not_of("0123456789") == std::string::npos;
            if (whole && std::stoll(value) >= 1) return "";
            return "'" + value + "' is not a whole number of at least 1";
          },
          ""));
  sub.add_option("--state", o.state, "only messages in this state")
      ->type_name("STATE")
      ->check(CLI::IsMember({"stored", "delivered", "failed"}));
  sub.footer(
      "Oldest first. Reads the store read-only: works while the daemon runs. Without a database yet the inbox is "
      "empty (exit 0).");
}

namespace {

// Digits only, at most `max_digits`; nullopt otherwise.
std::optional<std::int64_t> number(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  std::int64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<std::int64_t> parse_duration_ago(std::string_view text, std::int64_t now_ms) {
  if (text.size() < 2) return std::nullopt;
  std::int64_t unit_ms = 0;
  switch (text.back()) {
    case 's': unit_ms = 1000; break;
    case 'm': unit_ms = 60 * 1000; break;
    case 'h': unit_ms = 3600 * 1000; break;
    case 'd': unit_ms = 86400 * 1000; break;
    case 'w': unit_ms = 7 * 86400 * 1000; break;
    default: return std::nullopt;
  }
  const auto n = number(text.substr(0, text.size() - 1), 9);  // 10^9 weeks still fits in ms
  if (!n) return std::nullopt;
  return now_ms - *n * unit_ms;
}

// The `len` digits at `at` in `text`; nullopt if they are not all there.
std::optional<std::int64_t> digits_at(std::string_view text, std::size_t at, std::size_t len) {
  if (at + len > text.size()) return std::nullopt;
  return number(text.substr(at, len), len);
}

// "2026-11-27", the first ten characters of a timestamp.
std::optional<std::chrono::year_month_day> parse_date(std::string_view text) {
  const auto year = digits_at(text, 0, 4);
  const auto month = digits_at(text, 5, 2);
  const auto day = digits_at(text, 8, 2);
  if (!year || !month || !day || text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(static_cast<int>(*year)),
                                         std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;
  return date;
}

// What follows the date of a timestamp (all zero for a date alone).
struct TimeOfDay {
  std::int64_t hour = 0, minute = 0, second = 0, millis = 0;
  std::optional<std::int64_t> offset_minutes;  // nullopt: local time
};

// ".250" at `i`: milliseconds (further digits ignored); moves `i` past the digits. False without any.
bool parse_fraction(std::string_view text, std::size_t& i, std::int64_t& millis) {
  std::size_t end = i + 1;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  if (end == i + 1) return false;
  std::string digits(text.substr(i + 1, std::min<std::size_t>(end - i - 1, 3)));
  digits.resize(3, '0');
  millis = *number(digits, 3);
  i = end;
  return true;
}

// ":SS" and an optional fraction at `i`; moves `i` past them.
bool parse_seconds(std::string_view text, std::size_t& i, TimeOfDay& t) {
  const auto s = digits_at(text, i + 1, 2);
  if (!s || *s > 60) return false;
  t.second = std::min<std::int64_t>(*s, 59);  // a leap second counts as :59
  i += 3;
  if (i < text.size() && text[i] == '.') return parse_fraction(text, i, t.millis);
  return true;
}

// "Z" or "±HH:MM" at `i`, if there; moves `i` past it. False if malformed.
bool parse_offset(std::string_view text, std::size_t& i, TimeOfDay& t) {
  if (text[i] == 'Z' || text[i] == 'z') {
    t.offset_minutes = 0;
    ++i;
  } else if (text[i] == '+' || text[i] == '-') {
    const auto oh = digits_at(text, i + 1, 2);
    const auto om = digits_at(text, i + 4, 2);
    if (!oh || !om || text[i + 3] != ':' || *oh > 23 || *om > 59) return false;
    t.offset_minutes = (text[i] == '-' ? -1 : 1) * (*oh * 60 + *om);
    i += 6;
  }
  return true;
}

// "THH:MM[:SS[.fff]][Z|±HH:MM]" from `i` to the end of `text`, or nothing at all.
std::optional<TimeOfDay> parse_time_of_day(std::string_view text, std::size_t i) {
  TimeOfDay t;
  if (i >= text.size()) return t;
  if (text[i] != 'T' && text[i] != 't' && text[i] != ' ') return std::nullopt;
  const auto h = digits_at(text, i + 1, 2);
  const auto m = digits_at(text, i + 4, 2);
  if (!h || !m || text[i + 3] != ':' || *h > 23 || *m > 59) return std::nullopt;
  t.hour = *h;
  t.minute = *m;
  i += 6;
  if (i < text.size() && text[i] == ':' && !parse_seconds(text, i, t)) return std::nullopt;
  if (i < text.size() && !parse_offset(text, i, t)) return std::nullopt;
  if (i != text.size()) return std::nullopt;
  return t;
}

// Milliseconds since the epoch of a date and time with a UTC offset.
std::int64_t utc_ms(const std::chrono::year_month_day& date, const TimeOfDay& t) {
  const std::int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  const std::int64_t secs = days * 86400 + t.hour * 3600 + t.minute * 60 + t.second - *t.offset_minutes * 60;
  return secs * 1000 + t.millis;
}

// Milliseconds since the epoch of a date and time in the local zone.
std::optional<std::int64_t> local_ms(const std::chrono::year_month_day& date, const TimeOfDay& t) {
  std::tm tm{};
  tm.tm_year = static_cast<int>(date.year()) - 1900;
  tm.tm_mon = static_cast<int>(static_cast<unsigned>(date.month())) - 1;
  tm.tm_mday = static_cast<int>(static_cast<unsigned>(date.day()));
  tm.tm_hour = static_cast<int>(t.hour);
  tm.tm_min = static_cast<int>(t.minute);
  tm.tm_sec = static_cast<int>(t.second);
  tm.tm_isdst = -1;  // whatever the zone says for that day
  const std::time_t time = std::mktime(&tm);
  if (time == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<std::int64_t>(time) * 1000 + t.millis;
}

// "2026-11-27T10:00:00.250+01:00" and its shorter forms; see parse_since().
std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  const auto date = parse_date(text);
  if (!date) return std::nullopt;
  const auto time = parse_time_of_day(text, 10);
  if (!time) return std::nullopt;
  if (time->offset_minutes) return utc_ms(*date, *time);
  return local_ms(*date, *time);
}

// The subscription label the daemon puts in its events: the name, or the channel
// ID when no subscription owns the row any more (agent.cpp, deliver_stored).
std::string label(const store::InboxEntry& e, const std::map<std::int64_t, std::string>& names) {
  if (e.subscription_id) {
    if (const auto it = names.find(*e.subscription_id); it != names.end()) return it->second;
  }
  return e.channel_id;
}

// The event the daemon handed to its sinks for this row (the same sinks::event_of).
sinks::Event to_event(const store::InboxEntry& e, const std::string& subscription) {
  Message m = e;
  m.subscription = subscription;
  if (e.state == store::InboxState::failed && !m.error) m.error = "the message could not be processed";
  return sinks::event_of(m);
}

constexpr std::size_t kSubscriptionWidth = 24;
constexpr std::size_t kVersionWidth = 12;
constexpr std::size_t kPayloadWidth = 60;

std::string payload_cell(const sinks::Event& event) {
  if (const auto* failed = std::get_if<sinks::DecryptErrorEvent>(&event)) {
    return printable("error: " + failed->error, kPayloadWidth);
  }
  const auto& m = std::get<sinks::MessageEvent>(event);
  if (!m.payload) return "(no data)";
  if (m.payload->empty()) return "(empty)";
  // Text or binary exactly as the JSON line decides it (payload null: not UTF-8).
  const auto line = nlohmann::json::parse(sinks::to_json_line(event));
  const auto& text = line.at("payload");
  if (text.is_null()) return fmt::format("(binary, {} bytes)", m.payload->size());
  return printable(text.get<std::string>(), kPayloadWidth);
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() < 19 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// The filter of the options other than --subscription, or the usage error of --since.
tl::expected<store::MessageFilter, std::string> filter_from_options(const MessagesOptions& o) {
  store::MessageFilter filter;
  if (o.since_given) {
    filter.since = parse_since(o.since, SystemClock().now().wall_ms);
    if (!filter.since) {
      return tl::unexpected(fmt::format(
          "--since: '{}' is not a time; use RFC 3339 (2026-11-27T10:00:00Z), a date (2026-11-27) or a duration "
          "ago (10m, 2h, 3d)",
          printable(o.since, 40)));
    }
  }
  if (o.limit > 0) filter.limit = o.limit;
  if (o.state == "stored") filter.state = store::InboxState::stored;
  if (o.state == "delivered") filter.state = store::InboxState::delivered;
  if (o.state == "failed") filter.state = store::InboxState::failed;
  return filter;
}

int no_such_subscription(const MessagesOptions& o) {
  print_error(fmt::format("no subscription named '{}'", printable(o.subscription, 80)));
  return kExitFailure;
}

// Restricts `filter` to --subscription (a name, else an id). Returns kExitOk, or the
// exit code after printing why not.
int filter_subscription(store::Store& store, const MessagesOptions& o, store::MessageFilter& filter) {
  auto found = store.find_subscription_by_name(o.subscription);
  if (found && !*found && all_digits(o.subscription)) {
    found = store.find_subscription_by_id(std::stoll(o.subscription));
  }
  if (!found) {
    print_error(found.error().message());
    return kExitFailure;
  }
  if (!*found) return no_such_subscription(o);
  filter.subscription_id = (*found)->id;
  return kExitOk;
}

// Subscription id → name, for the labels.
Result<std::map<std::int64_t, std::string>> subscription_names(store::Store& store) {
  auto subs = store.list_subscriptions();
  if (!subs) return tl::unexpected(subs.error());
  std::map<std::int64_t, std::string> names;
  for (const auto& s : *subs) names.emplace(s.id, s.name);
  return names;
}

// The rows as JSON lines; false if stdout failed.
bool write_json_lines(const std::vector<store::InboxEntry>& rows, const std::map<std::int64_t, std::string>& names) {
  bool ok = true;
  // Whole lines in chunks: a reader of a pipe sees complete lines without a write per message.
  std::string chunk;
  for (const auto& e : rows) {
    const sinks::Event event = to_event(e, label(e, names));
    // A UnifiedPush app's message (its payload is the encrypted body) says which app. Other
    // lines stay exactly what the JSON-lines sink wrote.
    chunk += e.app ? sinks::to_json_line(event, {{"app", *e.app}}) : sinks::to_json_line(event);
    chunk += '\n';
    if (chunk.size() >= 64 * 1024) {
      ok = ok && write_stdout(chunk);
      chunk.clear();
    }
  }
  return ok && write_stdout(chunk);
}

// The rows as a table; false if stdout failed.
bool write_table(const std::vector<store::InboxEntry>& rows, const std::map<std::int64_t, std::string>& names) {
  Table table({"RECEIVED", "SUBSCRIPTION", "STATE", "VERSION", "PAYLOAD"});
  for (const auto& e : rows) {
    const std::string name = label(e, names);
    table.add_row({local_time(e.received_at, true), printable(name, kSubscriptionWidth),
                   std::string(store::to_string(e.state)), printable(e.version, kVersionWidth),
                   payload_cell(to_event(e, name))});
  }
  return write_stdout(table.render());
}

// Prints the matching messages of an existing store; returns the exit code.
int print_messages(store::Store& store, const MessagesOptions& o, store::MessageFilter filter) {
  if (!o.subscription.empty()) {
    if (int found = filter_subscription(store, o, filter); found != kExitOk) return found;
  }
  auto names = subscription_names(store);
  if (!names) {
    print_error(names.error().message());
    return kExitFailure;
  }
  auto rows = store.list_messages(filter);
  if (!rows) {
    print_error(rows.error().message());
    return kExitFailure;
  }
  bool ok = true;
  if (o.json) {
    ok = write_json_lines(*rows, *names);
  } else if (rows->empty()) {
    const bool filtered = filter.since || filter.subscription_id || filter.state;
    std::fprintf(stderr, "webpushd: %s\n", filtered ? "no messages match" : "no messages yet");
  } else {
    ok = write_table(*rows, *names);
  }
  if (!ok) {
    print_error("cannot write to standard output");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

std::optional<std::int64_t> parse_since(std::string_view text, std::int64_t now_ms) {
  if (text.empty()) return std::nullopt;
  if (text.size() >= 10 && text[4] == '-') return parse_timestamp(text);
  return parse_duration_ago(text, now_ms);
}

int run_messages(const GlobalOptions& g, const MessagesOptions& o) {
  setup_logging(g);  // the store's warnings (e.g. a corrected mode) go to stderr, never into the output
  auto filter = filter_from_options(o);
  if (!filter) {
    print_error(filter.error());
    return kExitUsage;
  }
  auto opened = open_store_read_only(g);
  if (!opened) {
    print_error(opened.error().message());
    return kExitFailure;
  }
  if (!*opened) {
    if (!o.subscription.empty()) return no_such_subscription(o);
    if (!o.json) {
      std::fprintf(stderr, "webpushd: no messages yet (no database in %s)\n", state_dir(g).c_str());
    }
    return kExitOk;
  }
  return print_messages(**opened, o, *filter);
}

}  // namespace webpush::cli
