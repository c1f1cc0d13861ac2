#include "net/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <utility>

namespace ferry::net {
namespace {

// curl_global_init is not thread-safe; run it once before the first handle.
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

// Bytes reserved past a body of known length (see Transfer::finish_headers).
constexpr size_t kBodySlack = 64;
// libcurl's receive buffer: a 27 KB API page arrives in one or two recv() calls instead of
// two or more with the default 16 KiB. Below glibc's mmap threshold (128 KiB), so the buffer
// comes from the heap each request rather than from fresh mmap()ed pages.
constexpr long kReceiveBuffer = 64 * 1024;

// Per-transfer state shared with libcurl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  HttpResponse response;
  const std::function<Status(const HttpResponse&)>* on_headers = nullptr;
  const std::function<Status(std::string_view)>* on_body = nullptr;
  bool headers_done = false;
  bool collect_body = true;
  Status stopped;  // why a callback stopped the transfer

  // Called before the first body byte: the status and headers of the final response are known.
  bool finish_headers() {
    headers_done = true;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    collect_body = on_body == nullptr || response.status >= 400;
    if (collect_body) {
      // One allocation for the whole body, with room to spare for a JSON parser's padding
      // (simdjson reads up to 64 bytes past the end and copies a body that lacks them).
      curl_off_t length = -1;
      curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      if (length > 0 && length < (curl_off_t{1} << 28))
        response.body.reserve(static_cast<size_t>(length) + kBodySlack);
    }
    if (on_headers != nullptr && *on_headers && response.status < 400) {
      Status st = (*on_headers)(response);
      if (!st.is_ok()) {
        stopped = std::move(st);
        return false;
      }
    }
    return true;
  }
};

size_t on_header_line(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    t->response.headers.clear();  // a new response (after a redirect or 100 Continue)
    return line.size();
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response.headers.emplace_back(lower(trim(line.substr(0, colon))),
                                     std::string(trim(line.substr(colon + 1))));
  }
  return line.size();
}

size_t on_body_bytes(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  if (!t->headers_done && !t->finish_headers()) return 0;
  if (t->collect_body) {
    t->response.body.append(data, bytes);
    return bytes;
  }
  Status st = (*t->on_body)(std::string_view(data, bytes));
  if (!st.is_ok()) {
    t->stopped = std::move(st);
    return 0;  // makes libcurl fail with CURLE_WRITE_ERROR
  }
  return bytes;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancelled = static_cast<const std::function<bool()>*>(user);
  return (*cancelled)() ? 1 : 0;  // non-zero aborts the transfer
}

// Transport failures in plain words; transient ones are kRetry.
Status transport_error(CURLcode rc, const char* detail, const std::string& url) {
  std::string what = detail[0] != '\0' ? detail : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status::retry("{}: timed out ({})", url, what);
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_BAD_CONTENT_ENCODING:
      return Status::retry("{}: connection failed or was cut short ({})", url, what);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Status::io("{}: the host name cannot be resolved ({})", url, what);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Status::invalid("{}: not a valid URL ({})", url, what);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return Status::invalid(
          "{}: the server's TLS certificate cannot be verified ({}); set the connection's "
          "ca_file to the CA that signed it",
          url, what);
    case CURLE_FILE_COULDNT_READ_FILE:
      return Status::not_found("{}: cannot read the file ({})", url, what);
    default:
      return Status::io("{}: {}", url, what);
  }
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

// Every transfer runs on one easy handle inside the client's own multi handle, whether it is
// waited for at once (send, send_streaming) or started early (start, finish): one connection
// cache serves both, so a keep-alive connection is reused whichever way a request went.
struct HttpClient::Impl {
  HttpOptions options;
  CURLM* multi = nullptr;
  CURL* curl = nullptr;
  char error[CURL_ERROR_SIZE] = {};

  // The transfer in progress (added to `multi`), and what it needs until it ends: libcurl
  // keeps pointers to the header list and to the request body.
  bool active = false;
  Transfer transfer;
  curl_slist* headers = nullptr;
  HttpRequest request;  // start(): a copy, since the caller's may be gone by finish()
  const HttpRequest* current = nullptr;

  ~Impl() {
    end();
    if (multi != nullptr) curl_multi_cleanup(multi);
    if (curl != nullptr) curl_easy_cleanup(curl);
  }

  // Sets up the handle for `req` and adds it to the multi handle.
  Status begin(const HttpRequest& req, const std::function<Status(const HttpResponse&)>* on_headers,
               const std::function<Status(std::string_view)>* on_body);
  // Drives the transfer until it completes; `until_sent` stops earlier, once the request has
  // gone out (its response then waits in the socket for the next call).
  void drive(bool until_sent);
  // The outcome of the completed (or failed) transfer; ends it.
  Result<HttpResponse> result();
  // Removes the transfer from the multi handle (closing its connection when unfinished).
  void end() {
    if (active) {
      // No progress callback while the transfer is torn down: what it asks (a cancel flag
      // of the caller's) may be gone by now.
      curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 1L);
      curl_multi_remove_handle(multi, curl);
    }
    active = false;
    curl_slist_free_all(headers);
    headers = nullptr;
    current = nullptr;
  }

  bool done = false;  // the transfer has completed (or failed) with `rc`
  CURLcode rc = CURLE_OK;
  Status start_failure;  // why start() could not begin; finish() returns it
};

