// `ferry serve` end to end: the daemon as a child process, driven through its HTTP API and
// the config table, against the local REST API server (which makes jobs take a known time).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/ferry_process.h"
#include "integration/serve_process.h"
#include "servers/api_server.h"
#include "testing.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using namespace std::chrono_literals;

// Seconds since the epoch of "2026-11-25T14:42:05.452Z".
double seconds_of(const std::string& iso) {
  std::tm tm{};
  double frac = 0;
  if (sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
             &tm.tm_min, &tm.tm_sec) != 6)
    return 0;
  auto dot = iso.find('.');
  if (dot != std::string::npos) frac = std::atof(iso.substr(dot).c_str());
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + frac;
}

// The most runs whose [started_at, finished_at] overlap at one instant.
int max_overlap(const json& runs) {
  std::vector<std::pair<double, int>> edges;
  for (const auto& r : runs) {
    edges.emplace_back(seconds_of(r["started_at"]), 1);
    edges.emplace_back(seconds_of(r["finished_at"]), -1);
  }
  std::sort(edges.begin(), edges.end());  // an end sorts before a start at the same instant
  int now = 0, best = 0;
  for (const auto& [t, d] : edges)
    best = std::max(best, now += d);
  return best;
}

std::string project(const ApiServer& api, const std::string& jobs, const std::string& top = "") {
  return "project: serve\nwarehouse: wh\n" + top +
         "connections:\n  wh: {type: sqlite, path: wh.db}\n"
         "  api: {type: http, base_url: \"" +
         api.base_url() +
         "\", retry_backoff: 10ms}\n"
         "  slow_api: {type: http, base_url: \"" +
         api.base_url() + "\", max_concurrency: 1}\n" + "jobs:\n" + jobs;
}

TEST(Serve, RunsOnDemandThroughTheApiAndReportsJobsAndRuns) {
  ApiServer api({.orders = 30});
  ASSERT_GT(api.start(), 0);
  TempDir dir;
  dir.write("ferry.yml", project(api, R"(  - id: orders
    source: {connection: api, path: /orders_by_page, params: {per_page: 10}, records: /items,
             paginate: {type: page_number, total_pages: /total_pages}}
    target: {table: orders, mode: merge, primary_key: [id]}
)"));
  Serve serve(dir, {"--log-format", "json"});
  ASSERT_GT(serve.port(), 0) << serve.log();
  auto c = serve.client();
  json jobs = get_json(c, "/api/jobs");
  ASSERT_TRUE(jobs.is_array()) << jobs;
  // Every documented GET route answers (none is a "no such route" 404).
  json openapi = get_json(c, "/api/openapi.json");
  ASSERT_EQ(openapi["openapi"], "3.0.3");
  for (const auto& [path, ops] : openapi["paths"].items()) {
    if (!ops.contains("get")) continue;
    std::string concrete = path;
    for (const char* p : {"{id}", "{v}"}) {
      if (auto at = concrete.find(p); at != std::string::npos)
        concrete.replace(at, std::strlen(p), "1");
    }
    auto r = c.Get(concrete);
    ASSERT_TRUE(r) << concrete;
    EXPECT_EQ(r->body.find("no such route"), std::string::npos) << concrete << r->body;
  }
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0]["id"], "orders");
  EXPECT_EQ(jobs[0]["source_kind"], "http");
  EXPECT_TRUE(jobs[0]["next_run"].is_null());  // no trigger: runs only when asked

  auto res = c.Post("/api/jobs/orders/runs", "", "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  int64_t run = json::parse(res->body)["run"].get<int64_t>();
  ASSERT_TRUE(eventually([&] {
    return get_json(c, "/api/runs/" + std::to_string(run))["state"] == "succeeded";
  })) << serve.log();
  json detail = get_json(c, "/api/runs/" + std::to_string(run));
  EXPECT_EQ(detail["rows_loaded"], 30);
  bool started = false;
  for (const auto& e : detail["audit"])
    started = started || e["event"] == "run_started";
  EXPECT_TRUE(started) << detail;
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM orders"), "30");

  auto unknown = c.Post("/api/jobs/nope/runs", "", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr("no job 'nope'"));
  auto bad = c.Post("/api/batches", "{not json", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(serve.stop(), 0) << serve.log();
  // --log-format json: every log line is one JSON object.
  std::istringstream lines(serve.log());
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("message")) << line;
  }
  EXPECT_GE(count, 2);  // at least "serving on" and "stopped"
}

