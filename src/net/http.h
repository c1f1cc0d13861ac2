// HttpClient: ferry's one HTTP client (libcurl), used by the REST and S3 sources and by
// control-table webhooks.
//
// One client per connection per run: it keeps one libcurl handle, so keep-alive connections,
// TLS sessions and DNS entries are reused across requests (sent whole or in two halves, see
// start()); HTTP/2 is negotiated where the server offers it (ALPN); gzip/deflate bodies are
// decoded transparently. Nothing runs in the background: a transfer progresses only inside
// this client's calls.
//
// Errors: a transport failure (connection refused or reset, timeout, a body cut short) is
// Code::kRetry; a bad URL or TLS setup is Code::kInvalid. An HTTP status is NOT an error
// here: the caller reads HttpResponse::status and decides (see is_retryable_status()).
// Messages name the request by HttpRequest::display_url (the caller strips secrets).
//
// Thread-safety: an HttpClient is used by one thread at a time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace ferry::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  // Whole-request limit (0 = none) and the limit on a stalled transfer (no byte for this long).
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds idle_timeout{60'000};
  bool verify_tls = true;
  std::string ca_file;  // PEM bundle; empty = the system's
  std::string user_agent = "ferry/0.1";
  // Polled during transfers (a few times a second); returning true aborts the request with
  // Code::kCancelled. Lets a run's cancel (shutdown, timeout) stop a slow request at once.
  std::function<bool()> cancelled;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  // How messages name this request: the URL with secrets removed. Empty = `url`.
  std::string display_url;
  // Overrides HttpOptions::timeout for this request when non-zero.
  std::chrono::milliseconds timeout{0};
};

struct HttpResponse {
  long status = 0;
  Headers headers;  // names lower-cased, in arrival order (of the final response)
  std::string body;
  std::string effective_url;
  // The first header with this (lower-case) name.
  std::optional<std::string> header(std::string_view name) const;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends the request and reads the whole body.
  Result<HttpResponse> send(const HttpRequest& request);
  // Sends the request and hands the body to `on_body` as it arrives (response.body stays
  // empty). `on_headers` runs once the status and headers are known, before any body byte;
  // either callback returns a non-ok Status to stop the transfer, which send_streaming then
  // returns. For a status >= 400 the body is collected into response.body instead.
  Result<HttpResponse> send_streaming(const HttpRequest& request,
                                      const std::function<Status(const HttpResponse&)>& on_headers,
                                      const std::function<Status(std::string_view)>& on_body);

  // A request in two halves, so the server answers while the caller works: start() returns
  // once the request has been sent (after connecting, when the connection is new), and
  // finish() reads the response and returns what send() would have. Meanwhile the response
  // waits in the socket's receive buffer (a response larger than that waits on the server's
  // side). A failure of start() is reported by finish(). The request's timeout runs from
  // start(), so work between the two that outlasts it makes finish() report a timeout
  // (kRetry). One request at a time: start() abandons one still in flight. REQUIRES for
  // finish(): start() was called since the last finish() or abandon().
  void start(const HttpRequest& request);
  Result<HttpResponse> finish();
  // Drops a started request without reading its response (its connection is closed when the
  // response has not arrived in full). No-op when none is in flight.
  void abandon();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// 408, 425, 429, 500, 502, 503, 504: worth retrying.
bool is_retryable_status(long status);
// Retry-After in seconds or as an HTTP date, relative to `now`; nullopt when absent/garbled.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);
// RFC 3986 percent-encoding of everything but unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string url_encode(std::string_view s);
std::string url_decode(std::string_view s);
// base64 (RFC 4648, with padding), for Basic auth.
std::string base64_encode(std::string_view s);

}  // namespace ferry::net