Status HttpClient::Impl::begin(const HttpRequest& req,
                               const std::function<Status(const HttpResponse&)>* on_headers,
                               const std::function<Status(std::string_view)>* on_body) {
  end();
  if (curl == nullptr || multi == nullptr)
    return Status::internal("libcurl could not create a handle");
  CURL* c = curl;
  const HttpOptions& o = options;

  // Reset per-request options but keep the connection cache (keep-alive, TLS sessions).
  curl_easy_reset(c);
  transfer = Transfer{};
  transfer.curl = c;
  transfer.on_headers = on_headers;
  transfer.on_body = on_body;
  error[0] = '\0';
  done = false;
  rc = CURLE_OK;
  current = &req;

  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, kReceiveBuffer);
  curl_easy_setopt(c, CURLOPT_USERAGENT, o.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // every encoding libcurl can decode
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  auto timeout = req.timeout.count() > 0 ? req.timeout : o.timeout;
  if (timeout.count() > 0)
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  if (o.idle_timeout.count() > 0) {
    // Abort a transfer that moves less than 1 byte/s for idle_timeout: a stalled server.
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     std::max(1L, static_cast<long>(o.idle_timeout.count() / 1000)));
  }
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, o.verify_tls ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, o.verify_tls ? 2L : 0L);
  if (!o.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, o.ca_file.c_str());
  if (o.cancelled) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &o.cancelled);
  }

  if (req.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  }

  for (const auto& [k, v] : req.headers) {
    // "Name;" is libcurl's way to send a header with an empty value.
    std::string line = v.empty() ? k + ";" : k + ": " + v;
    headers = curl_slist_append(headers, line.c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip on POST
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header_line);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body_bytes);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);

  if (CURLMcode mc = curl_multi_add_handle(multi, c); mc != CURLM_OK) {
    end();
    return Status::internal("libcurl: {}", curl_multi_strerror(mc));
  }
  active = true;
  return Status::success();
}

void HttpClient::Impl::drive(bool until_sent) {
  while (!done) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == curl) {
        done = true;
        rc = msg->data.result;
      }
    }
    if (done) return;
    if (mc != CURLM_OK) {
      done = true;
      rc = CURLE_FAILED_INIT;
      std::snprintf(error, sizeof error, "libcurl: %s", curl_multi_strerror(mc));
      return;
    }
    if (until_sent) {
      curl_off_t sent = 0;
      curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &sent);
      if (sent > 0) return;
    }
    // Waits for the socket or libcurl's next timer (timeouts, the progress callback that
    // polls HttpOptions::cancelled), at most 100 ms.
    curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
}

Result<HttpResponse> HttpClient::Impl::result() {
  Transfer& t = transfer;
  Result<HttpResponse> out = [&]() -> Result<HttpResponse> {
    if (!t.stopped.is_ok()) return std::move(t.stopped);
    if (rc == CURLE_ABORTED_BY_CALLBACK) return Status(Code::kCancelled, "cancelled");
    const HttpRequest& req = *current;
    if (rc != CURLE_OK)
      return transport_error(rc, error, req.display_url.empty() ? req.url : req.display_url);
    if (!t.headers_done && !t.finish_headers()) return std::move(t.stopped);  // an empty body
    char* effective = nullptr;
    curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective);
    if (effective != nullptr) t.response.effective_url = effective;
    // file:// (and other non-HTTP schemes) have no status: a successful read is a 200.
    if (t.response.status == 0) t.response.status = 200;
    return std::move(t.response);
  }();
  end();
  return out;
}

HttpClient::HttpClient(HttpOptions options) : impl_(std::make_unique<Impl>()) {
  global_init();
  impl_->options = std::move(options);
  impl_->curl = curl_easy_init();
  impl_->multi = curl_multi_init();
}

HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::send(const HttpRequest& request) {
  return send_streaming(request, {}, {});
}

Result<HttpResponse> HttpClient::send_streaming(
    const HttpRequest& request, const std::function<Status(const HttpResponse&)>& on_headers,
    const std::function<Status(std::string_view)>& on_body) {
  FERRY_TRY(impl_->begin(request, &on_headers, on_body ? &on_body : nullptr));
  impl_->drive(false);
  return impl_->result();
}

void HttpClient::start(const HttpRequest& request) {
  impl_->request = request;
  impl_->start_failure = impl_->begin(impl_->request, nullptr, nullptr);
  if (impl_->start_failure) impl_->drive(true);
}

Result<HttpResponse> HttpClient::finish() {
  if (!impl_->start_failure) return std::exchange(impl_->start_failure, Status::success());
  if (!impl_->active) return Status::internal("finish(): no request was started");
  impl_->drive(false);
  return impl_->result();
}

void HttpClient::abandon() {
  impl_->end();
  impl_->start_failure = Status::success();
}

bool is_retryable_status(long status) {
  return status == 408 || status == 425 || status == 429 || status == 500 || status == 502 ||
         status == 503 || status == 504;
}

std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
    if (value.size() > 9) return std::nullopt;
    return std::chrono::seconds(std::stol(std::string(value)));
  }
  // An HTTP date (RFC 9110 IMF-fixdate): "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
  return std::max(wait, std::chrono::milliseconds(0));
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out.push_back(static_cast<char>(ch));
    } else {
      out.push_back('%');
      out.push_back(kHex[ch >> 4]);
      out.push_back(kHex[ch & 15]);
    }
  }
  return out;
}

std::string url_decode(std::string_view s) {
  auto hex = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string base64_encode(std::string_view s) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((s.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(s[i]) << 16) |
                 (static_cast<unsigned char>(s[i + 1]) << 8) | static_cast<unsigned char>(s[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (i < s.size()) {
    uint32_t v = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) v |= static_cast<unsigned char>(s[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < s.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace ferry::net
