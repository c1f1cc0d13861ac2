// The HTTP client against a real HTTP server (cpp-httplib) on loopback.
#include <httplib.h>

#include <atomic>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "net/http.h"
#include "net/retry.h"

namespace ferry::net {
namespace {

using ::testing::HasSubstr;

class Server {
 public:
  Server() {
    port_ = http_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { http_.listen_after_bind(); });
    while (!http_.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Server() {
    http_.stop();
    thread_.join();
  }
  httplib::Server& http() { return http_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  httplib::Server http_;
  int port_ = 0;
  std::thread thread_;
};

TEST(HttpClient, SendsHeadersAndBodyAndReadsTheResponse) {
  Server s;
  s.http().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Seen", req.get_header_value("X-Token"));
    res.set_content(req.body + "|" + req.get_header_value("Content-Type"), "text/plain");
    res.status = 201;
  });
  HttpClient client;
  HttpRequest req;
  req.method = "POST";
  req.url = s.url("/echo");
  req.headers = {{"X-Token", "abc"}, {"Content-Type", "application/json"}};
  req.body = R"({"a":1})";
  auto res = client.send(req);
  ASSERT_TRUE(res.ok()) << res.status().to_string();
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->body, R"({"a":1}|application/json)");
  EXPECT_EQ(res->header("x-seen"), "abc");
  EXPECT_EQ(res->header("x-missing"), std::nullopt);
}

TEST(HttpClient, ReusesTheConnectionAcrossRequests) {
  Server s;
  std::vector<int> ports;
  std::mutex mu;
  s.http().Get("/p", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu);
    ports.push_back(req.remote_port);
    res.set_content("ok", "text/plain");
  });
  HttpClient client;
  for (int i = 0; i < 3; ++i) {
    auto res = client.send({.url = s.url("/p")});
    ASSERT_TRUE(res.ok());
  }
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[0], ports[1]);  // same client port: one keep-alive connection
  EXPECT_EQ(ports[1], ports[2]);
}

TEST(HttpClient, DecodesGzipBodies) {
  Server s;
  std::string big(100'000, 'x');
  s.http().Get("/big", [&](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Accept", req.get_header_value("Accept-Encoding"));
    res.set_content(big, "text/plain");  // httplib compresses when the client accepts gzip
  });
  HttpClient client;
  auto res = client.send({.url = s.url("/big")});
  ASSERT_TRUE(res.ok());
  EXPECT_THAT(*res->header("x-accept"), HasSubstr("gzip"));
  EXPECT_EQ(res->body, big);
}

TEST(HttpClient, StreamsTheBodyAndCollectsErrorBodies) {
  Server s;
  s.http().Get("/ok", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(50'000, 'y'), "text/plain");
  });
  s.http().Get("/bad", [](const httplib::Request&, httplib::Response& res) {
    res.status = 403;
    res.set_content("<Error>denied</Error>", "application/xml");
  });
  HttpClient client;
  size_t streamed = 0;
  long seen_status = 0;
  auto res = client.send_streaming(
      {.url = s.url("/ok")},
      [&](const HttpResponse& r) {
        seen_status = r.status;
        return Status::success();
      },
      [&](std::string_view chunk) {
        streamed += chunk.size();
        return Status::success();
      });
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(seen_status, 200);
  EXPECT_EQ(streamed, 50'000u);
  EXPECT_TRUE(res->body.empty());

  streamed = 0;
  auto bad = client.send_streaming({.url = s.url("/bad")}, {}, [&](std::string_view chunk) {
    streamed += chunk.size();
    return Status::success();
  });
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 403);
  EXPECT_EQ(bad->body, "<Error>denied</Error>");
  EXPECT_EQ(streamed, 0u);
}

TEST(HttpClient, ACallbackErrorStopsTheTransfer) {
  Server s;
  s.http().Get("/ok", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(500'000, 'y'), "text/plain");
  });
  HttpClient client;
  auto res = client.send_streaming({.url = s.url("/ok")}, {}, [](std::string_view) {
    return Status::invalid("not what we wanted");
  });
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().message(), "not what we wanted");
}

