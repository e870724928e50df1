#include "http_client.h"

#include <algorithm>
#include <charconv>

#include "socket.h"

namespace webpush::testing {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t") - b + 1));
}

}  // namespace

std::optional<std::string> HttpResult::header(std::string_view name) const {
  const auto it = headers.find(lower(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

nlohmann::json HttpResult::json() const {
  try {
    return nlohmann::json::parse(body);
  } catch (const std::exception& e) {
    throw SupportError("response body is not JSON: '" + body + "' (" + e.what() + ")");
  }
}

HttpResult http_request(std::uint16_t port, std::string_view method, std::string_view path, const Headers& headers,
                        std::string_view body, const HttpRequestOptions& options) {
  const auto deadline = Clock::now() + options.timeout;
  Socket s = Socket::connect(options.host, port, options.timeout);
  std::string request = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nHost: " + options.host + ":" +
                        std::to_string(port) + "\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (options.content_length) request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n";
  request.append(body);
  s.send_all(request, remaining(deadline));

  std::string rx;
  char buf[16384];
  std::size_t head_end = std::string::npos;
  HttpResult result;
  std::optional<std::size_t> content_length;
  bool eof = false;
  while (true) {
    if (head_end == std::string::npos) {
      head_end = rx.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const std::string head = rx.substr(0, head_end);
        const auto line_end = head.find("\r\n");
        const std::string status_line = head.substr(0, line_end);
        if (status_line.size() < 12 || status_line.rfind("HTTP/1.", 0) != 0) {
          throw SupportError("bad HTTP status line '" + status_line + "'");
        }
        result.status = std::stoi(status_line.substr(9, 3));
        std::size_t pos = line_end;
        while (pos != std::string::npos && pos < head.size()) {
          const std::size_t next = head.find("\r\n", pos + 2);
          const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
          const auto colon = line.find(':');
          if (colon != std::string::npos) result.headers[lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
          pos = next;
        }
        if (auto cl = result.header("content-length")) content_length = std::stoul(*cl);
        rx.erase(0, head_end + 4);
      }
    }
    if (head_end != std::string::npos) {
      if (content_length && rx.size() >= *content_length) {
        result.body = rx.substr(0, *content_length);
        return result;
      }
      if (method == "HEAD" || result.status == 204 || result.status == 304) return result;
      if (eof) {
        if (content_length) throw SupportError("HTTP body shorter than its Content-Length");
        result.body = rx;
        return result;
      }
    } else if (eof) {
      throw SupportError("connection closed before a complete HTTP response ('" + rx + "')");
    }
    const auto n = s.read_some(buf, sizeof buf, remaining(deadline));
    if (!n) throw SupportError("HTTP response timed out (" + std::string(method) + " " + std::string(path) + ")");
    if (*n == 0) eof = true;
    rx.append(buf, *n);
  }
}

std::string url_path(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const auto slash = url.find('/', scheme + 3);
  return slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
}

}  // namespace webpush::testing
