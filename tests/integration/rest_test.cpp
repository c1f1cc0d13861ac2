// The rest source end to end: the ferry binary against a real HTTP API on loopback
// (tests/servers/api_server.h), asserting the rows in the warehouse and what the server saw.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "integration/ferry_process.h"
#include "servers/api_server.h"
#include "testing.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A project with one http connection to `server` and the given jobs (YAML list items).
void write_project(const TempDir& dir, const ApiServer& server, const std::string& jobs,
                   const std::string& connection_extra = "") {
  dir.write("ferry.yml",
            "project: rest\nwarehouse: wh\nconnections:\n"
            "  wh: {type: sqlite, path: wh.db}\n"
            "  api: {type: http, base_url: \"" +
                server.base_url() + "\", retry_backoff: 10ms" + connection_extra + "}\njobs:\n" +
                jobs);
}

// Replaces `from` (which must occur) by `to` in the project's ferry.yml and applies it.
void edit_project(const TempDir& dir, const std::string& from, const std::string& to) {
  std::string y = read_file(dir.path() / "ferry.yml");
  ASSERT_NE(y.find(from), std::string::npos) << from;
  y.replace(y.find(from), from.size(), to);
  dir.write("ferry.yml", y);
  ASSERT_EQ(run_ferry(dir.str(), {"apply"}).exit_code, 0);
}

std::string count(const TempDir& dir, const std::string& table) {
  return query_value(dir.str(), "SELECT COUNT(*) FROM " + table);
}

std::string str(int n) {
  return std::to_string(n);
}

// Child rows the data set has for orders 1..n: (i % 3) + 1 items, two tags on even orders.
int items_for(int n) {
  int total = 0;
  for (int i = 1; i <= n; ++i)
    total += i % 3 + 1;
  return total;
}

constexpr const char* kCursorJob = R"(  - id: orders
    source: {connection: api, path: /orders, params: {limit: 100, updated_since: "{{watermark}}"},
             records: /data, paginate: {type: cursor, cursor: /meta/next_cursor, param: cursor}}
    target: {table: orders, mode: merge, primary_key: [id]}
    incremental: {cursor_field: updated_at}
)";

