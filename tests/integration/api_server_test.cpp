// The test API server (tests/servers/api_server.h) against its own contract, with a plain
// HTTP client: if these fail, a failing rest-source test says nothing about ferry.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "servers/api_server.h"

namespace ferry::testing {
namespace {

using nlohmann::json;

constexpr int kOrders = 250;  // 3 pages of 100: two full, one short

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GT(server_.start(), 0); }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server_.port());
    c.set_read_timeout(10, 0);
    return c;
  }
  // GET path -> the response; fails the test on a transport error.
  httplib::Result get(const std::string& path, const httplib::Headers& headers = {}) const {
    auto c = client();
    return c.Get(path, headers);
  }
  static json body_json(const httplib::Result& r) { return json::parse(r->body); }

  ApiServer server_{ApiServer::Options{.orders = kOrders, .page_size = 100}};
};

// The URL of relation `rel` in an RFC 8288 Link header, or "" when absent. (By hand: GCC 12
// reports false maybe-uninitialized warnings inside std::regex under the Asan build's -O1.)
std::string link_rel(const std::string& header, const std::string& rel) {
  const std::string want = "rel=\"" + rel + "\"";
  size_t pos = 0;
  while ((pos = header.find('<', pos)) != std::string::npos) {
    size_t close = header.find('>', pos);
    if (close == std::string::npos) break;
    size_t next = header.find('<', close);
    std::string params =
        header.substr(close + 1, next == std::string::npos ? next : next - close - 1);
    if (params.find(want) != std::string::npos) return header.substr(pos + 1, close - pos - 1);
    pos = close;
  }
  return "";
}

std::vector<int> ids_of(const json& orders) {
  std::vector<int> ids;
  for (const auto& o : orders)
    ids.push_back(o.at("id").get<int>());
  return ids;
}

std::vector<int> range(int first, int last) {
  std::vector<int> v;
  for (int i = first; i <= last; ++i)
    v.push_back(i);
  return v;
}

// ---------------------------------------------------------------- data and pagination

TEST_F(ApiServerTest, OrderMatchesTheDocumentedShape) {
  json o = ApiServer::order(4);
  EXPECT_EQ(o["id"], 4);
  EXPECT_EQ(o["updated_at"], "2024-01-01T00:04:00Z");
  EXPECT_EQ(ApiServer::updated_at(60), "2024-01-01T01:00:00Z");
  EXPECT_EQ(o["status"], "paid");  // ["new","paid","shipped"][4 % 3]
  EXPECT_TRUE(o["total"].is_number_float());
  EXPECT_EQ(o["customer"]["id"], 1004);
  EXPECT_EQ(o["customer"]["name"], "Customer 4");
  EXPECT_TRUE(o["customer"]["address"]["city"].is_string());
  EXPECT_EQ(o["customer"]["address"]["zip"].get<std::string>().size(), 5u);
  ASSERT_EQ(o["items"].size(), 2u);  // 4 % 3 + 1
  EXPECT_EQ(o["items"][1]["sku"], "SKU-2");
  EXPECT_EQ(o["items"][1]["qty"], 2);
  EXPECT_EQ(o["tags"], json({"vip", "new"}));
  EXPECT_EQ(ApiServer::order(5)["tags"], json::array());
  EXPECT_EQ(ApiServer::order(50)["customer"]["address"]["zip"], "00000");
}

TEST_F(ApiServerTest, CursorPagesChainToEveryOrderOnce) {
  std::vector<int> ids;
  std::string cursor;
  int pages = 0;
  for (;;) {
    std::string path = "/orders?limit=100";
    if (!cursor.empty()) path += "&cursor=" + cursor;
    auto r = get(path);
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    ASSERT_EQ(r->status, 200) << r->body;
    json body = body_json(r);
    ++pages;
    if (pages == 1) {
      EXPECT_EQ(body["data"][0], ApiServer::order(1));
    }
    for (int id : ids_of(body["data"]))
      ids.push_back(id);
    const json& next = body["meta"]["next_cursor"];
    if (next.is_null()) break;
    ASSERT_TRUE(next.is_string());
    ASSERT_LT(pages, 10) << "the cursor never ended";
    cursor = next.get<std::string>();
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ids, range(1, kOrders));
  EXPECT_EQ(server_.requests("/orders").size(), 3u);
}

