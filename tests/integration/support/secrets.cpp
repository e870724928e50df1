#include "secrets.h"

#include <sqlite3.h>

#include <openssl/evp.h>

#include <cctype>
#include <memory>

#include "support.h"
#include "webpush/core/base64url.h"

namespace webpush::testing {

namespace {

std::string standard_base64(ByteView b) {
  std::string out(4 * ((b.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), b.data(), static_cast<int>(b.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Secrets read_secrets(const std::filesystem::path& db, const std::string& name) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    throw SupportError("cannot open " + db.string());
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> conn(raw, &sqlite3_close);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(conn.get(), "SELECT private_key, auth_secret FROM subscriptions WHERE name = ?1", -1, &stmt,
                     nullptr);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> owned(stmt, &sqlite3_finalize);
  sqlite3_bind_text(stmt, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(stmt) != SQLITE_ROW) throw SupportError("no subscription " + name + " in " + db.string());
  const auto blob = [&](int col) {
    const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, col));
    return Bytes(p, p + sqlite3_column_bytes(stmt, col));
  };
  return {blob(0), blob(1)};
}

std::vector<std::string> spellings(ByteView secret) {
  std::string b64 = standard_base64(secret);
  std::string b64_bare = b64.substr(0, b64.find('='));
  return {to_hex(secret),
          upper(to_hex(secret)),
          b64,
          b64_bare,
          base64url_encode(secret),
          base64url_encode(secret) + std::string((4 - base64url_encode(secret).size() % 4) % 4, '='),
          std::string(as_chars(secret))};
}

}  // namespace webpush::testing