TEST(Serve, ConcurrencyAndPerConnectionLimitsHold) {
  ApiServer api({.orders = 5});
  ASSERT_GT(api.start(), 0);
  // Every request to this path takes 700 ms: each job below takes about that long.
  api.set_fault(
      {.path = "/orders_by_offset", .kind = Fault::Kind::kDelay, .times = -1, .delay_ms = 700});
  std::string jobs;
  for (int i = 0; i < 8; ++i) {
    jobs += "  - {id: fast_" + std::to_string(i) +
            ", source: {connection: api, path: /orders_by_offset, records: /results}, "
            "target: {table: fast_" +
            std::to_string(i) + "}}\n";
  }
  for (int i = 0; i < 3; ++i) {
    jobs += "  - {id: slow_" + std::to_string(i) +
            ", source: {connection: slow_api, path: /orders_by_offset, records: /results}, "
            "target: {table: slow_" +
            std::to_string(i) + "}}\n";
  }
  TempDir dir;
  dir.write("ferry.yml", project(api, jobs, "concurrency: 3\n"));
  Serve serve(dir);
  ASSERT_GT(serve.port(), 0) << serve.log();
  auto c = serve.client();
  auto res = c.Post("/api/batches", R"({"all": true})", "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  std::string batch = json::parse(res->body)["batch"];
  json runs;
  ASSERT_TRUE(eventually(
      [&] {
        runs = get_json(c, "/api/runs?batch=" + batch + "&state=succeeded&limit=0");
        return runs.size() == 11u;
      },
      30s))
      << serve.log() << get_json(c, "/api/runs?limit=20");
  EXPECT_LE(max_overlap(runs), 3);  // the project's concurrency
  EXPECT_GE(max_overlap(runs), 2);  // ... and it did run jobs side by side
  json slow = json::array();
  for (const auto& r : runs)
    if (r["job"].get<std::string>().starts_with("slow_")) slow.push_back(r);
  EXPECT_EQ(slow.size(), 3u);
  EXPECT_EQ(max_overlap(slow), 1);  // slow_api has max_concurrency: 1
  // 11 runs of >= 0.7 s, at most 3 at once: at least 4 rounds.
  double first = 1e18, last = 0;
  for (const auto& r : runs) {
    first = std::min(first, seconds_of(r["started_at"]));
    last = std::max(last, seconds_of(r["finished_at"]));
  }
  EXPECT_GE(last - first, 4 * 0.7 - 0.05);
  EXPECT_EQ(serve.stop(), 0);
}

TEST(Serve, EveryRepeatsWithoutOverlapAndJobsInsertedBySqlAreScheduled) {
  ApiServer api({.orders = 5});
  ASSERT_GT(api.start(), 0);
  TempDir dir;
  dir.write("ferry.yml", project(api, R"(  - id: tick
    source: {connection: api, path: /orders_by_offset, records: /results}
    target: {table: tick, mode: merge, primary_key: [id]}
    every: 300ms
)"));
  Serve serve(dir);
  ASSERT_GT(serve.port(), 0) << serve.log();
  auto c = serve.client();
  json runs;
  ASSERT_TRUE(eventually([&] {
    runs = get_json(c, "/api/runs?job=tick&state=succeeded&limit=0");
    return runs.size() >= 3u;
  })) << serve.log();
  EXPECT_EQ(max_overlap(runs), 1);
  // Measured from the end of the previous run.
  std::vector<double> starts, ends;
  for (const auto& r : runs) {
    starts.push_back(seconds_of(r["started_at"]));
    ends.push_back(seconds_of(r["finished_at"]));
  }
  // newest first: run i started >= 0.3 s after run i+1 ended
  for (size_t i = 0; i + 1 < runs.size(); ++i)
    EXPECT_GE(starts[i] - ends[i + 1], 0.29) << runs;

  // A row inserted with plain SQL into the config table is picked up without a restart.
  ASSERT_EQ(run_ferry(dir.str(), {"query", "SELECT 1"}).exit_code, 0);
  std::string meta = (dir.path() / ".ferry/meta.db").string();
  std::string insert =
      "sqlite3 " + meta +
      " \"INSERT INTO ferry_jobs (id, spec) VALUES ('from_sql', '{\\\"source\\\": "
      "{\\\"connection\\\": \\\"api\\\", \\\"path\\\": \\\"/orders_by_page\\\", \\\"records\\\": "
      "\\\"/items\\\"}, \\\"target\\\": {\\\"table\\\": \\\"from_sql\\\"}, \\\"every\\\": "
      "\\\"1h\\\"}')\"";
  ASSERT_EQ(std::system(insert.c_str()), 0);
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& j : get_json(c, "/api/jobs"))
          if (j["id"] == "from_sql") return true;
        return false;
      },
      2500ms))
      << "a job inserted with SQL appears within 2 s";
  // `every` runs a new job at once, then every hour.
  EXPECT_TRUE(eventually([&] {
    return get_json(c, "/api/runs?job=from_sql&state=succeeded").size() == 1u;
  })) << serve.log();
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM from_sql"), "5");
  EXPECT_EQ(serve.stop(), 0);
}

