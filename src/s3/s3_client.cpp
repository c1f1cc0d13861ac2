#include "s3/s3_client.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "net/retry.h"

namespace ferry::s3 {

namespace {

constexpr size_t kRingBytes = 4 << 20;
// Resumes in a row that deliver no byte before the download is given up (as kRetry).
constexpr int kMaxResumes = 5;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

// The body of one GetObject, pushed by a helper thread (which owns the HTTP transfer and its
// resumes) into a ring buffer that read() drains. See s3_client.h.
class ObjectStream final : public InputStream {
 public:
  ObjectStream(S3Client& client, std::string key)
      : client_(client), key_(std::move(key)), ring_(std::make_unique<char[]>(kRingBytes)) {}

  ~ObjectStream() override {
    {
      std::lock_guard lock(mu_);
      abandoned_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Starts the transfer and waits for the first response: fails when the object cannot be
  // fetched at all.
  Status start(ObjectMeta* meta) {
    thread_ = std::thread([this] { run(); });
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return headers_ready_ || done_; });
    if (!headers_ready_ && done_ && !final_.is_ok()) return final_;
    if (meta != nullptr) *meta = meta_;
    return Status::success();
  }

  Result<size_t> read(char* buf, size_t n) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return count_ > 0 || done_; });
    if (count_ == 0) {
      if (!final_.is_ok()) return final_;
      return size_t{0};
    }
    size_t k = std::min(n, count_);
    size_t first = std::min(k, kRingBytes - head_);
    std::memcpy(buf, ring_.get() + head_, first);
    std::memcpy(buf + first, ring_.get(), k - first);
    head_ = (head_ + k) % kRingBytes;
    count_ -= k;
    lock.unlock();
    cv_.notify_all();
    return k;
  }

  std::string name() const override { return client_.display(key_); }

 private:
  // Copies `data` into the ring, waiting for room; false when the reader went away.
  bool push(std::string_view data) {
    while (!data.empty()) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return count_ < kRingBytes || abandoned_; });
      if (abandoned_) return false;
      size_t tail = (head_ + count_) % kRingBytes;
      size_t room = std::min(kRingBytes - count_, kRingBytes - tail);
      size_t k = std::min(room, data.size());
      std::memcpy(ring_.get() + tail, data.data(), k);
      count_ += k;
      data.remove_prefix(k);
      lock.unlock();
      cv_.notify_all();
    }
    return true;
  }

  void finish(Status st) {
    {
      std::lock_guard lock(mu_);
      done_ = true;
      final_ = std::move(st);
    }
    cv_.notify_all();
  }

  // Waits `delay`, cut short when the reader goes away; false then.
  bool wait_unless_abandoned(std::chrono::milliseconds delay) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, delay, [&] { return abandoned_; });
  }

  void run() {
    int stalls = 0;
    int retries = 0;  // in a row, of requests answered 5xx/throttled or refused
    const net::RetryPolicy policy;
    for (;;) {
      const bool resuming = offset_ > 0;
      net::Headers extra;
      if (resuming) {
        extra.emplace_back("Range", "bytes=" + std::to_string(offset_) + "-");
        // Only the version we started with: an overwritten object answers 412.
        extra.emplace_back("If-Match", "\"" + meta_.etag + "\"");
      }
      net::HttpRequest req = client_.make_request(key_, {}, std::move(extra));
      int64_t skip = 0;  // bytes to drop when a server ignores Range (200, not 206)
      const int64_t before = offset_;
      auto on_headers = [&](const net::HttpResponse& r) -> Status {
        if (r.status != 200 && r.status != 206) return Status::success();  // worded below
        if (resuming) {
          if (r.status == 200) skip = offset_;
          return Status::success();
        }
        std::lock_guard lock(mu_);
        meta_.etag = unquote_etag(r.header("etag").value_or(""));
        meta_.content_encoding = lower(r.header("content-encoding").value_or(""));
        if (auto len = r.header("content-length")) {
          try {
            meta_.size = std::stoll(*len);
          } catch (...) {
            meta_.size = -1;
          }
        }
        headers_ready_ = true;
        cv_.notify_all();
        return Status::success();
      };
      auto on_body = [&](std::string_view data) -> Status {
        if (skip > 0) {
          size_t drop = static_cast<size_t>(std::min<int64_t>(skip, data.size()));
          data.remove_prefix(drop);
          skip -= static_cast<int64_t>(drop);
        }
        if (!push(data)) return Status(Code::kCancelled, "the reader stopped");
        offset_ += static_cast<int64_t>(data.size());
        return Status::success();
      };
      auto res = client_.http_.send_streaming(req, on_headers, on_body);
      if (abandoned()) return finish(Status::success());

      // Transfer failure after the object started: resume where it broke, unless libcurl
      // was decoding a Content-Encoding (its offsets are not the object's bytes).
      bool cut = !res.ok() && res.status().code() == Code::kRetry;
      if (res.ok() && (res->status == 200 || res->status == 206) && meta_.size >= 0 &&
          meta_.content_encoding.empty() && offset_ < meta_.size)
        cut = true;  // the server closed the body early without an error
      if (cut && headers_ready_ && meta_.content_encoding.empty() && !meta_.etag.empty()) {
        stalls = offset_ > before ? 0 : stalls + 1;
        if (stalls < kMaxResumes) {
          ++client_.resumes_;
          continue;
        }
      }
      // Throttling (503 SlowDown), a 5xx or a refused connection before any byte of this
      // request: the same request again after a backoff, as list_page does (net/retry.h).
      if (offset_ > before) retries = 0;
      bool again = res.ok() ? net::is_retryable_status(res->status)
                            : res.status().code() == Code::kRetry && offset_ == before;
      if (again && retries < policy.max_retries) {
        ++retries;
        if (!wait_unless_abandoned(net::backoff_delay(policy, retries)))
          return finish(Status::success());
        continue;
      }
      if (!res.ok()) return finish(res.status());
      long status = res->status;
      if (status == 200 || status == 206) return finish(Status::success());
      if (resuming && status == 412)
        return finish(
            Status::retry("{} was overwritten while it was being read; it will be "
                          "read again from the start",
                          client_.display(key_)));
      return finish(
          s3_error_status(status, res->body, "reading " + client_.display(key_), client_.config_));
    }
  }

  bool abandoned() {
    std::lock_guard lock(mu_);
    return abandoned_;
  }

  S3Client& client_;
  std::string key_;
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<char[]> ring_;
  size_t head_ = 0;   // guarded by mu_
  size_t count_ = 0;  // guarded by mu_
  bool done_ = false;
  bool abandoned_ = false;
  bool headers_ready_ = false;
  Status final_;
  ObjectMeta meta_;     // written before headers_ready_ is set, read after
  int64_t offset_ = 0;  // bytes delivered to the ring (helper thread only)
};