TEST(HttpClient, TransportFailuresAreRetryableAndNameTheDisplayUrl) {
  Server s;
  s.http().Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    res.set_content("late", "text/plain");
  });
  HttpClient client({.timeout = std::chrono::milliseconds(200)});
  auto res = client.send({.url = s.url("/slow?key=SECRET"), .display_url = s.url("/slow")});
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), Code::kRetry);
  EXPECT_THAT(res.status().message(), HasSubstr("timed out"));
  EXPECT_THAT(res.status().message(), ::testing::Not(HasSubstr("SECRET")));

  HttpClient refused;
  auto gone = refused.send({.url = "http://127.0.0.1:1/x"});
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), Code::kRetry);
}

TEST(HttpClient, StartSendsTheRequestAndFinishReadsTheResponseOnTheSameConnection) {
  Server s;
  std::atomic<int> arrived{0};
  std::vector<int> ports;
  std::mutex mu;
  s.http().Get("/page", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard lock(mu);
      ports.push_back(req.remote_port);
    }
    ++arrived;
    res.set_content("page " + req.get_param_value("n"), "text/plain");
  });
  HttpClient client;
  auto first = client.send({.url = s.url("/page?n=1")});
  ASSERT_TRUE(first.ok()) << first.status().to_string();

  client.start({.url = s.url("/page?n=2")});
  // The server sees the request while the caller has not asked for the response yet.
  for (int i = 0; i < 200 && arrived.load() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(arrived.load(), 2);
  auto second = client.finish();
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, "page 2");
  EXPECT_EQ(second->header("content-type"), "text/plain");

  auto third = client.send({.url = s.url("/page?n=3")});
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->body, "page 3");
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[0], ports[1]);  // one keep-alive connection, whichever way a request went
  EXPECT_EQ(ports[1], ports[2]);
}

TEST(HttpClient, AStartedRequestFailsInFinishOrIsAbandoned) {
  HttpClient refused;
  refused.start({.url = "http://127.0.0.1:1/x", .display_url = "http://127.0.0.1:1/shown"});
  auto gone = refused.finish();
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), Code::kRetry);
  EXPECT_THAT(gone.status().message(), HasSubstr("/shown"));
  EXPECT_EQ(refused.finish().status().code(), Code::kInternal);  // nothing started since

  Server s;
  std::atomic<bool> answered{false};
  s.http().Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    res.set_content("late", "text/plain");
    answered = true;
  });
  s.http().Get("/fast", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("fast", "text/plain");
  });
  HttpClient client;
  client.start({.url = s.url("/slow")});
  EXPECT_FALSE(answered.load());  // start() did not wait for the response
  client.abandon();               // nor does abandon(); the client stays usable
  auto fast = client.send({.url = s.url("/fast")});
  ASSERT_TRUE(fast.ok()) << fast.status().to_string();
  EXPECT_EQ(fast->body, "fast");
}

TEST(HttpClient, ReadsFileUrls) {
  char path[] = "/tmp/ferry_net_testXXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "[1,2]", 5), 5);
  close(fd);
  HttpClient client;
  auto res = client.send({.url = std::string("file://") + path});
  unlink(path);
  ASSERT_TRUE(res.ok()) << res.status().to_string();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "[1,2]");
}

TEST(Retry, RetriesServerErrorsThenSucceeds) {
  Server s;
  std::atomic<int> calls{0};
  s.http().Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
    if (++calls <= 2) {
      res.status = 500;
      res.set_content("oops", "text/plain");
      return;
    }
    res.set_content("fine", "text/plain");
  });
  HttpClient client;
  std::vector<std::chrono::milliseconds> waits;
  RetryHooks hooks;
  hooks.sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); };
  int attempts = 0;
  auto res = send_with_retries(client, {.url = s.url("/flaky")}, {}, hooks, &attempts);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->body, "fine");
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(calls.load(), 3);
  ASSERT_EQ(waits.size(), 2u);
  // Exponential: the second wait's range [base, 2*base] lies above the first's [base/2, base].
  EXPECT_GE(waits[0].count(), 250);
  EXPECT_LE(waits[0].count(), 500);
  EXPECT_GE(waits[1].count(), 500);
  EXPECT_LE(waits[1].count(), 1000);
}

