// What must never leave the daemon: a subscription's private key and auth secret,
// read from its database behind the store's back, and every spelling of such
// bytes a log or trace line could hold.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "webpush/core/bytes.h"

namespace webpush::testing {

struct Secrets {
  Bytes private_key;
  Bytes auth_secret;
};

/// The raw private key and auth secret of subscription `name` in the database `db`.
Secrets read_secrets(const std::filesystem::path& db, const std::string& name);

/// Every spelling of `secret` worth searching for: hex (both cases), base64 and
/// base64url (padded or not), and the raw bytes.
std::vector<std::string> spellings(ByteView secret);

}  // namespace webpush::testing