S3Client::S3Client(S3Config config) : config_(std::move(config)), http_(config_.http) {
  if (config_.endpoint.empty()) {
    // Dots in a bucket name break the *.s3.REGION.amazonaws.com TLS certificate.
    path_style_ = config_.bucket.find('.') != std::string::npos;
    std::string base = "s3." + config_.region + ".amazonaws.com";
    host_ = path_style_ ? base : config_.bucket + "." + base;
    scheme_host_ = "https://" + host_;
    path_prefix_ = path_style_ ? "/" + net::aws_uri_encode(config_.bucket, false) : "";
  } else {
    path_style_ = true;
    std::string e = config_.endpoint;
    while (e.ends_with('/'))
      e.pop_back();
    size_t scheme_end = e.find("://");
    size_t host_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
    size_t path_start = e.find('/', host_start);
    if (path_start == std::string::npos) path_start = e.size();
    host_ = e.substr(host_start, path_start - host_start);
    scheme_host_ = (scheme_end == std::string::npos ? "http://" : "") + e.substr(0, path_start);
    path_prefix_ = e.substr(path_start) + "/" + net::aws_uri_encode(config_.bucket, false);
  }
}

S3Client::~S3Client() = default;

std::string S3Client::host() const {
  return host_;
}

std::string S3Client::display(std::string_view key) const {
  return "s3://" + config_.bucket + "/" + std::string(key);
}

