// Retries and rate limits for HTTP requests: one page or object at a time.
//
// A REST run of 2,000 pages must not start over because page 1,200 got a 503, so a failed
// request is retried where it failed (exponential backoff with full jitter, honouring
// Retry-After), up to RetryPolicy::max_retries; after that the run fails with a message naming
// the URL, the status and the start of the body. The executor's own retries (whole runs) are
// for failures that remain after this.
//
// Thread-safety: send_with_retries is re-entrant; RateLimiter is thread-safe and shared by
// every run that uses the same connection.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "net/http.h"

namespace ferry::net {

struct RetryPolicy {
  int max_retries = 5;
  std::chrono::milliseconds base_delay{500};
  std::chrono::milliseconds max_delay{60'000};
};

// A token bucket shared by all users of one connection (keyed by the connection's name).
class RateLimiter {
 public:
  // The process-wide limiter for `key`; a rate <= 0 means unlimited (nullptr).
  static std::shared_ptr<RateLimiter> shared(const std::string& key, double per_second);
  explicit RateLimiter(double per_second) : interval_(1.0 / per_second) {}
  // How long the caller must wait before its request may go (and books that slot).
  std::chrono::milliseconds reserve();

 private:
  std::mutex mu_;
  double interval_;  // seconds between requests
  std::chrono::steady_clock::time_point next_{};
};

struct RetryHooks {
  std::shared_ptr<RateLimiter> limiter;  // may be null
  std::function<bool()> cancelled;       // polled while waiting; may be empty
  // Called before each retry: attempt number (1 = first retry), the reason, the delay.
  std::function<void(int, const std::string&, std::chrono::milliseconds)> on_retry;
  // Test seam: how to wait. Default sleeps in short slices, stopping early when cancelled.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// The delay before retry `attempt` (1-based): full jitter over base * 2^(attempt-1), capped.
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt);

// Sends `request`, retrying transport failures (Code::kRetry) and retryable statuses.
// Returns the final response, which may still carry a failed status (the caller words the
// error); a transport failure that outlasts the retries becomes Code::kIo naming the attempts.
// Code::kCancelled when hooks.cancelled() turns true while waiting.
Result<HttpResponse> send_with_retries(HttpClient& client, const HttpRequest& request,
                                       const RetryPolicy& policy, const RetryHooks& hooks,
                                       int* attempts = nullptr);

// As send_with_retries, for a request whose first attempt the caller made itself: sent with
// HttpClient::start after wait_for_turn(hooks), its outcome read with HttpClient::finish.
// `first` is that outcome; it is judged like any attempt, and the retries go through
// client.send. *attempts counts the first attempt too.
Result<HttpResponse> retry_after_first(HttpClient& client, const HttpRequest& request,
                                       Result<HttpResponse> first, const RetryPolicy& policy,
                                       const RetryHooks& hooks, int* attempts = nullptr);

// What send_with_retries does before each attempt: waits for hooks.limiter's next slot (no
// wait without a limiter). Returns early when hooks.cancelled turns true.
void wait_for_turn(const RetryHooks& hooks);

// "HTTP 502 from URL: <first 200 bytes of the body, one line>", for error messages.
std::string describe_failure(const HttpRequest& request, const HttpResponse& response);

}  // namespace ferry::net
