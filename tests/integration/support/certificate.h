// Test certificates made on the spot (OpenSSL), for the service's wss://.
#pragma once

#include <filesystem>
#include <string>

namespace webpush::testing {

/// Writes a self-signed P-256 certificate (PEM), valid for an hour and usable as
/// its own CA, with the subjectAltName `san` (e.g. "IP:127.0.0.1"), and its
/// private key. Throws SupportError on failure.
void write_self_signed_certificate(const std::filesystem::path& cert, const std::filesystem::path& key,
                                   const std::string& san);

}  // namespace webpush::testing