std::string S3Client::url(std::string_view key, const net::QueryParams& query) const {
  std::string path = path_prefix_;
  if (!key.empty() || path.empty()) path += "/" + net::aws_uri_encode(key, true);
  std::string u = scheme_host_ + path;
  if (!query.empty()) u += "?" + net::canonical_query_string(query);
  return u;
}

net::HttpRequest S3Client::make_request(std::string_view key, const net::QueryParams& query,
                                        net::Headers extra) const {
  return make_request("GET", key, query, std::move(extra), "");
}

net::HttpRequest S3Client::make_request(std::string_view method, std::string_view key,
                                        const net::QueryParams& query, net::Headers extra,
                                        std::string_view body) const {
  net::HttpRequest req;
  req.method = std::string(method);
  req.body = std::string(body);
  req.url = url(key, query);
  req.display_url = display(key);
  net::SigV4Request sig;
  sig.method = req.method;
  sig.path = req.url.substr(scheme_host_.size());
  if (size_t q = sig.path.find('?'); q != std::string::npos) sig.path.resize(q);
  sig.query = query;
  sig.headers.emplace_back("host", host_);
  for (auto& h : extra)
    sig.headers.push_back(h);
  sig.payload_hash = body.empty() ? std::string(net::kEmptyPayloadHash) : net::sha256_hex(body);
  net::Headers added =
      net::sign(sig, config_.credentials, config_.region, "s3", std::chrono::system_clock::now());
  req.headers = std::move(sig.headers);
  req.headers.insert(req.headers.end(), added.begin(), added.end());
  return req;
}

Result<ListPage> S3Client::list_page(std::string_view prefix, std::string_view token,
                                     std::string_view start_after) {
  net::QueryParams q{{"list-type", "2"}, {"max-keys", std::to_string(config_.max_keys)}};
  if (!prefix.empty()) q.emplace_back("prefix", std::string(prefix));
  if (!token.empty()) {
    q.emplace_back("continuation-token", std::string(token));
  } else if (!start_after.empty()) {
    q.emplace_back("start-after", std::string(start_after));
  }
  net::HttpRequest req = make_request("", q, {});
  req.display_url = display(prefix);
  // A listing is small and idempotent: retried here, page by page (net/retry.h), so that
  // page 12 of 20 failing once does not restart the run. A signature expires after 15
  // minutes, far beyond the retries' backoff.
  auto res = net::send_with_retries(http_, req, net::RetryPolicy{}, net::RetryHooks{});
  std::string what = "listing " + display(prefix);
  if (!res.ok()) return res.status().with_context(what);
  if (res->status != 200) return s3_error_status(res->status, res->body, what, config_);
  auto page = parse_list_objects_v2(res->body);
  if (!page.ok()) return page.status().with_context(what);
  return page;
}

Result<std::vector<ObjectInfo>> S3Client::list_all(std::string_view prefix,
                                                   std::string_view start_after) {
  std::vector<ObjectInfo> all;
  std::string token;
  for (;;) {
    FERRY_ASSIGN(ListPage page, list_page(prefix, token, start_after));
    for (ObjectInfo& o : page.objects)
      all.push_back(std::move(o));
    if (!page.truncated) break;
    if (page.next_continuation_token == token)
      return Status::internal("listing {}: S3 returned the same continuation token twice",
                              display(prefix));
    token = page.next_continuation_token;
  }
  return all;
}

Result<std::unique_ptr<InputStream>> S3Client::open_object(const std::string& key,
                                                           ObjectMeta* meta) {
  auto stream = std::make_unique<ObjectStream>(*this, key);
  FERRY_TRY(stream->start(meta));
  return std::unique_ptr<InputStream>(std::move(stream));
}

