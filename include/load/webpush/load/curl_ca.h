// Extra CA certificates for a libcurl handle, trusted next to the system store
// (as the WebSocket side's ClientOptions::ca_file), not instead of it.
//
//   curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, &load::add_ca_file);
//   curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, &path);  // a std::string that outlives the handle
//
// Thread: whichever thread drives the handle.
#pragma once

#include <curl/curl.h>

namespace webpush::load {

/// CURLOPT_SSL_CTX_FUNCTION callback; `path` points to a std::string naming a
/// PEM file. CURLE_SSL_CACERT_BADFILE when the file cannot be loaded.
CURLcode add_ca_file(CURL* easy, void* ssl_ctx, void* path);

}  // namespace webpush::load
