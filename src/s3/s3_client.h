// S3Client: the S3 calls ferry makes -- ListObjectsV2 and GetObject (the s3 source),
// PutObject and DeleteObject (the redshift warehouse's staging) -- over net::HttpClient,
// signed with net/sigv4.h.
//
// Addressing: with no endpoint, AWS virtual-hosted style (https://BUCKET.s3.REGION.amazonaws.com/
// KEY; path style for bucket names with dots, which break the TLS wildcard); with an
// endpoint (an S3-compatible server: MinIO, s3rver, Ceph), path style (ENDPOINT/BUCKET/KEY).
//
// GetObject streams: open_object() returns an InputStream that the CSV/JSON readers pull from
// while a helper thread pushes the body through a fixed 4 MiB ring buffer, so memory does not
// depend on the object's size. A transfer cut mid-object is resumed where it broke with a
// Range request conditioned on the object's ETag (If-Match), up to kMaxResumes times in a row
// without progress; an object overwritten meanwhile is a kRetry, never a mix of two versions.
//
// A request answered with throttling (503 SlowDown) or another retryable status, or refused
// before any byte, is sent again where it failed after a backoff (net/retry.h's RetryPolicy:
// the listing through send_with_retries, GetObject and its resumes in the stream's thread).
// PutObject sends the whole body in one request, signed with its SHA-256 (no streaming
// upload: callers bound the body's size; S3's single-PUT limit is 5 GB). PutObject and
// DeleteObject are idempotent and retried like the listing.
// Errors are worded for the user by s3_error_status (wrong secret, unknown key id, missing
// bucket, access denied, ...); throttling, 5xx and transport failures that outlast those
// retries are Code::kRetry, for the executor's retries of the whole run.
// Messages name s3://bucket/key, never a credential.
//
// Thread-safety: one client is used by one thread; an open object stream must be destroyed
// (or read to its end) before the client makes its next call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "formats/input_stream.h"
#include "net/http.h"
#include "net/sigv4.h"
#include "s3/s3_xml.h"

namespace ferry::s3 {

struct S3Config {
  std::string bucket;
  std::string region = "us-east-1";
  // "" = AWS; else the base URL of an S3-compatible server, e.g. http://127.0.0.1:9000.
  std::string endpoint;
  net::AwsCredentials credentials;
  net::HttpOptions http;
  // ListObjectsV2 page size (S3's maximum and default is 1,000).
  int max_keys = 1000;
};

// What open_object learnt about the object once its first response arrived.
struct ObjectMeta {
  std::string etag;  // unquoted
  int64_t size = -1;
  std::string content_encoding;
};

class S3Client {
 public:
  // REQUIRES: config.bucket is not empty.
  explicit S3Client(S3Config config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // One ListObjectsV2 page of keys under `prefix`, after `continuation_token` (or, on the
  // first page, after `start_after` when not empty).
  Result<ListPage> list_page(std::string_view prefix, std::string_view continuation_token,
                             std::string_view start_after = "");

  // Every object under `prefix`, following continuation tokens, in key order.
  Result<std::vector<ObjectInfo>> list_all(std::string_view prefix,
                                           std::string_view start_after = "");

  // Starts downloading `key` and returns a stream of its bytes (as stored: gzip is not
  // undone here). Fails before returning when the object cannot be fetched (404, 403, ...).
  // `meta`, when not null, is filled once the response headers arrive.
  Result<std::unique_ptr<InputStream>> open_object(const std::string& key, ObjectMeta* meta);

  // Uploads `body` as `key` (replacing any object of that key). `content_type` may be "".
  Status put_object(const std::string& key, std::string_view body,
                    std::string_view content_type = "");

  // Deletes `key`; a key that does not exist is not an error (S3 answers 204 either way).
  Status delete_object(const std::string& key);

  // The URL for `key` (may be "") with `query`, as sent; and its Host header value.
  std::string url(std::string_view key, const net::QueryParams& query) const;
  std::string host() const;
  const std::string& bucket() const { return config_.bucket; }
  // "s3://bucket/key" for messages.
  std::string display(std::string_view key) const;

  // Test seam: how many times downloads were resumed with a Range request.
  int resumes() const { return resumes_; }

 private:
  friend class ObjectStream;
  // Signs and completes a GET of `key` (path) with `query`.
  net::HttpRequest make_request(std::string_view key, const net::QueryParams& query,
                                net::Headers extra) const;
  // The same for any method; `body` is sent and its SHA-256 signed.
  net::HttpRequest make_request(std::string_view method, std::string_view key,
                                const net::QueryParams& query, net::Headers extra,
                                std::string_view body) const;

  S3Config config_;
  bool path_style_;
  std::string scheme_host_;  // "https://host[:port]" (and a path prefix of the endpoint)
  std::string host_;
  std::string path_prefix_;  // "/bucket" in path style, "" in virtual-hosted style
  net::HttpClient http_;
  int resumes_ = 0;
};

// A failed S3 response in plain words: the status code classifies (kInvalid for wrong
// credentials and permissions, kNotFound for a missing bucket or key, kRetry for 5xx and
// throttling) and the S3 error code names the cause. `what` says what was being done
// ("listing s3://b/prefix").
Status s3_error_status(long http_status, std::string_view body, std::string_view what,
                       const S3Config& config);

}  // namespace ferry::s3