TEST_F(ApiServerTest, UpdatedSinceReturnsOnlyNewerOrders) {
  // URL-encoded "+00:00": the server must see the offset, not a space.
  auto r = get("/orders?limit=100&updated_since=" + ApiServer::updated_at(200).substr(0, 19) +
               "%2B00:00");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(ids_of(body_json(r)["data"]), range(200, kOrders));
  EXPECT_TRUE(body_json(r)["meta"]["next_cursor"].is_null());
  // Between two orders: the next one is the first.
  r = get("/orders?limit=5&updated_since=2024-01-01T00:09:30Z");
  ASSERT_TRUE(r);
  EXPECT_EQ(ids_of(body_json(r)["data"]), range(10, 14));
  // An unencoded '+' arrives as a space: refused, not misread. (httplib would encode it.)
  auto raw = client();
  raw.set_url_encode(false);
  r = raw.Get("/orders?updated_since=2024-01-01T00:09:30+00:00");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(server_.requests("/orders").back().param("updated_since"), "2024-01-01T00:09:30 00:00");
}

TEST_F(ApiServerTest, PageNumberEndpointEndsWithAnEmptyPage) {
  std::vector<int> ids;
  for (int page = 1; page <= 4; ++page) {
    auto r = get("/orders_by_page?per_page=100&page=" + std::to_string(page));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    json body = body_json(r);
    EXPECT_EQ(body["total_pages"], 3);
    EXPECT_EQ(body["items"].size(), page <= 2 ? 100u : page == 3 ? 50u : 0u);
    for (int id : ids_of(body["items"]))
      ids.push_back(id);
  }
  EXPECT_EQ(ids, range(1, kOrders));
  auto bad = get("/orders_by_page?page=0");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(ApiServerTest, OffsetEndpointEndsWithAShortPage) {
  std::vector<int> ids;
  for (int offset = 0;; offset += 100) {
    auto r = get("/orders_by_offset?limit=100&offset=" + std::to_string(offset));
    ASSERT_TRUE(r);
    json body = body_json(r);
    EXPECT_EQ(body["total"], kOrders);
    for (int id : ids_of(body["results"]))
      ids.push_back(id);
    if (body["results"].size() < 100) break;
    ASSERT_LT(offset, 1000);
  }
  EXPECT_EQ(ids, range(1, kOrders));
  auto past = get("/orders_by_offset?offset=250");
  ASSERT_TRUE(past);
  EXPECT_EQ(body_json(past)["results"], json::array());
}

TEST_F(ApiServerTest, LinkHeaderChainsToTheLastPage) {
  std::vector<int> ids;
  std::string url = server_.base_url() + "/orders_linked?per_page=100";
  int pages = 0;
  while (!url.empty()) {
    ASSERT_EQ(url.rfind(server_.base_url(), 0), 0u) << url;
    auto r = get(url.substr(server_.base_url().size()));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    ++pages;
    json body = body_json(r);
    ASSERT_TRUE(body.is_array());
    for (int id : ids_of(body))
      ids.push_back(id);
    std::string header = r->get_header_value("Link");
    EXPECT_EQ(link_rel(header, "last"), server_.base_url() + "/orders_linked?page=3&per_page=100");
    url = link_rel(header, "next");
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ids, range(1, kOrders));
}

TEST_F(ApiServerTest, NextUrlChainsToNull) {
  std::vector<int> ids;
  json next = server_.base_url() + "/orders_next_url?per_page=100";
  int pages = 0;
  while (!next.is_null()) {
    std::string url = next.get<std::string>();
    ASSERT_EQ(url.rfind(server_.base_url(), 0), 0u) << url;
    auto r = get(url.substr(server_.base_url().size()));
    ASSERT_TRUE(r);
    json body = body_json(r);
    for (int id : ids_of(body["items"]))
      ids.push_back(id);
    next = body["links"]["next"];
    ASSERT_LT(++pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ids, range(1, kOrders));
}

TEST_F(ApiServerTest, JsonLinesBody) {
  auto r = get("/orders.jsonl?limit=3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/x-ndjson");
  std::string expected;
  for (int i = 1; i <= 3; ++i)
    expected += ApiServer::order(i).dump() + "\n";
  // Re-serialise each line so the comparison does not depend on number formatting.
  std::string got;
  size_t start = 0, nl;
  while ((nl = r->body.find('\n', start)) != std::string::npos) {
    got += json::parse(r->body.substr(start, nl - start)).dump() + "\n";
    start = nl + 1;
  }
  EXPECT_EQ(start, r->body.size()) << "the last line must end with a newline";
  EXPECT_EQ(got, expected);
  auto all = get("/orders.jsonl");
  ASSERT_TRUE(all);
  EXPECT_EQ(std::count(all->body.begin(), all->body.end(), '\n'), kOrders);
}

TEST_F(ApiServerTest, CatalogCarriesSchemaAddsAFieldAndHasOneShortRow) {
  std::vector<size_t> arities[4];
  for (int page = 1; page <= 3; ++page) {
    auto r = get("/catalog?page=" + std::to_string(page));
    ASSERT_TRUE(r);
    json body = body_json(r);
    EXPECT_EQ(body, ApiServer::catalog_page(page));
    EXPECT_EQ(body["schema"]["fields"].size(), page == 3 ? 9u : 8u);
    EXPECT_EQ(body["rows"].size(), 10u);
    if (page < 3) {
      EXPECT_EQ(body["next_page"], page + 1);
    } else {
      EXPECT_TRUE(body["next_page"].is_null());
    }
    for (const auto& row : body["rows"])
      arities[page].push_back(row.size());
  }
  json page3 = ApiServer::catalog_page(3);
  EXPECT_EQ(page3["schema"]["fields"][8], json({{"name", "weight_kg"}, {"type", "double"}}));
  EXPECT_EQ(std::count(arities[1].begin(), arities[1].end(), 8u), 10);
  EXPECT_EQ(std::count(arities[2].begin(), arities[2].end(), 8u), 9);
  EXPECT_EQ(std::count(arities[2].begin(), arities[2].end(), 7u), 1);
  EXPECT_EQ(std::count(arities[3].begin(), arities[3].end(), 9u), 10);

  auto objects = get("/catalog_objects");
  ASSERT_TRUE(objects);
  json body = body_json(objects);
  EXPECT_EQ(body, ApiServer::catalog_objects());
  ASSERT_EQ(body["rows"].size(), 10u);
  EXPECT_EQ(body["rows"][0]["sku"], ApiServer::catalog_page(1)["rows"][0][0]);
  EXPECT_TRUE(body["next_page"].is_null());
}

// ---------------------------------------------------------------- auth

TEST_F(ApiServerTest, EachAuthEndpointRefusesWrongAndAcceptsRightCredentials) {
  const json ok = json::parse(R"([{"id":1,"ok":true},{"id":2,"ok":true},{"id":3,"ok":true}])");
  struct Case {
    std::string path;
    httplib::Headers wrong, right;
  };
  const std::vector<Case> cases = {
      {"/auth/bearer",
       {{"Authorization", "Bearer nope"}},
       {{"Authorization", "Bearer secret-token"}}},
      // base64("ferry:p@ss") and base64("ferry:p@ss:word"): the password holds a ':'.
      {"/auth/basic",
       {{"Authorization", "Basic ZmVycnk6cEBzcw=="}},
       {{"Authorization", "Basic ZmVycnk6cEBzczp3b3Jk"}}},
      {"/auth/header_key", {{"X-API-Key", "key-124"}}, {{"X-API-Key", "key-123"}}},
  };
  for (const auto& c : cases) {
    auto none = get(c.path);
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401) << c.path;
    EXPECT_TRUE(body_json(none).contains("error")) << c.path;
    auto wrong = get(c.path, c.wrong);
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401) << c.path;
    auto right = get(c.path, c.right);
    ASSERT_TRUE(right);
    EXPECT_EQ(right->status, 200) << c.path;
    EXPECT_EQ(body_json(right), ok) << c.path;
  }
  auto wrong = get("/auth/query_key?api_key=key-124");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto right = get("/auth/query_key?api_key=key-123");
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200);
  EXPECT_EQ(body_json(right), ok);
}

