// Sustained inbox ingest through the public Store API: put-if-new, then
// mark-delivered, as the daemon does for every message, in WAL mode on a real
// disk (a temp dir under $WEBPUSH_BENCH_DIR, else /var/tmp — not a tmpfs, where
// fsync costs nothing; the filesystem is printed in the context).
//
//   BM_PerMessage     one transaction per put and one per mark-delivered: the
//                     daemon without batching (two commits per message)
//   BM_GroupCommit    a group of N puts in one transaction (then the group is
//                     acked), and the group marked delivered in one transaction
//
// synchronous=FULL (full:1) is the daemon's setting; full:0 (NORMAL) is shown
// for comparison. Rates are wall-clock (UseRealTime): the cost is the fsync wait,
// which CPU time does not see. Payloads are 1 KiB.
#include <benchmark/benchmark.h>

#include <sys/statfs.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "webpush/store/store.h"

namespace {

using webpush::Bytes;
using webpush::store::InboxEntry;
using webpush::store::OpenMode;
using webpush::store::Store;
using webpush::store::StoreOptions;
using webpush::store::Subscription;
using webpush::store::SubscriptionState;
using webpush::store::Synchronous;

constexpr int kSubscriptions = 10;
constexpr std::size_t kPayloadSize = 1024;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "benchmark setup failed: %s\n", what.c_str());
  std::abort();
}

std::filesystem::path bench_base() {
  const char* dir = std::getenv("WEBPUSH_BENCH_DIR");
  return dir != nullptr && *dir != '\0' ? std::filesystem::path(dir) : std::filesystem::path("/var/tmp");
}

std::string filesystem_of(const std::filesystem::path& dir) {
  struct statfs st {};
  if (::statfs(dir.c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0xEF53: return "ext2/3/4";
    case 0x01021994: return "tmpfs (fsync is free: figures are not representative)";
    case 0x9123683E: return "btrfs";
    case 0x58465342: return "xfs";
    case 0x794c7630: return "overlayfs";
    case 0x2FC12FC1: return "zfs";
    case 0xF2F52010: return "f2fs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(st.f_type));
      return buf;
    }
  }
}

// A fresh state directory with a store holding kSubscriptions subscriptions.
class Fixture {
 public:
  explicit Fixture(Synchronous sync) {
    std::string pattern = (bench_base() / "webpushd-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) die("mkdtemp " + pattern);
    dir_ = pattern;
    StoreOptions options;
    options.synchronous = sync;
    auto store = Store::open(dir_ / "state", OpenMode::daemon, options);
    if (!store) die(store.error().to_string());
    store_.emplace(std::move(*store));
    for (int i = 0; i < kSubscriptions; ++i) {
      Subscription s;
      s.name = "bench-" + std::to_string(i);
      s.server = "wss://push.example.net/";
      s.channel_id = "00000000-0000-4000-8000-0000000000" + std::to_string(10 + i);
      s.endpoint = "https://push.example.net/wpush/v2/" + std::to_string(i);
      s.private_key = webpush::SecretBytes(32, 1);
      s.public_key = Bytes(65, 4);
      s.auth_secret = webpush::SecretBytes(16, 2);
      s.state = SubscriptionState::active;
      auto id = store_->add_subscription(s);
      if (!id) die(id.error().to_string());
      subscriptions_.emplace_back(*id, s.channel_id);
    }
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
  ~Fixture() {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Store& store() { return *store_; }

  // The n-th message of the stream, spread over the subscriptions.
  InboxEntry message(std::int64_t n) const {
    const auto& [id, channel] = subscriptions_[static_cast<std::size_t>(n % kSubscriptions)];
    InboxEntry e;
    e.subscription_id = id;
    e.channel_id = channel;
    e.version = "gAAAAABm-version-" + std::to_string(n);
    e.received_at = 1'700'000'000'000 + n;
    e.payload = payload_;
    e.encoding = "aes128gcm";
    return e;
  }

 private:
  std::filesystem::path dir_;
  std::optional<Store> store_;
  std::vector<std::pair<std::int64_t, std::string>> subscriptions_;
  Bytes payload_ = Bytes(kPayloadSize, 0x5a);
};

Synchronous sync_arg(std::int64_t full) { return full != 0 ? Synchronous::full : Synchronous::normal; }

void BM_PerMessage(benchmark::State& state) {
  Fixture f(sync_arg(state.range(0)));
  std::int64_t n = 0;
  for (auto _ : state) {
    auto put = f.store().inbox_put_if_new(f.message(n));
    if (!put || !put->is_new) {
      state.SkipWithError(put ? "duplicate" : put.error().to_string().c_str());
      break;
    }
    if (auto ok = f.store().mark_delivered(put->id, 1'700'000'000'000 + n); !ok) {
      state.SkipWithError(ok.error().to_string().c_str());
      break;
    }
    ++n;
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(BM_PerMessage)->ArgName("full")->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_GroupCommit(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  Fixture f(sync_arg(state.range(1)));
  std::int64_t n = 0;
  std::vector<InboxEntry> group(batch);
  std::vector<std::int64_t> ids;
  ids.reserve(batch);
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i) group[i] = f.message(n + static_cast<std::int64_t>(i));
    auto put = f.store().inbox_put_batch(group);
    if (!put) {
      state.SkipWithError(put.error().to_string().c_str());
      break;
    }
    ids.clear();
    for (const auto& r : *put) ids.push_back(r.id);
    if (auto ok = f.store().mark_delivered_batch(ids, 1'700'000'000'000 + n); !ok) {
      state.SkipWithError(ok.error().to_string().c_str());
      break;
    }
    n += static_cast<std::int64_t>(batch);
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(BM_GroupCommit)
    ->ArgNames({"batch", "full"})
    ->Args({10, 1})
    ->Args({100, 1})
    ->Args({10, 0})
    ->Args({100, 0})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path base = bench_base();
  benchmark::AddCustomContext("store_dir", base.string());
  benchmark::AddCustomContext("store_filesystem", filesystem_of(base));
  benchmark::AddCustomContext("payload_bytes", std::to_string(kPayloadSize));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
