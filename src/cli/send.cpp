// `webpushd send` and `webpushd vapid-keygen`: the application-server side.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "sender.h"
#include "webpush/core/base64url.h"

namespace webpush::cli {

void add_send_options(CLI::App& sub, SendCommandOptions& o) {
  sub.add_option("subscription", o.subscription_file, "PushSubscription JSON file, or - for stdin")
      ->required()
      ->type_name("SUBSCRIPTION.json");
  auto* payload = sub.add_option("--payload", o.payload, "the message text")->type_name("TEXT");
  sub.add_option("--file", o.payload_file, "send the bytes of FILE")->excludes(payload)->check(CLI::ExistingFile);
  sub.add_option("--encoding", o.encoding, "content coding; none sends a push without data")
      ->capture_default_str()
      ->check(CLI::IsMember({"aes128gcm", "aesgcm", "none"}));
  sub.add_option("--ttl", o.ttl, "seconds the service keeps the message for an offline user agent")
      ->capture_default_str()
      ->check(CLI::Range(0, 2419200));
  sub.add_option("--urgency", o.urgency, "very-low, low, normal or high")
      ->check(CLI::IsMember({"very-low", "low", "normal", "high"}));
  sub.add_option("--topic", o.topic, "replace an undelivered message with the same topic (<= 32 base64url chars)");
  sub.add_option("--vapid-key-file", o.vapid_key_file, "sign with this VAPID key (PEM or base64url private key)")
      ->check(CLI::ExistingFile);
  sub.add_option("--vapid-subject", o.vapid_subject, "VAPID contact URI (mailto: or https:)")->capture_default_str();
  sub.add_flag("--legacy-vapid", o.legacy_vapid, "use the draft 'WebPush <jwt>' + Crypto-Key header form");
  sub.add_option("--count", o.count, "send N messages")->capture_default_str()->check(CLI::Range(1, 10'000'000));
  sub.add_option("--rate", o.rate, "messages per second with --count (0: as fast as possible)")
      ->check(CLI::Range(0.0, 1e6));
  sub.add_option("--ca-file", o.ca_file, "extra CA certificates (PEM) trusted for the endpoint, next to the system's")
      ->check(CLI::ExistingFile);
}

void add_vapid_keygen_options(CLI::App& sub, std::string& path) {
  sub.add_option("file", path, "where to write the private key (PEM, mode 0600; must not exist)")->required();
}

int run_vapid_keygen(const std::string& path) {
  auto key = generate_vapid_key_file(path);
  if (!key) {
    print_error(key.error().message());
    return kExitFailure;
  }
  // The public key is what web apps pass as applicationServerKey.
  std::printf("%s\n", base64url_encode(key->public_bytes()).c_str());
  std::fprintf(stderr, "webpushd: wrote %s; the line above is the public key (applicationServerKey)\n", path.c_str());
  return kExitOk;
}

namespace {

std::string read_all(std::istream& in) {
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void progress(int done, int total, int failed, double elapsed) {
  constexpr int kWidth = 30;
  const int filled = total > 0 ? done * kWidth / total : kWidth;
  std::fprintf(stderr, "\r[%s%s] %d/%d  %d failed  %.0f msg/s ",
               std::string(static_cast<std::size_t>(filled), '#').c_str(),
               std::string(static_cast<std::size_t>(kWidth - filled), '.').c_str(), done, total, failed,
               elapsed > 0 ? done / elapsed : 0.0);
  std::fflush(stderr);
}

}  // namespace

namespace {

// The PushSubscription in `file` (- for stdin); nullopt when it cannot be read or used (said on stderr).
std::optional<PushSubscription> load_subscription(const std::string& file) {
  std::string text;
  if (file == "-") {
    text = read_all(std::cin);
  } else {
    std::ifstream in(file);
    if (!in) {
      print_error("cannot read " + file);
      return std::nullopt;
    }
    text = read_all(in);
  }
  auto sub = parse_push_subscription(text);
  if (!sub) {
    print_error(file + ": " + sub.error().message());
    return std::nullopt;
  }
  return std::move(*sub);
}

std::string load_payload(const SendCommandOptions& o) {
  if (o.payload_file.empty()) return o.payload;
  std::ifstream in(o.payload_file, std::ios::binary);
  return read_all(in);
}

// The VAPID key of --vapid-key-file, none without the flag.
Result<std::optional<crypto::KeyPair>> load_optional_vapid_key(const std::string& file) {
  if (file.empty()) return std::optional<crypto::KeyPair>();
  auto key = load_vapid_key(file);
  if (!key) return tl::unexpected(key.error());
  return std::optional<crypto::KeyPair>(std::move(*key));
}

SendOptions send_options(const SendCommandOptions& o, const crypto::KeyPair* vapid) {
  SendOptions options;
  options.push.encoding = o.encoding;
  options.push.ttl = o.ttl;
  options.push.urgency = o.urgency;
  options.push.topic = o.topic;
  options.push.vapid = vapid;
  options.push.vapid_subject = o.vapid_subject;
  options.push.vapid_scheme = o.legacy_vapid ? crypto::VapidScheme::webpush : crypto::VapidScheme::vapid;
  options.ca_file = o.ca_file;
  return options;
}

int send_once(Sender& sender, const PushSubscription& sub, const std::string& payload, const SendOptions& options) {
  auto r = sender.send(sub, as_bytes(payload), options);
  if (!r) {
    print_error(r.error().message());
    return kExitFailure;
  }
  std::printf("%ld\n", r->status);
  if (!r->location.empty()) std::printf("Location: %s\n", r->location.c_str());
  if (!r->ttl.empty()) std::printf("TTL: %s\n", r->ttl.c_str());
  if (!r->body.empty()) std::printf("%s\n", r->body.c_str());
  return r->status >= 200 && r->status < 300 ? kExitOk : kExitFailure;
}

// What a burst of sends came to.
struct BurstStats {
  int failed = 0;
  std::vector<double> latencies;
  std::map<long, int> statuses;  // 0: no response

