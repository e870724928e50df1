// Decrypt throughput of a 4096-byte aes128gcm Web Push message through the
// public API, beside a "floor" that does only the unavoidable work with direct
// EVP calls: decode and check the sender's point, one ECDH derive, the HKDFs
// (IKM, CEK, nonce) and one AES-128-GCM decrypt. The ratio of the two is the
// API's overhead.
#include <benchmark/benchmark.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <fstream>

#include <nlohmann/json.hpp>

#include "webpush/core/base64url.h"
#include "webpush/crypto/aesgcm.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/webpush.h"

namespace {

using webpush::Bytes;
using webpush::crypto::KeyPair;

struct Fixture {
  KeyPair ua;
  Bytes auth;
  Bytes body;  // 4096 bytes: 86-byte header + 3993 plaintext + delimiter + tag
  Bytes plaintext;
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "benchmark setup failed: %s\n", what);
  std::abort();
}

const Fixture& fixture() {
  static const Fixture f = [] {
    auto ua = KeyPair::generate();
    auto auth = webpush::crypto::generate_auth_secret();
    if (!ua || !auth) die("keys");
    auto pub = ua->public_key();
    if (!pub) die("public key");
    Bytes plain(webpush::crypto::kWebPushMaxBody - webpush::crypto::kWebPushHeaderSize - 17);
    for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<std::uint8_t>(i * 7);
    auto body = webpush::crypto::webpush_encrypt(plain, *pub, *auth);
    if (!body || body->size() != 4096) die("encrypt");
    return Fixture{std::move(*ua), Bytes(auth->begin(), auth->end()), std::move(*body), std::move(plain)};
  }();
  return f;
}