TEST(Serve, TokensGuardTheApiAndJobsAddedThroughItRun) {
  ApiServer api({.orders = 12});
  ASSERT_GT(api.start(), 0);
  TempDir dir;
  dir.write("ferry.yml", project(api, R"(  - {id: store_1, template: store, params: {store: 1}}
templates:
  store:
    source: {connection: api, path: /orders_by_page, params: {per_page: 50, store: "{{store}}"},
             records: /items}
    target: {table: store_orders, mode: merge, primary_key: [store_id, id]}
    columns: {store_id: "{{store}}"}
)",
                                 "api: {admin_token: \"${ADMIN}\", read_token: \"${READER}\"}\n"));
  Serve serve(dir, {}, {{"ADMIN", "admin-secret-1"}, {"READER", "reader-secret-2"}});
  ASSERT_GT(serve.port(), 0) << serve.log();
  auto anonymous = serve.client();
  auto denied = anonymous.Get("/api/jobs");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  auto health = anonymous.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  auto reader = serve.client("reader-secret-2");
  EXPECT_EQ(get_json(reader, "/api/jobs").size(), 1u);
  auto refused = reader.Post("/api/jobs/store_1/runs", "", "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);

  auto admin = serve.client("admin-secret-1");
  // A new store is one call: template + params, validated first.
  auto bad =
      admin.Post("/api/jobs", R"({"id": "store_2", "template": "stor"})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("store"));  // the did-you-mean names the template
  auto added = admin.Post("/api/jobs", R"({"id": "store_2", "template": "store",
                                          "params": {"store": 2}})",
                          "application/json");
  ASSERT_TRUE(added);
  ASSERT_EQ(added->status, 201) << added->body;
  EXPECT_EQ(get_json(reader, "/api/jobs").size(), 2u);
  auto run = admin.Post("/api/batches", R"({"jobs": ["store_1", "store_2"]})", "application/json");
  ASSERT_TRUE(run);
  ASSERT_EQ(run->status, 202) << run->body;
  EXPECT_TRUE(eventually([&] {
    return query_value(dir.str(), "SELECT COUNT(*) FROM store_orders") == "24";
  })) << serve.log();
  EXPECT_EQ(query_value(dir.str(), "SELECT group_concat(DISTINCT store_id) FROM store_orders"),
            "1,2");
  auto removed = admin.Delete("/api/jobs/store_2");
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->status, 200);
  EXPECT_EQ(get_json(reader, "/api/jobs").size(), 1u);
  // No response, and no log line, holds a token.
  std::string everything = get_json(reader, "/api/audit?limit=0").dump() + serve.log();
  EXPECT_THAT(everything, ::testing::Not(HasSubstr("admin-secret-1")));
  EXPECT_THAT(everything, ::testing::Not(HasSubstr("reader-secret-2")));
  // ?since= keeps the rows at or after a time.
  EXPECT_GT(get_json(reader, "/api/audit?since=2000-01-01T00:00:00.000Z&limit=0").size(), 0u);
  EXPECT_EQ(get_json(reader, "/api/audit?since=2999-01-01T00:00:00.000Z").size(), 0u);
  EXPECT_EQ(serve.stop(), 0);
}

