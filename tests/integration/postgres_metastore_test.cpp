// The ferry binary with its metastore in PostgreSQL (tests/pg_server.h): apply, run, runs,
// audit and jobs list work as with the SQLite metastore, the rows land in the PostgreSQL
// tables, and the password of the metastore URL (given through ${ENV}) is printed and stored
// nowhere.
#include <gtest/gtest.h>

#include <filesystem>

#include "integration/ferry_process.h"
#include "meta/postgres_metastore.h"
#include "pg_server.h"
#include "testing.h"

namespace ferry::testing {
namespace {

constexpr const char* kPassword = "pw-for-the-e2e-metastore";

class PostgresMetastoreE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PgServer* server = PgServer::shared();
    ASSERT_NE(server, nullptr) << PgServer::shared_error();
    url_ = server->create_database("metastore");
    ASSERT_FALSE(url_.empty());
    // postgres://postgres@127.0.0.1:PORT/DB -> with a password from the environment (the
    // test server trusts loopback, so any password is accepted).
    std::string with_password = url_;
    with_password.insert(with_password.find('@'), ":${FERRY_TEST_META_PASSWORD}");
    dir_.write("ferry.yml", "project: pgmeta\nmetastore: \"" + with_password + R"("
warehouse: wh
connections:
  wh: {type: sqlite, path: wh.db}
  files: {type: file, path: data}
templates:
  store:
    source: {connection: files, path: "store_{{store_id}}.csv"}
    target: {table: sales, mode: append}
    columns: {store_id: "{{store_id}}"}
jobs:
  - {id: store_1, template: store, params: {store_id: 1}}
  - {id: store_2, template: store, params: {store_id: 2}}
)");
    dir_.write("data/store_1.csv", "sale,amount\n1,10.5\n2,3\n");
    dir_.write("data/store_2.csv", "sale,amount\n3,7\n");
  }

  ProcessResult ferry(const std::vector<std::string>& args) {
    ProcessResult r = run_ferry(dir_.str(), args, {{"FERRY_TEST_META_PASSWORD", kPassword}});
    EXPECT_EQ(r.out.find(kPassword), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find(kPassword), std::string::npos) << r.err;
    return r;
  }
  std::string meta(const std::string& sql) { return PgServer::query_value(url_, sql); }

  TempDir dir_;
  std::string url_;
};

TEST_F(PostgresMetastoreE2eTest, ApplyRunRunsAuditAndJobsListUseThePostgresTables) {
  ProcessResult apply = ferry({"apply"});
  ASSERT_EQ(apply.exit_code, 0) << apply.out << apply.err;
  EXPECT_EQ(meta("SELECT string_agg(id || ':' || origin, ',' ORDER BY id) FROM ferry_jobs"),
            "store_1:apply,store_2:apply");
  EXPECT_EQ(meta("SELECT count(*) FROM ferry_config_versions"), "1");
  EXPECT_EQ(meta("SELECT max(version) FROM ferry_schema"),
            std::to_string(ferry::meta::postgres_metastore_migrations().back().version));
  // The project is stored with its ${ENV} reference, never the resolved password.
  EXPECT_EQ(meta("SELECT position('${FERRY_TEST_META_PASSWORD}' IN project) > 0 FROM "
                 "ferry_config_versions"),
            "t");

  ProcessResult run = ferry({"run", "--all"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(query_value(dir_.str(), "SELECT COUNT(*) FROM sales"), "3");
  EXPECT_EQ(meta("SELECT string_agg(job_id || ':' || state || ':' || rows_loaded, ',' "
                 "ORDER BY job_id) FROM ferry_runs"),
            "store_1:succeeded:2,store_2:succeeded:1");
  EXPECT_EQ(meta("SELECT count(*) FROM ferry_runs WHERE started_at LIKE '____-__-__T__:__:__.___Z' "
                 "AND finished_at LIKE '____-__-__T__:__:__.___Z' AND worker LIKE '%:%'"),
            "2");
  EXPECT_EQ(meta("SELECT count(*) FROM ferry_audit WHERE event = 'config_applied' AND "
                 "(details::jsonb)->'jobs_added' = '[\"store_1\", \"store_2\"]'::jsonb"),
            "1");
  EXPECT_NE(meta("SELECT count(*) FROM ferry_audit WHERE run_id IS NOT NULL"), "0");
  EXPECT_EQ(meta("SELECT count(*) FROM ferry_audit WHERE strpos(message || details, '" +
                 std::string(kPassword) + "') > 0"),
            "0");
  // Nothing went to a SQLite metastore.
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / ".ferry" / "meta.db"));

  ProcessResult runs = ferry({"--json", "runs"});
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  EXPECT_NE(runs.out.find("store_1"), std::string::npos) << runs.out;
  EXPECT_NE(runs.out.find("succeeded"), std::string::npos) << runs.out;

  ProcessResult audit = ferry({"--json", "audit"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_NE(audit.out.find("config_applied"), std::string::npos) << audit.out;

  ProcessResult jobs = ferry({"--json", "jobs", "list"});
  ASSERT_EQ(jobs.exit_code, 0) << jobs.err;
  EXPECT_NE(jobs.out.find("\"store_2\""), std::string::npos) << jobs.out;

  // A row added by hand in PostgreSQL is a job like any other, and survives apply.
  ASSERT_EQ(PgServer::exec(url_,
                           "INSERT INTO ferry_jobs (id, template, params) VALUES "
                           "('store_3', 'store', '{\"store_id\": 3}')"),
            "");
  dir_.write("data/store_3.csv", "sale,amount\n4,1\n");
  ProcessResult one = ferry({"run", "store_3"});
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  EXPECT_EQ(query_value(dir_.str(), "SELECT store_id FROM sales WHERE sale = 4"), "3");
  dir_.write("data/store_4.csv", "sale,amount\n5,2\n");
  std::string yml = testing::read_file(dir_.path() / "ferry.yml");
  yml += "  - {id: store_4, template: store, params: {store_id: 4}}\n";
  dir_.write("ferry.yml", yml);
  ProcessResult reapply = ferry({"apply"});
  ASSERT_EQ(reapply.exit_code, 0) << reapply.out << reapply.err;
  EXPECT_EQ(meta("SELECT count(*) FROM ferry_config_versions"), "2");
  EXPECT_EQ(meta("SELECT string_agg(id || ':' || origin, ',' ORDER BY id) FROM ferry_jobs"),
            "store_1:apply,store_2:apply,store_3:sql,store_4:apply");
}

// An unreachable metastore is a clear error naming it, without the password.
TEST_F(PostgresMetastoreE2eTest, AnUnreachableMetastoreIsAClearErrorWithoutThePassword) {
  dir_.write("ferry.yml",
             "project: pgmeta\n"
             "metastore: \"postgres://postgres:${FERRY_TEST_META_PASSWORD}@127.0.0.1:1/meta\"\n"
             "connections:\n  files: {type: file, path: data}\n");
  ProcessResult r = ferry({"jobs", "list"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("postgres meta@127.0.0.1:1"), std::string::npos) << r.err;
  ProcessResult unset = run_ferry(dir_.str(), {"jobs", "list"});
  EXPECT_EQ(unset.exit_code, 2);
  EXPECT_NE(unset.err.find("FERRY_TEST_META_PASSWORD"), std::string::npos) << unset.err;
}

}  // namespace
}  // namespace ferry::testing