TEST(Retry, HonoursRetryAfterAndGivesUpAfterMaxRetries) {
  Server s;
  std::atomic<int> calls{0};
  s.http().Get("/busy", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 429;
    res.set_header("Retry-After", "7");
    res.set_content("slow down", "text/plain");
  });
  HttpClient client;
  std::vector<std::chrono::milliseconds> waits;
  RetryHooks hooks;
  hooks.sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); };
  auto res = send_with_retries(client, {.url = s.url("/busy")}, {.max_retries = 2}, hooks);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 429);  // the caller words the final failure
  EXPECT_EQ(calls.load(), 3);
  ASSERT_EQ(waits.size(), 2u);
  EXPECT_EQ(waits[0], std::chrono::milliseconds(7000));
  EXPECT_EQ(describe_failure({.url = s.url("/busy")}, *res),
            "HTTP 429 from " + s.url("/busy") + ": slow down");
}

TEST(Retry, DoesNotRetryClientErrors) {
  Server s;
  std::atomic<int> calls{0};
  s.http().Get("/nope", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 404;
  });
  HttpClient client;
  RetryHooks hooks;
  hooks.sleep = [](std::chrono::milliseconds) { FAIL() << "must not wait"; };
  auto res = send_with_retries(client, {.url = s.url("/nope")}, {}, hooks);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(calls.load(), 1);
}

TEST(Retry, RetryAfterFirstJudgesTheStartedAttemptThenRetries) {
  Server s;
  std::atomic<int> calls{0};
  s.http().Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
    if (++calls == 1) {
      res.status = 503;
      res.set_content("busy", "text/plain");
      return;
    }
    res.set_content("fine", "text/plain");
  });
  HttpClient client;
  std::vector<std::chrono::milliseconds> waits;
  RetryHooks hooks;
  hooks.sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); };
  const HttpRequest req{.url = s.url("/flaky")};
  client.start(req);
  int attempts = 0;
  auto res = retry_after_first(client, req, client.finish(), {}, hooks, &attempts);
  ASSERT_TRUE(res.ok()) << res.status().to_string();
  EXPECT_EQ(res->body, "fine");
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(waits.size(), 1u);

  // A first attempt that succeeded is returned as it is, without another request.
  client.start(req);
  auto again = retry_after_first(client, req, client.finish(), {}, hooks, &attempts);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->body, "fine");
  EXPECT_EQ(attempts, 1);
  EXPECT_EQ(calls.load(), 3);
}

TEST(Retry, RateLimiterSpacesRequests) {
  RateLimiter limiter(10);  // one request per 100 ms
  EXPECT_EQ(limiter.reserve().count(), 0);
  auto second = limiter.reserve();
  auto third = limiter.reserve();
  EXPECT_GE(second.count(), 90);
  EXPECT_LE(second.count(), 100);
  EXPECT_GE(third.count(), 190);
  EXPECT_EQ(RateLimiter::shared("api", 0), nullptr);
  EXPECT_EQ(RateLimiter::shared("api", 5), RateLimiter::shared("api", 5));
}

TEST(Encoding, RetryAfterUrlAndBase64) {
  auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("120", now), std::chrono::milliseconds(120'000));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            std::chrono::milliseconds(60'000));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:40:37 GMT", now), std::chrono::milliseconds(0));
  EXPECT_EQ(parse_retry_after("soon", now), std::nullopt);
  EXPECT_EQ(url_encode("a b&c=d/é~"), "a%20b%26c%3Dd%2F%C3%A9~");
  EXPECT_EQ(url_decode("a%20b%26c%3Dd%2F%C3%A9~%"), "a b&c=d/é~%");
  EXPECT_EQ(base64_encode("ferry:p@ss:word"), "ZmVycnk6cEBzczp3b3Jk");
  EXPECT_EQ(base64_encode("a"), "YQ==");
  EXPECT_EQ(base64_encode("ab"), "YWI=");
  EXPECT_EQ(base64_encode(""), "");
}

}  // namespace
}  // namespace ferry::net
