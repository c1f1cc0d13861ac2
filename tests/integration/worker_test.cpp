// `ferry serve --worker`: several processes share one queue in a PostgreSQL metastore. The
// scheduling daemon and workers are child processes; jobs read the local REST API server,
// whose delay makes a run last long enough to be caught running, and load a PostgreSQL
// warehouse (where several hosts would load in production).
#include <signal.h>
#include <unistd.h>

#include <httplib.h>

#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "integration/ferry_process.h"
#include "integration/serve_process.h"
#include "pg_server.h"
#include "servers/api_server.h"
#include "testing.h"

namespace ferry::testing {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using namespace std::chrono_literals;

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PgServer* server = PgServer::shared();
    ASSERT_NE(server, nullptr) << PgServer::shared_error();
    meta_url_ = server->create_database("workers_meta");
    wh_url_ = server->create_database("workers_wh");
    ASSERT_FALSE(meta_url_.empty());
    ASSERT_FALSE(wh_url_.empty());
    ASSERT_GT(api_.start(), 0);
    // Every page takes 700 ms: a run is caught running, and where it ran is visible.
    api_.set_fault(
        {.path = "/orders_by_offset", .kind = Fault::Kind::kDelay, .times = -1, .delay_ms = 700});
  }

  // A project of `jobs` slow jobs, job_1 .. job_N, each into its own table.
  void write_project(int jobs) {
    std::string yml = "project: workers\nmetastore: \"" + meta_url_ +
                      "\"\nwarehouse: wh\nconnections:\n  wh: {type: postgres, url: \"" + wh_url_ +
                      "\"}\n  api: {type: http, base_url: \"" + api_.base_url() + "\"}\njobs:\n";
    for (int i = 1; i <= jobs; ++i) {
      yml += "  - id: job_" + std::to_string(i) +
             "\n    source: {connection: api, path: /orders_by_offset, records: /results}\n"
             "    target: {table: orders_" +
             std::to_string(i) + ", mode: append}\n";
    }
    dir_.write("ferry.yml", yml);
    ProcessResult apply = run_ferry(dir_.str(), {"apply"});
    ASSERT_EQ(apply.exit_code, 0) << apply.out << apply.err;
  }

  std::string meta(const std::string& sql) { return PgServer::query_value(meta_url_, sql); }
  std::string wh(const std::string& sql) { return PgServer::query_value(wh_url_, sql); }
  static std::string worker_of(pid_t pid) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    return std::string(host) + ":" + std::to_string(pid);
  }

  ApiServer api_{{.orders = 5}};
  TempDir dir_;
  std::string meta_url_, wh_url_;
};

// A batch queued by `ferry serve` is run partly by a worker: every run succeeds once, the
// worker's runs are recorded under its name, and the scheduling daemon still finishes the
// batch when the last run (wherever it ran) has ended.
TEST_F(WorkerTest, AWorkerTakesRunsFromTheSharedQueueAndTheBatchCompletes) {
  write_project(6);
  Serve main(dir_, {"-n", "1"});
  ASSERT_GT(main.port(), 0) << main.log();
  Serve worker(dir_, {"--worker", "-n", "2"});
  ASSERT_TRUE(eventually([&] {
    return worker.log().find("claiming queued runs") != std::string::npos;
  })) << worker.log();

  auto c = main.client();
  auto res =
      c.Post("/api/batches", R"({"jobs": ["job_1", "job_2", "job_3", "job_4", "job_5", "job_6"]})",
             "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  ASSERT_TRUE(eventually(
      [&] {
        return meta("SELECT count(*) FROM ferry_audit WHERE event = 'batch_succeeded'") == "1";
      },
      30s))
      << main.log() << worker.log();

  EXPECT_EQ(meta("SELECT count(*) FROM ferry_runs WHERE state = 'succeeded'"), "6");
  EXPECT_EQ(meta("SELECT count(*) FROM ferry_runs"), "6");  // each run exactly once
  const std::string on_worker =
      meta("SELECT count(*) FROM ferry_runs WHERE worker = '" + worker_of(worker.pid()) + "'");
  const std::string on_main =
      meta("SELECT count(*) FROM ferry_runs WHERE worker = '" + worker_of(main.pid()) + "'");
  EXPECT_GE(std::stoi(on_worker), 1) << "the worker ran nothing";
  EXPECT_GE(std::stoi(on_main), 1) << "the daemon ran nothing";
  EXPECT_EQ(std::stoi(on_worker) + std::stoi(on_main), 6);
  for (int i = 1; i <= 6; ++i)
    EXPECT_EQ(wh("SELECT count(*) FROM orders_" + std::to_string(i)), "5") << "orders_" << i;
  EXPECT_EQ(worker.stop(), 0) << worker.log();
  EXPECT_EQ(main.stop(), 0) << main.log();
}

// A worker killed while it holds a run loses it when its lease expires: the run goes back to
// the queue with its load id, the scheduling daemon runs it, and the warehouse has its rows
// once.
TEST_F(WorkerTest, AKilledWorkersRunIsQueuedAgainAfterItsLeaseAndLoadedOnce) {
  write_project(2);
  Serve main(dir_, {"-n", "1", "--lease", "1s"});
  ASSERT_GT(main.port(), 0) << main.log();
  Serve worker(dir_, {"--worker", "-n", "1", "--lease", "1s"});
  ASSERT_TRUE(eventually([&] {
    return worker.log().find("claiming queued runs") != std::string::npos;
  })) << worker.log();

  auto c = main.client();
  auto res = c.Post("/api/batches", R"({"jobs": ["job_1", "job_2"]})", "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  // The daemon's one thread takes one job; the worker claims the other.
  const std::string on_worker = "worker = '" + worker_of(worker.pid()) + "'";
  std::string job;
  ASSERT_TRUE(eventually([&] {
    job = meta("SELECT job_id FROM ferry_runs WHERE state = 'running' AND " + on_worker);
    return job.starts_with("job_");
  })) << main.log()
      << worker.log();
  const std::string load_id = meta("SELECT load_id FROM ferry_runs WHERE job_id = '" + job + "'");
  EXPECT_EQ(worker.stop(SIGKILL), -SIGKILL);

  ASSERT_TRUE(eventually(
      [&] { return meta("SELECT count(*) FROM ferry_audit WHERE event LIKE 'batch_%'") == "1"; },
      30s))
      << main.log();
  EXPECT_EQ(meta("SELECT event FROM ferry_audit WHERE event LIKE 'batch_%'"), "batch_succeeded");
  EXPECT_THAT(meta("SELECT message FROM ferry_audit WHERE event = 'run_requeued'"),
              HasSubstr("stopped renewing its lease"));
  // The same run row, back from the queue: run by the daemon, with the load id it had.
  EXPECT_EQ(
      meta("SELECT state || ' ' || load_id || ' ' || worker FROM ferry_runs WHERE job_id = '" +
           job + "'"),
      "succeeded " + load_id + " " + worker_of(main.pid()));
  EXPECT_EQ(meta("SELECT count(*) FROM ferry_runs"), "2");
  EXPECT_EQ(wh("SELECT count(*) FROM orders_1"), "5");
  EXPECT_EQ(wh("SELECT count(*) FROM orders_2"), "5");
  EXPECT_EQ(main.stop(), 0) << main.log();
}

}  // namespace
}  // namespace ferry::testing