void BM_Decrypt4096_PublicApi(benchmark::State& state) {
  const Fixture& f = fixture();
  for (auto _ : state) {
    auto plain = webpush::crypto::webpush_decrypt(f.body, {f.ua, f.auth});
    if (!plain || plain->size() != f.plaintext.size()) {
      state.SkipWithError("decrypt failed");
      break;
    }
    benchmark::DoNotOptimize(plain->data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(f.body.size()));
}
BENCHMARK(BM_Decrypt4096_PublicApi);

// ---- floor -----------------------------------------------------------------

struct FloorCtx {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* mctx = EVP_MAC_CTX_new(mac);
  const EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  EVP_CIPHER_CTX* cctx = EVP_CIPHER_CTX_new();
  EVP_PKEY* tmpl = nullptr;

  FloorCtx() {
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    EVP_MAC_CTX_set_params(mctx, params);
    EVP_PKEY_CTX* pc = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    char group[] = "prime256v1";
    EVP_PKEY_paramgen_init(pc);
    EVP_PKEY_CTX_set_group_name(pc, group);
    EVP_PKEY_paramgen(pc, &tmpl);
    EVP_PKEY_CTX_free(pc);
  }

  void hmac(const std::uint8_t* key, std::size_t klen, const std::uint8_t* a, std::size_t alen, const std::uint8_t* b,
            std::size_t blen, std::uint8_t out[32]) {
    std::size_t len = 0;
    EVP_MAC_init(mctx, key, klen, nullptr);
    EVP_MAC_update(mctx, a, alen);
    if (blen) EVP_MAC_update(mctx, b, blen);
    EVP_MAC_final(mctx, out, &len, 32);
  }
};

void BM_Decrypt4096_Floor(benchmark::State& state) {
  const Fixture& f = fixture();
  static FloorCtx c;
  Bytes out(f.body.size());
  const std::uint8_t* body = f.body.data();
  const std::uint8_t* as_pub = body + 21;
  const std::uint8_t* ct = body + 86;
  const std::size_t ct_len = f.body.size() - 86 - 16;
  static const std::uint8_t kCek[] = "Content-Encoding: aes128gcm\0\1";
  static const std::uint8_t kNonce[] = "Content-Encoding: nonce\0\1";
  for (auto _ : state) {
    // Sender key: copy group parameters, decode the point (on-curve check).
    EVP_PKEY* peer = EVP_PKEY_new();
    EVP_PKEY_copy_parameters(peer, c.tmpl);
    if (EVP_PKEY_set1_encoded_public_key(peer, as_pub, 65) != 1) {
      state.SkipWithError("peer");
      break;
    }
    // One ECDH derive, peer already validated.
    EVP_PKEY_CTX* dctx = EVP_PKEY_CTX_new_from_pkey(nullptr, f.ua.pkey(), nullptr);
    std::uint8_t secret[32];
    std::size_t slen = sizeof secret;
    EVP_PKEY_derive_init(dctx);
    EVP_PKEY_derive_set_peer_ex(dctx, peer, 0);
    EVP_PKEY_derive(dctx, secret, &slen);
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(peer);
    // IKM = HKDF(auth, secret, "WebPush: info\0" || ua || as).
    std::uint8_t info[144 + 1];
    std::memcpy(info, "WebPush: info", 14);
    std::memcpy(info + 14, f.ua.public_bytes().data(), 65);
    std::memcpy(info + 79, as_pub, 65);
    info[144] = 1;
    std::uint8_t prk[32], ikm[32], prk2[32], cek[32], nonce[32];
    c.hmac(f.auth.data(), f.auth.size(), secret, 32, nullptr, 0, prk);
    c.hmac(prk, 32, info, sizeof info, nullptr, 0, ikm);
    // CEK and NONCE from salt and IKM.
    c.hmac(body, 16, ikm, 32, nullptr, 0, prk2);
    c.hmac(prk2, 32, kCek, 29, nullptr, 0, cek);
    c.hmac(prk2, 32, kNonce, 25, nullptr, 0, nonce);
    // One AES-128-GCM decrypt.
    int len = 0;
    int fin = 0;
    EVP_DecryptInit_ex2(c.cctx, c.cipher, cek, nonce, nullptr);
    EVP_DecryptUpdate(c.cctx, out.data(), &len, ct, static_cast<int>(ct_len));
    EVP_CIPHER_CTX_ctrl(c.cctx, EVP_CTRL_GCM_SET_TAG, 16, const_cast<std::uint8_t*>(ct + ct_len));
    if (EVP_DecryptFinal_ex(c.cctx, out.data() + len, &fin) != 1) {
      state.SkipWithError("tag");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(f.body.size()));
}
BENCHMARK(BM_Decrypt4096_Floor);

// Context for the figures: one P-256 ECDH alone (what `openssl speed ecdhp256` measures).
void BM_EcdhOnly(benchmark::State& state) {
  const Fixture& f = fixture();
  auto peer_key = KeyPair::generate();
  auto peer = peer_key->public_key();
  for (auto _ : state) {
    auto s = webpush::crypto::ecdh(f.ua, *peer);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EcdhOnly);

void BM_Encrypt4096(benchmark::State& state) {
  const Fixture& f = fixture();
  auto pub = f.ua.public_key();
  for (auto _ : state) {
    auto body = webpush::crypto::webpush_encrypt(f.plaintext, *pub, f.auth);
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Encrypt4096);

// The message http_ece encrypted (tests/bench/http_ece/decrypt.js writes it to
// the file named by WEBPUSH_BENCH_MESSAGE), so both decrypt the same bytes.
void BM_Decrypt4096_HttpEceMessage(benchmark::State& state, const std::string& path) {
  std::ifstream in(path);
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) die("WEBPUSH_BENCH_MESSAGE is not JSON");
  auto d = webpush::base64url_decode(j.value("d", ""));
  auto auth = webpush::base64url_decode(j.value("auth", ""));
  auto body = webpush::base64url_decode(j.value("body", ""));
  if (!d || !auth || !body) die("WEBPUSH_BENCH_MESSAGE fields");
  auto key = KeyPair::from_private(*d);
  if (!key) die("WEBPUSH_BENCH_MESSAGE key");
  for (auto _ : state) {
    auto plain = webpush::crypto::webpush_decrypt(*body, {*key, *auth});
    if (!plain) {
      state.SkipWithError(plain.error().to_string().c_str());
      break;
    }
    benchmark::DoNotOptimize(plain->data());
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* path = std::getenv("WEBPUSH_BENCH_MESSAGE")) {
    benchmark::RegisterBenchmark("BM_Decrypt4096_HttpEceMessage", BM_Decrypt4096_HttpEceMessage, std::string(path));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