TEST_F(ApiServerTest, OAuthClientCredentialsIssueTokensThatRevocationInvalidates) {
  auto c = client();
  const char* form = "application/x-www-form-urlencoded";
  auto bad = c.Post("/oauth/token",
                    "grant_type=client_credentials&client_id=ferry-client&client_secret=x", form);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  EXPECT_EQ(body_json(bad)["error"], "invalid_client");
  auto grant = c.Post("/oauth/token", "grant_type=password", form);
  ASSERT_TRUE(grant);
  EXPECT_EQ(grant->status, 400);
  EXPECT_EQ(server_.tokens_issued(), 0);

  auto r = c.Post("/oauth/token",
                  "grant_type=client_credentials&client_id=ferry-client&client_secret=s3cr3t"
                  "&scope=orders%3Aread",
                  form);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json token = body_json(r);
  EXPECT_EQ(token["token_type"], "Bearer");
  EXPECT_EQ(token["expires_in"], 3600);
  EXPECT_EQ(token["scope"], "orders:read");
  const std::string bearer = "Bearer " + token["access_token"].get<std::string>();

  auto none = get("/auth/oauth");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  auto made_up = get("/auth/oauth", {{"Authorization", "Bearer tok-999"}});
  ASSERT_TRUE(made_up);
  EXPECT_EQ(made_up->status, 401);
  auto ok = get("/auth/oauth", {{"Authorization", bearer}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);

  server_.revoke_tokens();
  auto revoked = get("/auth/oauth", {{"Authorization", bearer}});
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->status, 401);

  // Client credentials as HTTP Basic instead of in the form.
  auto c2 = client();
  c2.set_basic_auth("ferry-client", "s3cr3t");
  auto again = c2.Post("/oauth/token", "grant_type=client_credentials", form);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->status, 200) << again->body;
  std::string fresh = body_json(again)["access_token"];
  EXPECT_NE("Bearer " + fresh, bearer);
  auto ok2 = get("/auth/oauth", {{"Authorization", "Bearer " + fresh}});
  ASSERT_TRUE(ok2);
  EXPECT_EQ(ok2->status, 200);
  EXPECT_EQ(server_.tokens_issued(), 2);
}