TEST(Rest, CursorPaginationLoadsEveryNestedOrderExactly) {
  ApiServer server({.orders = 2500});
  ASSERT_GT(server.start(), 0);
  TempDir dir;
  write_project(dir, server, kCursorJob);
  ProcessResult r = run_ferry(dir.str(), {"run", "orders"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  auto requests = server.requests("/orders");
  ASSERT_EQ(requests.size(), 25u);  // 25 pages of 100
  EXPECT_FALSE(requests[0].has_param("cursor"));
  EXPECT_FALSE(requests[0].has_param("updated_since"));  // no watermark yet: not sent
  EXPECT_TRUE(requests[1].has_param("cursor"));
  EXPECT_EQ(requests[1].header("accept"), "application/json");

  EXPECT_EQ(count(dir, "orders"), "2500");
  EXPECT_EQ(count(dir, "orders__items"), str(items_for(2500)));
  EXPECT_EQ(count(dir, "orders__tags"), "2500");  // 1250 even orders x 2 tags
  // Nested objects became columns, exactly as served.
  auto o = ApiServer::order(1234);
  auto row = query(dir.str(),
                   "SELECT status, customer__name, customer__address__city, customer__address__zip "
                   "FROM orders WHERE id = 1234");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row[0][0], o["status"].get<std::string>());
  EXPECT_EQ(row[0][1], o["customer"]["name"].get<std::string>());
  EXPECT_EQ(row[0][2], o["customer"]["address"]["city"].get<std::string>());
  EXPECT_EQ(row[0][3], o["customer"]["address"]["zip"].get<std::string>());
  EXPECT_EQ(query_value(dir.str(),
                        "SELECT group_concat(i.sku, ',') FROM orders__items i JOIN orders o "
                        "ON i._ferry_parent_id = o._ferry_id WHERE o.id = 1234"),
            [&] {
              std::string s;
              for (const auto& item : o["items"])
                s += (s.empty() ? "" : ",") + item["sku"].get<std::string>();
              return s;
            }());
}

TEST(Rest, ASecondRunSendsTheWatermarkAndLoadsOnlyNewerRecords) {
  ApiServer server({.orders = 300});
  ASSERT_GT(server.start(), 0);
  TempDir dir;
  write_project(dir, server, kCursorJob);
  ASSERT_EQ(run_ferry(dir.str(), {"run", "orders"}).exit_code, 0);
  EXPECT_EQ(query_value(dir.str(),
                        "SELECT json_extract(state, '$.watermark') FROM _ferry_state "
                        "WHERE job_id = 'orders'"),
            ApiServer::updated_at(300));
  server.clear_log();

  ProcessResult again = run_ferry(dir.str(), {"run", "orders"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  auto requests = server.requests("/orders");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].param("updated_since"), ApiServer::updated_at(300));
  EXPECT_EQ(count(dir, "orders"), "300");  // the re-read order 300 was merged, not duplicated
  EXPECT_EQ(count(dir, "orders__items"), str(items_for(300)));

  // With a lookback, the window before the watermark is read again.
  edit_project(dir, "incremental: {cursor_field: updated_at}",
               "incremental: {cursor_field: updated_at, lookback: 10m}");
  server.clear_log();
  ASSERT_EQ(run_ferry(dir.str(), {"run", "orders"}).exit_code, 0);
  ASSERT_EQ(server.requests("/orders").size(), 1u);
  EXPECT_EQ(server.requests("/orders")[0].param("updated_since"), ApiServer::updated_at(290));
  EXPECT_EQ(count(dir, "orders"), "300");
}

TEST(Rest, PageNumberOffsetLinkHeaderNextUrlAndJsonLinesEachReadEveryRecordOnce) {
  ApiServer server({.orders = 250});
  ASSERT_GT(server.start(), 0);
  TempDir dir;
  write_project(dir, server, R"(  - id: by_page
    source: {connection: api, path: /orders_by_page, records: /items,
             paginate: {type: page_number, total_pages: /total_pages}}
    target: {table: by_page}
  - id: by_empty_page
    source: {connection: api, path: /orders_by_page, records: /items, paginate: {type: page_number}}
    target: {table: by_empty_page}
  - id: by_offset
    source: {connection: api, path: /orders_by_offset, params: {limit: 100}, records: /results,
             paginate: {type: offset, total: /total}}
    target: {table: by_offset}
  - id: linked
    source: {connection: api, path: /orders_linked, paginate: link_header}
    target: {table: linked}
  - id: next_url
    source: {connection: api, path: /orders_next_url, records: /items,
             paginate: {type: next_url, next: /links/next}}
    target: {table: next_url}
  - id: lines
    source: {connection: api, path: /orders.jsonl, format: jsonl}
    target: {table: lines}
)");
  ProcessResult r = run_ferry(dir.str(), {"run", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* t : {"by_page", "by_empty_page", "by_offset", "linked", "next_url", "lines"}) {
    EXPECT_EQ(count(dir, t), "250") << t;
    EXPECT_EQ(query_value(dir.str(), std::string("SELECT COUNT(DISTINCT id) FROM ") + t), "250")
        << t;
    EXPECT_EQ(count(dir, std::string(t) + "__items"), str(items_for(250))) << t;
  }
  EXPECT_EQ(server.requests("/orders_by_page").size(), 3u + 4u);  // total_pages; empty page
  EXPECT_EQ(server.requests("/orders_by_offset").size(), 3u);     // 100, 100, 50 (short)
  EXPECT_EQ(server.requests("/orders_linked").size(), 3u);
  EXPECT_EQ(server.requests("/orders_next_url").size(), 3u);
  auto offsets = server.requests("/orders_by_offset");
  EXPECT_EQ(offsets[2].param("offset"), "200");
  EXPECT_EQ(offsets[2].param("limit"), "100");
}

TEST(Rest, SchemaRowsUseDeclaredTypesEvolveAndRejectBadRows) {
  ApiServer server;
  ASSERT_GT(server.start(), 0);
  TempDir dir;
  write_project(dir, server, R"(  - id: catalog
    source: {connection: api, path: /catalog, format: schema_rows, fields: /schema/fields,
             rows: /rows, paginate: {type: cursor, cursor: /next_page, param: page}}
    target: {table: catalog, mode: replace}
    max_rejects: 5
  - id: catalog_objects
    source: {connection: api, path: /catalog_objects, format: schema_rows,
             fields: /schema/fields, rows: /rows}
    target: {table: catalog_objects}
)");
  ProcessResult r = run_ferry(dir.str(), {"run", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  size_t rows = 0;
  for (int p = 1; p <= 3; ++p)
    rows += ApiServer::catalog_page(p)["rows"].size();
  EXPECT_EQ(count(dir, "catalog"), str(static_cast<int>(rows) - 1));  // one short row rejected
  EXPECT_EQ(query_value(dir.str(), "SELECT reason FROM _ferry_rejects WHERE job_id = 'catalog'"),
            "the row has 7 values but the schema has 8 fields");
  // Declared types, not inferred ones.
  std::string ddl = query_value(dir.str(), "SELECT sql FROM sqlite_master WHERE name = 'catalog'");
  EXPECT_THAT(ddl, HasSubstr(R"("stock" INTEGER)"));
  EXPECT_THAT(ddl, HasSubstr(R"("price" NUMERIC)"));
  EXPECT_THAT(ddl, HasSubstr(R"("weight_kg" REAL)"));  // added by page 3
  // Only page 3's rows have a weight.
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(weight_kg) FROM catalog"),
            str(static_cast<int>(ApiServer::catalog_page(3)["rows"].size())));
  ProcessResult audit = run_ferry(dir.str(), {"audit", "--json"});
  EXPECT_THAT(audit.out, HasSubstr("weight_kg"));
  EXPECT_EQ(count(dir, "catalog_objects"),
            str(static_cast<int>(ApiServer::catalog_objects()["rows"].size())));
}

TEST(Rest, EveryAuthTypeIsSentAndWrongCredentialsFailWithoutShowingThem) {
  ApiServer server;
  ASSERT_GT(server.start(), 0);
  TempDir dir;
  std::string base = server.base_url();
  dir.write("ferry.yml",
            R"(project: auth
warehouse: wh
connections:
  wh: {type: sqlite, path: wh.db}
  bearer: {type: http, base_url: ")" +
                base + R"(", auth: {type: bearer, token: "${TOKEN}"}}
  basic: {type: http, base_url: ")" +
                base + R"(", auth: {type: basic, username: ferry, password: "${PASSWORD}"}}
  header_key: {type: http, base_url: ")" +
                base + R"(", auth: {type: api_key, value: "${KEY}"}}
  query_key: {type: http, base_url: ")" +
                base + R"(", auth: {type: api_key, name: api_key, in: query, value: "${KEY}"}}
  oauth: {type: http, base_url: ")" +
                base + R"(", auth: {type: oauth2, token_url: ")" + base +
                R"(/oauth/token", client_id: ferry-client, client_secret: "${CLIENT_SECRET}"}}
jobs:
  - {id: bearer, source: {connection: bearer, path: /auth/bearer}, target: {table: bearer}}
  - {id: basic, source: {connection: basic, path: /auth/basic}, target: {table: basic}}
  - {id: header_key, source: {connection: header_key, path: /auth/header_key}, target: {table: header_key}}
  - {id: query_key, source: {connection: query_key, path: /auth/query_key}, target: {table: query_key}}
  - {id: oauth, source: {connection: oauth, path: /auth/oauth}, target: {table: oauth}}
)");
  std::map<std::string, std::string> good = {{"TOKEN", "secret-token"},
                                             {"PASSWORD", "p@ss:word"},
                                             {"KEY", "key-123"},
                                             {"CLIENT_SECRET", "s3cr3t"}};
  ProcessResult r = run_ferry(dir.str(), {"run", "--all"}, good);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* t : {"bearer", "basic", "header_key", "query_key", "oauth"})
    EXPECT_EQ(count(dir, t), "3") << t;
  EXPECT_EQ(server.tokens_issued(), 1);
  EXPECT_EQ(server.requests("/oauth/token")[0].method, "POST");

  std::map<std::string, std::string> bad = {{"TOKEN", "wrong-token-1"},
                                            {"PASSWORD", "wrong-pass-2"},
                                            {"KEY", "wrong-key-3"},
                                            {"CLIENT_SECRET", "wrong-secret-4"}};
  ProcessResult denied = run_ferry(dir.str(), {"run", "--all"}, bad);
  EXPECT_EQ(denied.exit_code, 1);
  std::string all = denied.out + denied.err + run_ferry(dir.str(), {"runs", "--json"}).out +
                    run_ferry(dir.str(), {"audit", "--json"}).out;
  EXPECT_THAT(all, HasSubstr("HTTP 401 from " + base + "/auth/bearer"));
  EXPECT_THAT(all, HasSubstr(base + "/auth/query_key?api_key=***"));
  EXPECT_THAT(all, HasSubstr("OAuth2 token request failed: HTTP 401"));
  for (const char* secret : {"wrong-token-1", "wrong-pass-2", "wrong-key-3", "wrong-secret-4"})
    EXPECT_THAT(all, Not(HasSubstr(secret)));
}

TEST(Rest, AnOAuthTokenRevokedMidRunIsRefreshedOnce) {
  ApiServer server;
  ASSERT_GT(server.start(), 0);
  TempDir dir;
  std::string base = server.base_url();
  write_project(dir, server, R"(  - id: oauth
    source: {connection: api, path: /auth/oauth, params: {n: "{n}"}, for_each: {name: n, values: [1, 2]}}
    target: {table: oauth}
)",
                ", auth: {type: oauth2, token_url: \"" + base +
                    "/oauth/token\", client_id: ferry-client, client_secret: \"${SECRET}\"}");
  // The second request waits on the server; the token is revoked meanwhile.
  server.set_fault({.path = "/auth/oauth",
                    .match_param = "n",
                    .match_value = "2",
                    .kind = Fault::Kind::kDelay,
                    .times = 1,
                    .delay_ms = 1500});
  ProcessResult r;
  std::thread run([&] { r = run_ferry(dir.str(), {"run", "oauth"}, {{"SECRET", "s3cr3t"}}); });
  for (int i = 0; i < 200; ++i) {
    bool waiting = false;
    for (const auto& q : server.requests("/auth/oauth"))
      waiting = waiting || q.param("n") == "2";
    if (waiting) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  server.revoke_tokens();
  run.join();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(server.tokens_issued(), 2);
  EXPECT_EQ(server.requests("/auth/oauth").size(), 3u);  // n=1, n=2 (401), n=2 again
  EXPECT_EQ(count(dir, "oauth"), "6");
  EXPECT_EQ(query_value(dir.str(), "SELECT group_concat(DISTINCT n) FROM oauth"), "1,2");
}

// Faults on page 3 of the cursor walk (the request whose cursor is page 2's next_cursor).
class RestFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(server_.start(), 0);
    write_project(dir_, server_, kCursorJob, ", max_retries: 6, timeout: 1s");
    // Learn page 3's cursor from a clean run, then start over.
    ASSERT_EQ(run_ferry(dir_.str(), {"run", "orders"}).exit_code, 0);
    cursor3_ = server_.requests("/orders")[2].param("cursor");
    ASSERT_FALSE(cursor3_.empty());
    std::filesystem::remove(dir_.path() / "wh.db");
    std::filesystem::remove_all(dir_.path() / ".ferry");
    server_.clear_log();
  }
  void fault(Fault::Kind kind, int times, int delay_ms = 0) {
    server_.set_fault({.path = "/orders",
                       .match_param = "cursor",
                       .match_value = cursor3_,
                       .kind = kind,
                       .times = times,
                       .retry_after_seconds = 1,
                       .delay_ms = delay_ms});
  }
  ApiServer server_{ApiServer::Options{.orders = 500}};
  TempDir dir_;
  std::string cursor3_;
};