TEST(Serve, SigtermLetsTheRunningJobFinishAndSigkillIsRecoveredOnRestart) {
  ApiServer api({.orders = 5});
  ASSERT_GT(api.start(), 0);
  api.set_fault(
      {.path = "/orders_by_offset", .kind = Fault::Kind::kDelay, .times = -1, .delay_ms = 1500});
  TempDir dir;
  dir.write("ferry.yml", project(api, R"(  - id: slow
    source: {connection: api, path: /orders_by_offset, records: /results}
    target: {table: slow, mode: merge, primary_key: [id]}
    retries: {max_attempts: 2, backoff: 10ms}
)"));
  {
    Serve serve(dir);
    ASSERT_GT(serve.port(), 0) << serve.log();
    auto c = serve.client();
    ASSERT_TRUE(c.Post("/api/jobs/slow/runs", "", "application/json"));
    ASSERT_TRUE(eventually([&] { return api.requests("/orders_by_offset").size() == 1u; }));
    EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.log();  // waits for the run, then exits
    EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM slow"), "5");
  }
  ProcessResult runs = run_ferry(dir.str(), {"--json", "runs"});
  EXPECT_THAT(runs.out, HasSubstr("\"succeeded\""));
  api.clear_log();
  {
    Serve serve(dir);
    ASSERT_GT(serve.port(), 0);
    auto c = serve.client();
    ASSERT_TRUE(c.Post("/api/jobs/slow/runs", "", "application/json"));
    ASSERT_TRUE(eventually([&] { return api.requests("/orders_by_offset").size() == 1u; }));
    EXPECT_EQ(serve.stop(SIGKILL), -SIGKILL);
  }
  {
    Serve serve(dir);  // the restart marks the killed run failed and runs its next attempt
    ASSERT_GT(serve.port(), 0);
    auto c = serve.client();
    json failed;
    ASSERT_TRUE(eventually([&] {
      failed = get_json(c, "/api/runs?job=slow&state=failed");
      return failed.size() == 1u;
    }));
    EXPECT_THAT(failed[0]["error"].get<std::string>(), HasSubstr("exited before the run finished"));
    json retried;
    ASSERT_TRUE(eventually([&] {
      retried = get_json(c, "/api/runs?job=slow&state=succeeded");
      return retried.size() == 2u;  // the first server's run, and the retry
    })) << serve.log();
    EXPECT_EQ(retried[0]["attempt"], 2);
    EXPECT_EQ(retried[0]["load_id"], failed[0]["load_id"]);  // the same load: at most once
    EXPECT_EQ(serve.stop(), 0);
  }
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM slow"), "5");  // no duplicates
}

TEST(Serve, TemplatesPreviewVersionsAndRollbackForTheUi) {
  ApiServer api({.orders = 5});
  ASSERT_GT(api.start(), 0);
  TempDir dir;
  std::string jobs = R"(  - {id: store_1, template: store, params: {store: 1}}
templates:
  store:
    description: One store's orders
    params: {per_page: 50}
    source: {connection: api, path: /orders_by_page, params: {per_page: "{{per_page}}", store: "{{store}}"},
             records: /items}
    target: {table: store_orders, mode: merge, primary_key: [id]}
)";
  dir.write("ferry.yml", project(api, jobs));
  ASSERT_EQ(run_ferry(dir.str(), {"apply"}).exit_code, 0);  // version 1
  dir.write("ferry.yml", project(api, "  - {id: store_2, template: store, params: {store: 2}}\n" +
                                          jobs.substr(jobs.find("templates:"))));
  ASSERT_EQ(run_ferry(dir.str(), {"apply"}).exit_code, 0);  // version 2: store_2 only
  Serve serve(dir);
  ASSERT_GT(serve.port(), 0) << serve.log();
  auto c = serve.client();
  EXPECT_EQ(get_json(c, "/api/me")["role"], "open");
  json templates = get_json(c, "/api/templates");
  ASSERT_EQ(templates.size(), 1u);
  EXPECT_EQ(templates[0]["name"], "store");
  EXPECT_EQ(templates[0]["description"], "One store's orders");
  EXPECT_EQ(
      templates[0]["params"],
      json::parse(R"([{"name": "per_page", "default": 50}, {"name": "store", "default": null}])"));

  auto preview = c.Post("/api/jobs?dry_run=1",
                        R"({"id": "store_9", "template": "store", "params": {"store": 9}})",
                        "application/json");
  ASSERT_TRUE(preview);
  ASSERT_EQ(preview->status, 200) << preview->body;
  json plan = json::parse(preview->body)["plan"];
  EXPECT_EQ(plan["table"], "store_orders");
  EXPECT_EQ(plan["mode"], "merge");
  EXPECT_EQ(plan["source"]["params"]["store"], 9);
  EXPECT_EQ(get_json(c, "/api/jobs").size(), 1u);  // a preview adds nothing

  json versions = get_json(c, "/api/versions");
  ASSERT_EQ(versions.size(), 2u);
  json v1 = get_json(c, "/api/versions/1");
  EXPECT_EQ(v1["project"]["jobs"][0]["id"], "store_1");
  auto back = c.Post("/api/versions/1/rollback", "{}", "application/json");
  ASSERT_TRUE(back);
  ASSERT_EQ(back->status, 200) << back->body;
  EXPECT_EQ(json::parse(back->body)["version"], 3);
  json now = get_json(c, "/api/jobs");
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0]["id"], "store_1");
  EXPECT_EQ(get_json(c, "/api/versions/99")["error"], "no config version 99");
  EXPECT_EQ(serve.stop(), 0);
}