// ---------------------------------------------------------------- faults

TEST_F(ApiServerTest, StatusFaultsFireTimesThenClear) {
  struct Case {
    Fault::Kind kind;
    int status;
    std::string content_type;
  };
  const std::vector<Case> cases = {
      {Fault::Kind::kStatus429, 429, "application/json"},
      {Fault::Kind::kStatus500, 500, "application/json"},
      {Fault::Kind::kStatus404, 404, "application/json"},
      {Fault::Kind::kHtml502, 502, "text/html"},
      {Fault::Kind::kNotJson, 200, "text/plain"},
  };
  for (const auto& c : cases) {
    const std::string name = fault_kind_name(c.kind);
    server_.set_fault({.path = "/orders", .kind = c.kind, .times = 2, .retry_after_seconds = 7});
    for (int i = 0; i < 2; ++i) {
      auto r = get("/orders?limit=1");
      ASSERT_TRUE(r) << name;
      EXPECT_EQ(r->status, c.status) << name;
      EXPECT_EQ(r->get_header_value("Content-Type"), c.content_type) << name;
      if (c.kind == Fault::Kind::kStatus429) {
        EXPECT_EQ(r->get_header_value("Retry-After"), "7");
      } else if (c.kind == Fault::Kind::kHtml502) {
        EXPECT_NE(r->body.find("<h1>502 Bad Gateway</h1>"), std::string::npos);
      } else if (c.kind == Fault::Kind::kNotJson) {
        EXPECT_EQ(r->body, "hello");
      }
      if (c.status != 200 && c.kind != Fault::Kind::kHtml502) {
        EXPECT_TRUE(body_json(r).contains("error")) << name;
      }
    }
    auto after = get("/orders?limit=1");
    ASSERT_TRUE(after) << name;
    EXPECT_EQ(after->status, 200) << name;
    EXPECT_EQ(body_json(after)["data"][0]["id"], 1) << name;
    EXPECT_TRUE(server_.faults().empty()) << name;
  }
}