TEST_F(RestFaults, TransientFailuresAreRetriedWhereTheyHappened) {
  fault(Fault::Kind::kStatus429, 1);
  fault(Fault::Kind::kStatus500, 2);
  fault(Fault::Kind::kDelay, 1, 2500);  // longer than the 1s timeout
  fault(Fault::Kind::kTruncated, 1);
  fault(Fault::Kind::kHtml502, 1);
  ProcessResult r = run_ferry(dir_.str(), {"run", "orders"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(count(dir_, "orders"), "500");
  EXPECT_EQ(query_value(dir_.str(), "SELECT COUNT(DISTINCT id) FROM orders"), "500");
  // 5 pages, page 3 six more times: 429, 500, 500, timeout, truncated, 502.
  auto requests = server_.requests("/orders");
  EXPECT_EQ(requests.size(), 5u + 6u);
  EXPECT_TRUE(server_.faults().empty());
  // The retries are in the log, without their secrets.
  EXPECT_THAT(r.err, HasSubstr("HTTP 429")) << r.out << "\n---\n" << r.err;
  EXPECT_THAT(r.err, HasSubstr("timed out"));
}

TEST_F(RestFaults, APermanentlyFailingPageLeavesTheWarehouseAndWatermarkAsBefore) {
  ASSERT_EQ(run_ferry(dir_.str(), {"run", "orders"}).exit_code, 0);  // a good first load
  std::string watermark =
      query_value(dir_.str(), "SELECT json_extract(state, '$.watermark') FROM _ferry_state");
  std::string loads = count(dir_, "_ferry_loads");
  // Read every page again (no watermark param), with page 3 failing for good.
  edit_project(dir_, ", updated_since: \"{{watermark}}\"", "");
  server_.clear_log();
  fault(Fault::Kind::kHtml502, -1);
  ProcessResult r = run_ferry(dir_.str(), {"run", "orders"});
  EXPECT_EQ(r.exit_code, 1);
  std::string runs = run_ferry(dir_.str(), {"runs", "--json"}).out;
  EXPECT_THAT(runs, HasSubstr("HTTP 502 from " + server_.base_url() + "/orders?limit=100&cursor="));
  EXPECT_THAT(runs, HasSubstr("502 Bad Gateway"));         // the start of the body
  EXPECT_EQ(server_.requests("/orders").size(), 2u + 7u);  // pages 1, 2, then page 3 x (1 + 6)
  EXPECT_EQ(count(dir_, "orders"), "500");
  EXPECT_EQ(count(dir_, "_ferry_loads"), loads);
  EXPECT_EQ(query_value(dir_.str(), "SELECT json_extract(state, '$.watermark') FROM _ferry_state"),
            watermark);
}

TEST_F(RestFaults, BodiesThatAreNotWhatTheJobExpectsFailClearly) {
  fault(Fault::Kind::kNotJson, -1);
  ProcessResult r = run_ferry(dir_.str(), {"run", "orders"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out + r.err, HasSubstr("the response is not valid JSON"));
  EXPECT_THAT(r.out + r.err, HasSubstr("it starts with: hello"));
  EXPECT_EQ(count(dir_, "orders"), "<no rows>");  // nothing committed

  server_.clear_faults();
  fault(Fault::Kind::kRepeatCursor, -1);
  ProcessResult loop = run_ferry(dir_.str(), {"run", "orders"});
  EXPECT_EQ(loop.exit_code, 1);
  EXPECT_THAT(loop.out + loop.err, HasSubstr("pagination does not advance"));

  server_.clear_faults();
  edit_project(dir_, "records: /data", "records: /data/items");
  ProcessResult missing = run_ferry(dir_.str(), {"run", "orders"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.out + missing.err, HasSubstr("has no records at /data/items"));
  EXPECT_EQ(count(dir_, "orders"), "<no rows>");
}

TEST(Rest, ForEachFansOutOverValuesAndOverAParentEndpoint) {
  ApiServer server({.orders = 20});
  ASSERT_GT(server.start(), 0);
  TempDir dir;
  write_project(dir, server, R"(  - id: stores
    source: {connection: api, path: /orders_by_page, params: {per_page: 50, store: "{store_id}"},
             records: /items, for_each: {name: store_id, values: [7, 9]}}
    target: {table: store_orders, mode: merge, primary_key: [store_id, id]}
  - id: parents
    source: {connection: api, path: /orders_by_offset, params: {offset: "{order}", limit: 1},
             records: /results,
             for_each: {name: order, column: parent,
                        from: {path: /orders_by_page, params: {per_page: 3}, records: /items,
                               field: /id}}}
    target: {table: picked}
)");
  ProcessResult r = run_ferry(dir.str(), {"run", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(count(dir, "store_orders"), "40");
  EXPECT_EQ(query_value(dir.str(),
                        "SELECT group_concat(n) FROM (SELECT store_id || ':' || "
                        "COUNT(*) AS n FROM store_orders GROUP BY store_id)"),
            "7:20,9:20");
  EXPECT_EQ(count(dir, "store_orders__items"), str(2 * items_for(20)));
  // The parent endpoint gave ids 1, 2, 3; each fetched the order at that offset.
  EXPECT_EQ(query_value(dir.str(), "SELECT group_concat(parent || '>' || id) FROM picked"),
            "1>2,2>3,3>4");
}

}  // namespace
}  // namespace ferry::testing