Status S3Client::put_object(const std::string& key, std::string_view body,
                            std::string_view content_type) {
  // Without a Content-Type libcurl would label the body as a form.
  net::Headers extra{{"content-type", content_type.empty() ? "application/octet-stream"
                                                           : std::string(content_type)}};
  net::HttpRequest req = make_request("PUT", key, {}, std::move(extra), body);
  auto res = net::send_with_retries(http_, req, net::RetryPolicy{}, net::RetryHooks{});
  std::string what = "writing " + display(key);
  if (!res.ok()) return res.status().with_context(what);
  if (res->status != 200) return s3_error_status(res->status, res->body, what, config_);
  return Status::success();
}

Status S3Client::delete_object(const std::string& key) {
  net::HttpRequest req = make_request("DELETE", key, {}, {}, "");
  auto res = net::send_with_retries(http_, req, net::RetryPolicy{}, net::RetryHooks{});
  std::string what = "deleting " + display(key);
  if (!res.ok()) return res.status().with_context(what);
  if (res->status != 204 && res->status != 200 && res->status != 404)
    return s3_error_status(res->status, res->body, what, config_);
  return Status::success();
}

Status s3_error_status(long http_status, std::string_view body, std::string_view what,
                       const S3Config& config) {
  std::optional<S3Error> err = parse_error(body);
  std::string code = err ? err->code : "";
  std::string where = config.endpoint.empty() ? "region " + config.region : config.endpoint;
  if (code == "SignatureDoesNotMatch")
    return Status::invalid(
        "{}: the secret access key is wrong (S3 answered 403 SignatureDoesNotMatch: the "
        "request was signed with a secret that does not belong to the access key id)",
        what);
  if (code == "InvalidAccessKeyId")
    return Status::invalid(
        "{}: the access key id is wrong (S3 answered 403 InvalidAccessKeyId: no such key id)",
        what);
  if (code == "ExpiredToken" || code == "TokenRefreshRequired")
    return Status::invalid("{}: the session token has expired (S3 answered {})", what, code);
  if (code == "InvalidToken")
    return Status::invalid("{}: the session token is not valid (S3 answered InvalidToken)", what);
  if (code == "RequestTimeTooSkewed")
    return Status::invalid(
        "{}: this machine's clock is more than 15 minutes off S3's (RequestTimeTooSkewed)", what);
  if (code == "NoSuchBucket")
    return Status::not_found("{}: bucket '{}' does not exist ({})", what, config.bucket, where);
  if (code == "NoSuchKey" || (http_status == 404 && code.empty()))
    return Status::not_found("{}: the object does not exist (deleted since it was listed?)", what);
  if (code == "AccessDenied" || http_status == 403)
    return Status::invalid(
        "{}: access denied: the credentials are valid but lack permission (s3:ListBucket on the "
        "bucket, s3:GetObject on its objects){}",
        what, code.empty() || code == "AccessDenied" ? "" : " (S3 answered " + code + ")");
  if (code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || http_status == 301)
    return Status::invalid(
        "{}: bucket '{}' is not in region {}: set the connection's region to the bucket's "
        "(S3 answered {})",
        what, config.bucket, config.region, code.empty() ? std::to_string(http_status) : code);
  if (net::is_retryable_status(http_status) || code == "SlowDown" || code == "InternalError")
    return Status::retry("{}: S3 answered {} {}{}", what, http_status,
                         code.empty() ? "(no error code)" : code,
                         err && !err->message.empty() ? ": " + err->message : "");
  if (err)
    return Status::invalid("{}: S3 answered {} {}: {}", what, http_status, code, err->message);
  std::string start(body.substr(0, 200));
  std::replace(start.begin(), start.end(), '\n', ' ');
  return Status::invalid("{}: S3 answered HTTP {}{}", what, http_status,
                         start.empty() ? "" : ": " + start);
}

}  // namespace ferry::s3