TEST_F(ApiServerTest, FaultMatchesOnlyItsPathAndParameter) {
  server_.set_fault({.path = "/orders",
                     .match_param = "cursor",
                     .match_value = "c100",
                     .kind = Fault::Kind::kStatus500,
                     .times = -1});
  auto other_path = get("/orders_by_page?page=2");
  ASSERT_TRUE(other_path);
  EXPECT_EQ(other_path->status, 200);
  auto other_cursor = get("/orders?cursor=c200");
  ASSERT_TRUE(other_cursor);
  EXPECT_EQ(other_cursor->status, 200);
  for (int i = 0; i < 3; ++i) {  // times = -1: it never runs out
    auto hit = get("/orders?cursor=c100");
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->status, 500);
  }
  EXPECT_EQ(server_.faults().size(), 1u);
  server_.clear_faults();
  auto cleared = get("/orders?cursor=c100");
  ASSERT_TRUE(cleared);
  EXPECT_EQ(cleared->status, 200);
}

TEST_F(ApiServerTest, TruncatedFaultCutsTheBodyShortOfItsContentLength) {
  server_.set_fault({.path = "/orders", .kind = Fault::Kind::kTruncated, .times = 1});
  auto cut = get("/orders?limit=50");
  ASSERT_FALSE(cut) << "the client read a whole body: " << cut->body.size() << " bytes";
  EXPECT_EQ(cut.error(), httplib::Error::Read);
  auto whole = get("/orders?limit=50");
  ASSERT_TRUE(whole) << httplib::to_string(whole.error());
  EXPECT_EQ(body_json(whole)["data"].size(), 50u);
}

TEST_F(ApiServerTest, DelayFaultOutlastsAShortClientTimeout) {
  server_.set_fault({.path = "/orders", .kind = Fault::Kind::kDelay, .times = 1, .delay_ms = 3000});
  auto c = client();
  c.set_read_timeout(0, 200'000);  // 0.2 s, far below the 3 s delay
  auto slow = c.Get("/orders?limit=1");
  EXPECT_FALSE(slow);
  auto fine = get("/orders?limit=1");  // the fault is spent
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 200);
}

TEST_F(ApiServerTest, RepeatCursorFaultEchoesTheRequestCursor) {
  server_.set_fault({.path = "/orders", .kind = Fault::Kind::kRepeatCursor, .times = 1});
  auto first = get("/orders?limit=100");  // no cursor: not matched, the fault stays armed
  ASSERT_TRUE(first);
  std::string cursor = body_json(first)["meta"]["next_cursor"];
  EXPECT_EQ(server_.faults().size(), 1u);
  auto again = get("/orders?limit=100&cursor=" + cursor);
  ASSERT_TRUE(again);
  EXPECT_EQ(body_json(again)["meta"]["next_cursor"], cursor);
  EXPECT_EQ(body_json(again)["data"][0]["id"], 101);
  auto normal = get("/orders?limit=100&cursor=" + cursor);
  ASSERT_TRUE(normal);
  EXPECT_NE(body_json(normal)["meta"]["next_cursor"], cursor);
}