  void record(const Result<SendResponse>& r) {
    if (!r) {
      ++failed;
      ++statuses[0];
      return;
    }
    ++statuses[r->status];
    latencies.push_back(r->seconds);
    if (r->status < 200 || r->status >= 300) ++failed;
  }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// With --rate, waits until message `i` is due.
void pace(std::chrono::steady_clock::time_point start, int i, double rate) {
  if (rate <= 0) return;
  const auto due =
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(i / rate));
  std::this_thread::sleep_until(due);
}

void print_summary(BurstStats& stats, int count, double elapsed) {
  auto& latencies = stats.latencies;
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies.empty()
               ? 0.0
               : latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(p * latencies.size()))];
  };
  std::printf("sent %d in %.2f s (%.0f msg/s), %d failed\n", count, elapsed, count / elapsed, stats.failed);
  for (const auto& [status, n] : stats.statuses) {
    std::printf("  %s: %d\n", status == 0 ? "no response" : std::to_string(status).c_str(), n);
  }
  std::printf("POST latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", pct(0.50) * 1000, pct(0.99) * 1000,
              latencies.empty() ? 0.0 : latencies.back() * 1000);
}

// Bursts: a progress bar on a terminal, a summary at the end.
int send_burst(Sender& sender, const PushSubscription& sub, const std::string& payload, const SendOptions& options,
               const SendCommandOptions& o) {
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  BurstStats stats;
  stats.latencies.reserve(static_cast<std::size_t>(o.count));
  for (int i = 0; i < o.count; ++i) {
    pace(start, i, o.rate);
    const std::string text = o.count > 1 && payload.empty() ? fmt::format("message {}", i + 1) : payload;
    stats.record(sender.send(sub, as_bytes(text), options));
    const double elapsed = seconds_since(start);
    if (tty && (i % 50 == 0 || i + 1 == o.count)) progress(i + 1, o.count, stats.failed, elapsed);
  }
  if (tty) std::fputc('\n', stderr);
  print_summary(stats, o.count, seconds_since(start));
  return stats.failed == 0 ? kExitOk : kExitFailure;
}

}  // namespace

int run_send(const GlobalOptions& /*g*/, const SendCommandOptions& o) {
  const auto sub = load_subscription(o.subscription_file);
  if (!sub) return kExitUsage;
  const std::string payload = load_payload(o);
  auto vapid = load_optional_vapid_key(o.vapid_key_file);
  if (!vapid) {
    print_error(vapid.error().message());
    return kExitUsage;
  }
  const SendOptions options = send_options(o, *vapid ? &**vapid : nullptr);
  Sender sender;
  if (o.count == 1) return send_once(sender, *sub, payload, options);
  return send_burst(sender, *sub, payload, options, o);
}

}  // namespace webpush::cli
