#include "net/retry.h"

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <thread>

namespace ferry::net {

std::shared_ptr<RateLimiter> RateLimiter::shared(const std::string& key, double per_second) {
  if (per_second <= 0) return nullptr;
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<RateLimiter>> limiters;
  std::lock_guard lock(mu);
  auto& slot = limiters[key + "@" + std::to_string(per_second)];
  auto limiter = slot.lock();
  if (!limiter) {
    limiter = std::make_shared<RateLimiter>(per_second);
    slot = limiter;
  }
  return limiter;
}

std::chrono::milliseconds RateLimiter::reserve() {
  using namespace std::chrono;
  std::lock_guard lock(mu_);
  auto now = steady_clock::now();
  auto at = std::max(now, next_);
  next_ = at + duration_cast<steady_clock::duration>(duration<double>(interval_));
  return duration_cast<milliseconds>(at - now);
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double cap = static_cast<double>(policy.base_delay.count()) *
               static_cast<double>(1ULL << std::min(attempt - 1, 20));
  cap = std::min(cap, static_cast<double>(policy.max_delay.count()));
  // Half fixed, half random: spreads clients apart without ever retrying at once.
  std::uniform_real_distribution<double> dist(cap / 2, cap);
  return std::chrono::milliseconds(static_cast<long long>(dist(rng)));
}

namespace {

void default_sleep(std::chrono::milliseconds d, const std::function<bool()>& cancelled) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (cancelled && cancelled()) return;
    auto left = until - std::chrono::steady_clock::now();
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(100)));
  }
}

}  // namespace

namespace {

void wait(const RetryHooks& hooks, std::chrono::milliseconds d) {
  if (d.count() <= 0) return;
  if (hooks.sleep) {
    hooks.sleep(d);
  } else {
    default_sleep(d, hooks.cancelled);
  }
}

// The attempts loop; `first`, when set, is the outcome of attempt 0, made by the caller.
Result<HttpResponse> attempt_loop(HttpClient& client, const HttpRequest& request,
                                  std::optional<Result<HttpResponse>> first,
                                  const RetryPolicy& policy, const RetryHooks& hooks,
                                  int* attempts) {
  for (int attempt = 0;; ++attempt) {
    if (attempts != nullptr) *attempts = attempt + 1;
    std::optional<Result<HttpResponse>> made = std::move(first);
    first.reset();
    if (!made) {
      if (hooks.cancelled && hooks.cancelled()) return Status(Code::kCancelled, "cancelled");
      wait_for_turn(hooks);
      made.emplace(client.send(request));
    }
    Result<HttpResponse>& result = *made;
    std::string reason;
    std::optional<std::chrono::milliseconds> server_delay;
    if (result.ok()) {
      if (!is_retryable_status(result->status)) return std::move(result);
      reason = describe_failure(request, *result);
      if (auto ra = result->header("retry-after")) {
        server_delay = parse_retry_after(*ra, std::chrono::system_clock::now());
      }
      if (attempt >= policy.max_retries) return std::move(result);
    } else {
      if (result.status().code() != Code::kRetry) return result.status();
      reason = result.status().message();
      if (attempt >= policy.max_retries) {
        return Status::io("{} (gave up after {} attempts)", reason, attempt + 1);
      }
    }
    auto delay = backoff_delay(policy, attempt + 1);
    if (server_delay) delay = std::min(*server_delay, std::chrono::milliseconds(300'000));
    if (hooks.on_retry) hooks.on_retry(attempt + 1, reason, delay);
    wait(hooks, delay);
  }
}

}  // namespace

void wait_for_turn(const RetryHooks& hooks) {
  if (hooks.limiter) wait(hooks, hooks.limiter->reserve());
}

Result<HttpResponse> send_with_retries(HttpClient& client, const HttpRequest& request,
                                       const RetryPolicy& policy, const RetryHooks& hooks,
                                       int* attempts) {
  return attempt_loop(client, request, std::nullopt, policy, hooks, attempts);
}

Result<HttpResponse> retry_after_first(HttpClient& client, const HttpRequest& request,
                                       Result<HttpResponse> first, const RetryPolicy& policy,
                                       const RetryHooks& hooks, int* attempts) {
  return attempt_loop(client, request, std::move(first), policy, hooks, attempts);
}

std::string describe_failure(const HttpRequest& request, const HttpResponse& response) {
  const std::string& url = request.display_url.empty() ? request.url : request.display_url;
  std::string body = response.body.substr(0, 200);
  for (char& c : body) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (response.body.size() > 200) body += "...";
  if (body.empty()) return fmt::format("HTTP {} from {}", response.status, url);
  return fmt::format("HTTP {} from {}: {}", response.status, url, body);
}

}  // namespace ferry::net