TEST(Serve, ABatchByTagRunsExactlyTheTaggedJobs) {
  ApiServer api({.orders = 3});
  ASSERT_GT(api.start(), 0);
  TempDir dir;
  dir.write(
      "ferry.yml",
      project(api,
              R"(  - {id: a, source: {connection: api, path: /orders_by_offset, records: /results},
     target: {table: a}, tags: [nightly, finance]}
  - {id: b, source: {connection: api, path: /orders_by_offset, records: /results},
     target: {table: b}, tags: [nightly]}
  - {id: c, source: {connection: api, path: /orders_by_offset, records: /results},
     target: {table: c}, tags: [finance]}
)"));
  Serve serve(dir);
  ASSERT_GT(serve.port(), 0) << serve.log();
  auto c = serve.client();
  auto res = c.Post("/api/batches", R"({"tag": "nightly"})", "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  json runs = json::parse(res->body)["runs"];
  std::vector<std::string> jobs;
  for (const auto& r : runs)
    jobs.push_back(r["job"]);
  std::sort(jobs.begin(), jobs.end());
  EXPECT_EQ(jobs, (std::vector<std::string>{"a", "b"}));
  auto none = c.Post("/api/batches", R"({"tag": "weekly"})", "application/json");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
  EXPECT_EQ(get_json(c, "/api/jobs/c")["tags"], json::array({"finance"}));
  ASSERT_TRUE(eventually([&] { return query_value(dir.str(), "SELECT COUNT(*) FROM b") == "3"; }));
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM c"), "<no rows>");
  EXPECT_EQ(serve.stop(), 0);
}

TEST(Serve, ARunPastItsTimeoutIsCancelled) {
  ApiServer api({.orders = 5});
  ASSERT_GT(api.start(), 0);
  api.set_fault(
      {.path = "/orders_by_offset", .kind = Fault::Kind::kDelay, .times = -1, .delay_ms = 5000});
  TempDir dir;
  dir.write("ferry.yml", project(api, R"(  - id: stuck
    source: {connection: api, path: /orders_by_offset, records: /results}
    target: {table: stuck}
    timeout: 300ms
)"));
  Serve serve(dir);
  ASSERT_GT(serve.port(), 0) << serve.log();
  auto c = serve.client();
  auto res = c.Post("/api/jobs/stuck/runs", "", "application/json");
  ASSERT_TRUE(res);
  int64_t run = json::parse(res->body)["run"].get<int64_t>();
  json detail;
  ASSERT_TRUE(eventually([&] {
    detail = get_json(c, "/api/runs/" + std::to_string(run));
    return detail["state"] == "cancelled";
  })) << detail;
  bool timed_out = false;
  for (const auto& e : detail["audit"])
    timed_out = timed_out || e["event"] == "run_timed_out";
  EXPECT_TRUE(timed_out) << detail;
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM stuck"), "<no rows>");
  EXPECT_EQ(serve.stop(), 0);
}

// A yearly job whose last run was two New Years ago: `catchup: none` queues one run at start,
// `catchup: all` one per missed tick.
class ServeCatchup : public ::testing::TestWithParam<std::pair<std::string, size_t>> {};

TEST_P(ServeCatchup, MissedCronTicksAreRunAtStart) {
  ApiServer api({.orders = 5});
  ASSERT_GT(api.start(), 0);
  TempDir dir;
  dir.write("ferry.yml", project(api, R"(  - id: yearly
    source: {connection: api, path: /orders_by_offset, records: /results}
    target: {table: yearly}
    schedule: "0 0 1 1 *"
    catchup: )" + GetParam().first + "\n"));
  ASSERT_EQ(run_ferry(dir.str(), {"apply"}).exit_code, 0);
  std::string meta = (dir.path() / ".ferry/meta.db").string();
  std::string insert = "sqlite3 " + meta +
                       " \"INSERT INTO ferry_runs (job_id, batch_id, state, attempt, queued_at) "
                       "VALUES ('yearly', 'old', 'succeeded', 1, "
                       "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 years', '+1 day'))\"";
  ASSERT_EQ(std::system(insert.c_str()), 0);
  Serve serve(dir);
  ASSERT_GT(serve.port(), 0) << serve.log();
  auto c = serve.client();
  json runs;
  ASSERT_TRUE(eventually([&] {
    runs = get_json(c, "/api/runs?job=yearly&state=succeeded&limit=0");
    return runs.size() == GetParam().second + 1;  // + the old one
  })) << runs
      << serve.log();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(get_json(c, "/api/runs?job=yearly&limit=0").size(), GetParam().second + 1);
  EXPECT_EQ(serve.stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, ServeCatchup,
                         ::testing::Values(std::make_pair(std::string("none"), size_t{1}),
                                           std::make_pair(std::string("all"), size_t{2})));

TEST(Serve, NewFilesInAWatchedFolderAreLoadedOnceEach) {
  TempDir dir;
  dir.write("ferry.yml", R"(project: watch
warehouse: wh
connections:
  wh: {type: sqlite, path: wh.db}
  drop: {type: file, path: drop}
jobs:
  - id: drops
    source: {connection: drop, pattern: "*.csv"}
    target: {table: drops, mode: append}
    on: new_objects
    poll: 200ms
)");
  dir.write("drop/a.csv", "id,v\n1,a\n2,b\n");
  Serve serve(dir);
  ASSERT_GT(serve.port(), 0) << serve.log();
  auto c = serve.client();
  ASSERT_TRUE(eventually([&] {
    return query_value(dir.str(), "SELECT COUNT(*) FROM drops") == "2";
  })) << serve.log();
  dir.write("drop/b.csv", "id,v\n3,c\n");
  ASSERT_TRUE(eventually([&] {
    return query_value(dir.str(), "SELECT COUNT(*) FROM drops") == "3";
  })) << serve.log();
  // Polls that find nothing new queue nothing: two files, two runs.
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(get_json(c, "/api/runs?job=drops&limit=0").size(), 2u);
  EXPECT_EQ(query_value(dir.str(), "SELECT group_concat(id) FROM drops"), "1,2,3");
  EXPECT_EQ(serve.stop(), 0);
}

}  // namespace
}  // namespace ferry::testing