TEST_F(ApiServerTest, FaultFromJsonReadsTheControlEndpointFields) {
  std::string error;
  auto f = fault_from_json(json::parse(R"({"path":"/orders","kind":"status_429","times":3,
      "retry_after_seconds":2,"match_param":"cursor","match_value":"c1","delay_ms":5})"),
                           error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->kind, Fault::Kind::kStatus429);
  EXPECT_EQ(f->times, 3);
  EXPECT_EQ(f->retry_after_seconds, 2);
  EXPECT_EQ(f->match_value, "c1");
  EXPECT_FALSE(fault_from_json(json::parse(R"({"path":"/orders","kind":"bogus"})"), error));
  EXPECT_NE(error.find("bogus"), std::string::npos);
  EXPECT_FALSE(fault_from_json(json::parse(R"({"kind":"delay"})"), error));
  EXPECT_FALSE(fault_from_json(json::parse(R"({"path":"/x","kind":"delay","times":"2"})"), error));

  // The same over HTTP, as the standalone binary is driven.
  auto c = client();
  auto armed =
      c.Post("/_control/fault", R"({"path":"/catalog","kind":"status_500"})", "application/json");
  ASSERT_TRUE(armed);
  EXPECT_EQ(armed->status, 200);
  auto hit = get("/catalog");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->status, 500);
  auto refused = c.Post("/_control/fault", R"({"path":"/catalog"})", "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
}

// ---------------------------------------------------------------- request log

TEST_F(ApiServerTest, RequestLogRecordsParamsLowerCasedHeadersAndBodies) {
  ASSERT_TRUE(get("/orders?limit=5&tag=a&tag=b", {{"X-Trace-Id", "abc"}}));
  auto c = client();
  ASSERT_TRUE(
      c.Post("/oauth/token", "grant_type=client_credentials", "application/x-www-form-urlencoded"));
  ASSERT_TRUE(get("/no/such/path"));

  auto all = server_.requests();
  ASSERT_EQ(all.size(), 3u);
  const LoggedRequest& r = all[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/orders");
  EXPECT_EQ(r.param("limit"), "5");
  EXPECT_EQ(r.params.count("tag"), 2u);
  EXPECT_FALSE(r.has_param("cursor"));
  EXPECT_EQ(r.header("x-trace-id"), "abc");
  EXPECT_EQ(r.header("remote_addr"), "");  // httplib's bookkeeping is not a header
  EXPECT_EQ(all[1].method, "POST");
  EXPECT_EQ(all[1].body, "grant_type=client_credentials");
  EXPECT_TRUE(all[1].params.empty()) << "form fields are the body, not the query";
  EXPECT_EQ(all[2].path, "/no/such/path");

  // The control endpoints see the same log and are not in it themselves.
  auto log = get("/_control/requests?path=/orders");
  ASSERT_TRUE(log);
  json entries = body_json(log);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["params"]["tag"], json({"a", "b"}));
  EXPECT_EQ(server_.requests().size(), 3u);

  server_.clear_log();
  EXPECT_TRUE(server_.requests().empty());
}

TEST(ApiServerLifecycle, StopsCleanlyAndIdempotently) {
  ApiServer unstarted;  // destroyed without start(): must not hang or crash
  ApiServer server({.orders = 10});
  int port = server.start();
  ASSERT_GT(port, 0);
  EXPECT_EQ(server.base_url(), "http://127.0.0.1:" + std::to_string(port));
  server.stop();
  server.stop();
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1, 0);
  EXPECT_FALSE(c.Get("/orders")) << "still serving after stop()";
}

}  // namespace
}  // namespace ferry::testing
