// The fixture of the push-service integration tests: a fresh `webpushd serve`
// per test on 127.0.0.1 port 0 with its own state directory, and helpers that
// speak to it as an application server would.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http_client.h"
#include "push_client.h"
#include "service_process.h"
#include "support.h"
#include "webpush/crypto/keys.h"
#include "webpush/crypto/vapid.h"

namespace webpush::testing {

class ServiceTest : public ::testing::Test {
 protected:
  /// Starts the service with the default options plus `extra`.
  void start(std::vector<std::string> extra = {});
  void TearDown() override;

  ServiceProcess& service();
  [[nodiscard]] std::uint16_t port() { return service().port(); }
  PushClient connect(WsOptions options = {});

  /// A user agent that said hello and subscribed one channel.
  struct Subscribed {
    PushClient ua;
    std::string uaid;
    std::string channel_id;
    std::string endpoint;
  };
  Subscribed subscribe(const std::optional<std::string>& key = std::nullopt);
  /// Subscribes, then disconnects and waits until the service saw it: what is
  /// posted afterwards is stored.
  Subscribed offline_subscriber(const std::optional<std::string>& key = std::nullopt);
  /// Polls /stats until the service counts no open WebSocket.
  void wait_disconnected();

  /// POSTs to an endpoint URL (only its path is used).
  HttpResult post(const std::string& endpoint, const Headers& headers, std::string_view body = {},
                  const HttpRequestOptions& options = {});
  /// POST with just a TTL (and no body).
  HttpResult push(const std::string& endpoint, int ttl = 60, const Headers& extra = {}, std::string_view body = {});
  nlohmann::json stats();

  /// VAPID headers for `endpoint`, signed by `key`, optionally with altered claims.
  static Headers vapid(const crypto::KeyPair& key, const std::string& endpoint, crypto::VapidScheme scheme,
                       const std::function<void(crypto::VapidClaims&)>& edit = {});
  /// The base64url (padded, as Firefox sends it) of a key's public point.
  static std::string padded_public_key(const crypto::KeyPair& key);

  /// The message id of a 201 answer: the last segment of its Location.
  static std::string message_id(const HttpResult& r);

  TempDir tmp_;

 private:
  std::unique_ptr<ServiceProcess> service_;
};

/// Asserts an autopush error answer: status, errno (nullopt: JSON null) and the body's shape.
void expect_error(const HttpResult& r, int status, std::optional<int> errnum);

/// A key pair or a failed test.
crypto::KeyPair make_key();

}  // namespace webpush::testing
