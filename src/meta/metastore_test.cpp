#include "meta/metastore.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <thread>

#include "core/postgres.h"
#include "core/redact.h"
#include "core/sqlite.h"
#include "meta/encoding.h"
#include "meta/migrations.h"
#include "meta/postgres_metastore.h"
#include "pg_server.h"
#include "testing.h"

namespace ferry {
namespace {

using nlohmann::json;
using ::testing::MatchesRegex;

std::unique_ptr<Metastore> open_or_die(const testing::TempDir& dir,
                                       const std::string& url = "sqlite:.ferry/meta.db") {
  auto store = open_metastore(url, dir.str());
  EXPECT_TRUE(store.ok()) << store.status().to_string();
  return store.ok() ? std::move(store).value() : nullptr;
}

// The behaviour every backend shares runs against each: SQLite in a temp dir, PostgreSQL in
// a fresh database of the test binary's server (tests/pg_server.h).
enum class Backend { kSqlite, kPostgres };

class MetastoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      testing::PgServer* server = testing::PgServer::shared();
      ASSERT_NE(server, nullptr) << testing::PgServer::shared_error();
      url_ = server->create_database("meta");
      ASSERT_FALSE(url_.empty());
    } else {
      url_ = "sqlite:.ferry/meta.db";
    }
  }

  bool postgres() const { return GetParam() == Backend::kPostgres; }
  // A new instance (a connection of its own) on the test's metastore.
  std::unique_ptr<Metastore> open() { return open_or_die(dir_, url_); }

  // Runs `sql` on the metastore's database through a connection of its own.
  Status exec_raw(const std::string& sql) {
    if (postgres()) {
      auto conn = PgConn::connect({.url = url_});
      if (!conn.ok()) return conn.status();
      return conn->exec(sql);
    }
    auto db = SqliteDb::open((dir_.path() / ".ferry" / "meta.db").string());
    if (!db.ok()) return db.status();
    return db->exec(sql);
  }
  // The first value of `sql`, "" when it fails or has no rows.
  std::string value_raw(const std::string& sql) {
    if (postgres()) {
      auto conn = PgConn::connect({.url = url_});
      if (!conn.ok()) return "";
      auto r = conn->query(sql);
      return r.ok() && r->rows() > 0 ? std::string(r->value(0, 0)) : "";
    }
    auto db = SqliteDb::open((dir_.path() / ".ferry" / "meta.db").string());
    if (!db.ok()) return "";
    auto stmt = db->prepare(sql);
    if (!stmt.ok()) return "";
    auto has_row = stmt->step();
    if (!has_row.ok() || !*has_row) return "";
    return stmt->column_text(0);
  }

  testing::TempDir dir_;
  std::string url_;
};

JobRow job(const std::string& id, json params = json::object(), std::string origin = "apply") {
  JobRow row;
  row.id = id;
  row.template_name = "store_orders";
  row.params = std::move(params);
  row.origin = std::move(origin);
  return row;
}

std::vector<std::string> ids(const std::vector<JobRow>& jobs) {
  std::vector<std::string> out;
  for (const JobRow& j : jobs)
    out.push_back(j.id);
  return out;
}

// 2026-11-25T12:00:00.123Z (no std::regex: GCC 12 warns inside it under -fsanitize).
bool is_iso_utc_ms(const std::string& time) {
  const std::string pattern = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (time.size() != pattern.size()) return false;
  for (size_t i = 0; i < time.size(); ++i) {
    bool ok = pattern[i] == 'd' ? (time[i] >= '0' && time[i] <= '9') : time[i] == pattern[i];
    if (!ok) return false;
  }
  return true;
}

TEST(Metastore, UrlKinds) {
  testing::TempDir dir;
  EXPECT_NE(open_or_die(dir, "sqlite:a/b/meta.db"), nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "a" / "b" / "meta.db"));
  EXPECT_NE(open_or_die(dir, "bare.db"), nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "bare.db"));
  std::string absolute = (dir.path() / "abs.db").string();
  EXPECT_TRUE(open_metastore("sqlite:" + absolute, "/nonexistent-project").ok());
  EXPECT_TRUE(std::filesystem::exists(absolute));

  // Nothing listens on port 1: a connection failure, which may go away (kRetry), without
  // the password.
  auto pg = open_metastore("postgres://etl:hunter2secret@127.0.0.1:1/meta", dir.str());
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), Code::kRetry) << pg.status().to_string();
  EXPECT_EQ(pg.status().message().find("hunter2secret"), std::string::npos);
  EXPECT_NE(pg.status().message().find("metastore: postgres meta@127.0.0.1:1"), std::string::npos)
      << pg.status().message();
  EXPECT_FALSE(open_metastore("mysql://x", dir.str()).ok());
  EXPECT_FALSE(open_metastore("sqlite:", dir.str()).ok());
}

TEST_P(MetastoreTest, JobsCrud) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->list_jobs()->empty());

  JobRow a = job("b_orders", {{"store_id", 1}}, "cli");
  a.spec = {{"target", {{"table", "ods_orders"}}}};
  a.priority = 5;
  a.watermark = "2024-01-01";
  ASSERT_TRUE(store->put_job(a).is_ok());
  ASSERT_TRUE(store->put_job(job("a_orders", {{"store_id", 2}}, "api")).is_ok());

  auto got = store->get_job("b_orders");
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_TRUE(got->has_value());
  const JobRow& b = **got;
  EXPECT_EQ(b.template_name, "store_orders");
  EXPECT_EQ(b.params, json({{"store_id", 1}}));
  EXPECT_EQ(b.spec["target"]["table"], "ods_orders");
  EXPECT_EQ(b.priority, 5);
  EXPECT_EQ(b.watermark, "2024-01-01");
  EXPECT_EQ(b.origin, "cli");
  EXPECT_TRUE(b.enabled);
  EXPECT_TRUE(is_iso_utc_ms(b.updated_at)) << b.updated_at;

  EXPECT_EQ(ids(store->list_jobs().value()), (std::vector<std::string>{"a_orders", "b_orders"}));

  a.params = {{"store_id", 10}};  // put_job replaces
  ASSERT_TRUE(store->put_job(a).is_ok());
  EXPECT_EQ((*store->get_job("b_orders"))->params["store_id"], 10);

  ASSERT_TRUE(store->set_enabled("b_orders", false).is_ok());
  ASSERT_TRUE(store->set_watermark("b_orders", "2024-06-01").is_ok());
  auto changed = store->get_job("b_orders").value().value();
  EXPECT_FALSE(changed.enabled);
  EXPECT_EQ(changed.watermark, "2024-06-01");

  ASSERT_TRUE(store->delete_job("a_orders").is_ok());
  EXPECT_FALSE(store->get_job("a_orders")->has_value());
  EXPECT_EQ(store->delete_job("a_orders").code(), Code::kNotFound);
  EXPECT_EQ(store->set_enabled("ghost", true).code(), Code::kNotFound);
  EXPECT_EQ(store->set_watermark("ghost", "x").code(), Code::kNotFound);
  EXPECT_EQ(store->put_job(job("")).code(), Code::kInvalid);
  EXPECT_EQ(store->put_job(job("x", json::object(), "robot")).code(), Code::kInvalid);
}

TEST_P(MetastoreTest, ConfigStampChangesWithTheConfigButNotWithWatermarks) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  // The daemon compares each stamp with the one before.
  std::string last = store->config_stamp().value();
  auto changed = [&] {
    std::string now = store->config_stamp().value();
    bool differs = now != last;
    last = now;
    return differs;
  };
  ASSERT_TRUE(store->put_job(job("a", {{"store_id", 1}}, "cli")).is_ok());
  EXPECT_TRUE(changed());
  ASSERT_TRUE(store->set_enabled("a", false).is_ok());
  EXPECT_TRUE(changed());
  ASSERT_TRUE(store->set_watermark("a", "2026-01-01").is_ok());
  EXPECT_FALSE(changed());  // a run's progress is not a config change
  ASSERT_TRUE(store->put_job(job("b", {{"store_id", 2}}, "cli")).is_ok());
  EXPECT_TRUE(changed());
  ASSERT_TRUE(store->delete_job("b").is_ok());
  EXPECT_TRUE(changed());
  ASSERT_TRUE(store->apply_version(json::object(), {job("c")}, "apply").ok());
  EXPECT_TRUE(changed());
}

TEST_P(MetastoreTest, HandInsertedJobRowGetsDefaultsAndOriginSql) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(exec_raw("INSERT INTO ferry_jobs (id, template, params) "
                       "VALUES ('store_9', 'store_orders', '{\"store_id\": 9}')")
                  .is_ok());
  Status bad_json = exec_raw("INSERT INTO ferry_jobs (id, params) VALUES ('bad', '{oops')");
  EXPECT_EQ(bad_json.code(), Code::kInvalid) << bad_json.to_string();
  auto row = store->get_job("store_9").value();
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->origin, "sql");
  EXPECT_EQ(row->params["store_id"], 9);
  EXPECT_TRUE(row->enabled);
  EXPECT_TRUE(is_iso_utc_ms(row->updated_at)) << row->updated_at;
  // `ferry apply` leaves it alone.
  ASSERT_TRUE(store->apply_version(json::object(), {job("other")}, "apply").ok());
  EXPECT_TRUE(store->get_job("store_9")->has_value());
}

TEST_P(MetastoreTest, ApplyVersionReplacesOnlyItsOwnJobsAndKeepsWatermarks) {
  auto store = open();
  ASSERT_NE(store, nullptr);

  json project1 = {
      {"project", "retail"},
      {"control",
       json::array({{{"on", "batch_failed"}, {"email", {{"to", {"data@acme.example"}}}}}})}};
  auto v1 = store->apply_version(
      project1, {job("orders_1", {{"store_id", 1}}), job("orders_2", {{"store_id", 2}})}, "apply");
  ASSERT_TRUE(v1.ok()) << v1.status().to_string();
  EXPECT_EQ(v1.value(), 1);
  ASSERT_TRUE(store->put_job(job("manual", {{"store_id", 99}}, "cli")).is_ok());
  ASSERT_TRUE(store->set_watermark("orders_1", "2024-05-05T00:00:00Z").is_ok());
  ASSERT_TRUE(store->set_watermark("orders_2", "2024-06-06T00:00:00Z").is_ok());
  const std::string orders1_updated = store->get_job("orders_1")->value().updated_at;

  // v2: orders_1 unchanged, orders_2 changed, orders_3 new, orders_gone... orders_2 stays,
  // and a job carrying its own (initial) watermark must not override the one reached.
  JobRow changed = job("orders_2", {{"store_id", 22}});
  changed.watermark = "1970-01-01";
  JobRow fresh = job("orders_3", {{"store_id", 3}});
  fresh.watermark = "2020-01-01";
  json project2 = {
      {"project", "retail"},
      {"control", json::array({{{"on", "batch_succeeded"}, {"webhook", {{"url", "http://x"}}}},
                               {{"on", "batch_failed"}, {"email", {{"to", {"a@b.c"}}}}}})}};
  auto v2 =
      store->apply_version(project2, {job("orders_1", {{"store_id", 1}}), changed, fresh}, "apply");
  ASSERT_TRUE(v2.ok()) << v2.status().to_string();
  EXPECT_EQ(v2.value(), 2);

  auto jobs = store->list_jobs().value();
  EXPECT_EQ(ids(jobs), (std::vector<std::string>{"manual", "orders_1", "orders_2", "orders_3"}));
  auto orders1 = store->get_job("orders_1")->value();
  EXPECT_EQ(orders1.watermark, "2024-05-05T00:00:00Z");
  EXPECT_EQ(orders1.updated_at, orders1_updated);  // unchanged job untouched
  auto orders2 = store->get_job("orders_2")->value();
  EXPECT_EQ(orders2.watermark, "2024-06-06T00:00:00Z");
  EXPECT_EQ(orders2.params["store_id"], 22);
  EXPECT_EQ(store->get_job("orders_3")->value().watermark, "2020-01-01");
  auto manual = store->get_job("manual")->value();
  EXPECT_EQ(manual.origin, "cli");
  EXPECT_EQ(manual.params["store_id"], 99);

  // v3 drops orders_1 and orders_3.
  auto v3 = store->apply_version(project2, {changed}, "apply");
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(ids(store->list_jobs().value()), (std::vector<std::string>{"manual", "orders_2"}));

  auto audit = store->list_audit({}).value();
  std::vector<AuditEvent> applied;
  std::copy_if(audit.begin(), audit.end(), std::back_inserter(applied),
               [](const AuditEvent& e) { return e.event == "config_applied"; });
  ASSERT_EQ(applied.size(), 3u);
  // Newest first.
  EXPECT_EQ(applied[0].details["version"], 3);
  EXPECT_EQ(applied[0].details["jobs_removed"], json({"orders_1", "orders_3"}));
  EXPECT_EQ(applied[0].details["jobs_added"], json::array());
  EXPECT_EQ(applied[1].details["version"], 2);
  EXPECT_EQ(applied[1].details["jobs_added"], json({"orders_3"}));
  EXPECT_EQ(applied[1].details["jobs_changed"], json({"orders_2"}));
  EXPECT_EQ(applied[1].details["jobs_removed"], json::array());
  EXPECT_EQ(applied[2].details["jobs_added"], json({"orders_1", "orders_2"}));

  auto rules = store->control_rules();
  ASSERT_TRUE(rules.ok());
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ((*rules)[0]["on"], "batch_succeeded");
  EXPECT_EQ((*rules)[1]["email"]["to"][0], "a@b.c");

  // No control key: the control table is emptied.
  ASSERT_TRUE(store->apply_version({{"project", "retail"}}, {changed}, "apply").ok());
  EXPECT_TRUE(store->control_rules()->empty());
}

TEST_P(MetastoreTest, ApplyVersionLeavesAHandAddedRowWithTheSameIdAsItIs) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put_job(job("mine", {{"by", "hand"}}, "cli")).is_ok());
  auto v = store->apply_version(json::object(), {job("a"), job("mine", {{"by", "file"}})}, "");
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  auto mine = store->get_job("mine")->value();
  EXPECT_EQ(mine.origin, "cli");
  EXPECT_EQ(mine.params["by"], "hand");
  auto audit = store->list_audit({}).value();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].details["jobs_kept"], json({"mine"}));
  EXPECT_EQ(audit[0].details["jobs_added"], json({"a"}));
}

TEST_P(MetastoreTest, ApplyVersionRefusesBadInputAndChangesNothing) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put_job(job("mine", json::object(), "cli")).is_ok());

  auto twice = store->apply_version(json::object(), {job("a"), job("a")}, "apply");
  EXPECT_EQ(twice.status().code(), Code::kInvalid);
  EXPECT_NE(twice.status().message().find("'a'"), std::string::npos);
  auto bad_control = store->apply_version({{"control", "email"}}, {job("a")}, "apply");
  EXPECT_EQ(bad_control.status().code(), Code::kInvalid);
  auto bad_rule = store->apply_version({{"control", {1, 2}}}, {job("a")}, "apply");
  EXPECT_EQ(bad_rule.status().code(), Code::kInvalid);
  auto bad_job = store->apply_version(json::object(), {job("")}, "apply");
  EXPECT_EQ(bad_job.status().code(), Code::kInvalid);

  EXPECT_EQ(ids(store->list_jobs().value()), (std::vector<std::string>{"mine"}));
  EXPECT_TRUE(store->list_versions()->empty());
  EXPECT_FALSE(store->current_version()->has_value());
  EXPECT_TRUE(store->list_audit({})->empty());
}

TEST_P(MetastoreTest, VersionsAreStoredWithAStableHash) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  json p1 = {{"project", "retail"}, {"jobs", {{{"id", "a"}}}}};
  json p2 = {{"project", "retail"}, {"jobs", json::array()}};
  ASSERT_EQ(store->apply_version(p1, {job("a")}, "apply").value(), 1);
  ASSERT_EQ(store->apply_version(p2, {}, "apply").value(), 2);
  ASSERT_EQ(store->apply_version(p1, {job("a")}, "rollback to 1").value(), 3);

  auto current = store->current_version().value();
  ASSERT_TRUE(current.has_value());
  EXPECT_EQ(current->version, 3);
  EXPECT_EQ(current->note, "rollback to 1");
  EXPECT_EQ(current->project, p1);
  EXPECT_TRUE(is_iso_utc_ms(current->applied_at)) << current->applied_at;

  auto v1 = store->get_version(1).value();
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ(v1->project, p1);
  EXPECT_EQ(v1->hash, current->hash);  // same content, same hash
  EXPECT_EQ(v1->hash.size(), 16u);
  EXPECT_FALSE(store->get_version(42)->has_value());

  auto versions = store->list_versions().value();
  ASSERT_EQ(versions.size(), 3u);
  EXPECT_EQ(versions[0].version, 3);
  EXPECT_EQ(versions[2].version, 1);
  EXPECT_NE(versions[1].hash, versions[0].hash);
  EXPECT_TRUE(versions[0].project.is_null());  // listing leaves the project out
}

TEST_P(MetastoreTest, RunLifecycle) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto id = store->create_run("orders_1", "batch-1", 1);
  ASSERT_TRUE(id.ok()) << id.status().to_string();
  auto queued = store->get_run(*id).value().value();
  EXPECT_EQ(queued.state, RunState::kQueued);
  EXPECT_EQ(queued.job_id, "orders_1");
  EXPECT_EQ(queued.batch_id, "batch-1");
  EXPECT_TRUE(is_iso_utc_ms(queued.queued_at));
  EXPECT_EQ(queued.started_at, "");
  EXPECT_EQ(queued.finished_at, "");

  ASSERT_TRUE(store->start_run(*id, "load-abc").is_ok());
  auto running = store->get_run(*id).value().value();
  EXPECT_EQ(running.state, RunState::kRunning);
  EXPECT_EQ(running.load_id, "load-abc");
  EXPECT_TRUE(is_iso_utc_ms(running.started_at));
  EXPECT_NE(running.worker.find(':'), std::string::npos) << running.worker;
  EXPECT_EQ(running.worker.substr(running.worker.rfind(':') + 1), std::to_string(getpid()));
  // A second worker cannot take it.
  EXPECT_EQ(store->start_run(*id, "load-other").code(), Code::kInvalid);

  RunRow done = running;
  done.state = RunState::kSucceeded;
  done.rows_read = 120;
  done.rows_loaded = 117;
  done.rows_rejected = 3;
  ASSERT_TRUE(store->finish_run(done).is_ok());
  auto finished = store->get_run(*id).value().value();
  EXPECT_EQ(finished.state, RunState::kSucceeded);
  EXPECT_EQ(finished.rows_read, 120);
  EXPECT_EQ(finished.rows_loaded, 117);
  EXPECT_EQ(finished.rows_rejected, 3);
  EXPECT_TRUE(is_iso_utc_ms(finished.finished_at));
  EXPECT_EQ(finished.load_id, "load-abc");
  EXPECT_EQ(store->finish_run(done).code(), Code::kInvalid);  // already finished

  RunRow not_final = done;
  not_final.state = RunState::kRunning;
  EXPECT_EQ(store->finish_run(not_final).code(), Code::kInvalid);
  EXPECT_EQ(store->start_run(4242, "x").code(), Code::kNotFound);
  RunRow ghost;
  ghost.id = 4242;
  ghost.state = RunState::kFailed;
  EXPECT_EQ(store->finish_run(ghost).code(), Code::kNotFound);
  EXPECT_FALSE(store->get_run(4242)->has_value());
  EXPECT_EQ(store->create_run("", "b", 1).status().code(), Code::kInvalid);
  EXPECT_EQ(store->create_run("x", "b", 0).status().code(), Code::kInvalid);
}

TEST_P(MetastoreTest, ListRunsFiltersNewestFirst) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  int64_t r1 = store->create_run("a", "b1", 1).value();
  int64_t r2 = store->create_run("b", "b1", 1).value();
  int64_t r3 = store->create_run("a", "b2", 2).value();
  ASSERT_TRUE(store->start_run(r3, "l3").is_ok());

  auto ids_of = [](const std::vector<RunRow>& runs) {
    std::vector<int64_t> out;
    for (const RunRow& r : runs)
      out.push_back(r.id);
    return out;
  };
  EXPECT_EQ(ids_of(store->list_runs({}).value()), (std::vector<int64_t>{r3, r2, r1}));
  EXPECT_EQ(ids_of(store->list_runs({.job_id = "a"}).value()), (std::vector<int64_t>{r3, r1}));
  EXPECT_EQ(ids_of(store->list_runs({.batch_id = "b1"}).value()), (std::vector<int64_t>{r2, r1}));
  EXPECT_EQ(ids_of(store->list_runs({.state = RunState::kQueued}).value()),
            (std::vector<int64_t>{r2, r1}));
  EXPECT_EQ(ids_of(store->list_runs({.job_id = "a", .state = RunState::kRunning}).value()),
            (std::vector<int64_t>{r3}));
  EXPECT_EQ(ids_of(store->list_runs({.limit = 1}).value()), (std::vector<int64_t>{r3}));
  EXPECT_EQ(store->list_runs({.job_id = "a"}).value()[0].attempt, 2);
}

TEST_P(MetastoreTest, AuditRedactsSecretsAndFilters) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  const std::string secret = "s3cr3t-token-for-audit-test";
  register_secret(secret);

  AuditEvent event;
  event.run_id = 7;
  event.job_id = "orders_1";
  event.level = "error";
  event.event = "run_finished";
  event.message = "GET https://api/x?token=" + secret + " failed";
  event.details = {{"url", "https://api/x?token=" + secret},
                   {"nested", {{"list", {1, "Bearer " + secret}}}}};
  ASSERT_TRUE(store->audit(event).is_ok());
  AuditEvent other;
  other.event = "config_applied";
  other.time = "2026-11-25T12:00:00.123Z";
  ASSERT_TRUE(store->audit(other).is_ok());

  auto all = store->list_audit({}).value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].event, "config_applied");  // newest first
  EXPECT_EQ(all[0].time, "2026-11-25T12:00:00.123Z");
  EXPECT_EQ(all[0].run_id, 0);
  const AuditEvent& got = all[1];
  EXPECT_EQ(got.message, "GET https://api/x?token=*** failed");
  EXPECT_EQ(got.details["url"], "https://api/x?token=***");
  EXPECT_EQ(got.details["nested"]["list"][1], "Bearer ***");
  EXPECT_TRUE(is_iso_utc_ms(got.time)) << got.time;
  EXPECT_EQ(got.level, "error");
  EXPECT_EQ(got.run_id, 7);

  // Nothing of the secret reached the database.
  EXPECT_EQ(value_raw("SELECT count(*) FROM ferry_audit WHERE message || details LIKE '%" + secret +
                      "%'"),
            "0");
  EXPECT_EQ(value_raw("SELECT count(*) FROM ferry_audit"), "2");

  EXPECT_EQ(store->list_audit({.run_id = 7}).value().size(), 1u);
  EXPECT_EQ(store->list_audit({.job_id = "orders_1"}).value().size(), 1u);
  EXPECT_EQ(store->list_audit({.job_id = "nobody"}).value().size(), 0u);
  EXPECT_EQ(store->list_audit({.limit = 1}).value().size(), 1u);
  AuditEvent old_event;
  old_event.time = "2020-01-01T00:00:00.000Z";
  old_event.event = "long_ago";
  ASSERT_TRUE(store->audit(old_event).is_ok());
  auto recent = store->list_audit({.since = "2021-01-01T00:00:00.000Z"}).value();
  EXPECT_EQ(recent.size(), 2u);
  for (const AuditEvent& e : recent)
    EXPECT_NE(e.event, "long_ago");
  EXPECT_EQ(store->list_audit({.since = "2020-01-01T00:00:00.000Z"}).value().size(), 3u);

  AuditEvent bad;
  bad.event = "x";
  bad.level = "fatal";
  EXPECT_EQ(store->audit(bad).code(), Code::kInvalid);
  EXPECT_EQ(store->audit(AuditEvent{}).code(), Code::kInvalid);
}

TEST_P(MetastoreTest, FinishRunRedactsTheError) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  const std::string secret = "pw-for-finish-run-test";
  register_secret(secret);
  int64_t id = store->create_run("a", "", 1).value();
  RunRow failed;
  failed.id = id;
  failed.state = RunState::kFailed;
  failed.error = "connect postgres://etl:" + secret + "@db failed";
  ASSERT_TRUE(store->finish_run(failed).is_ok());  // a queued run may fail before it starts
  EXPECT_EQ(store->get_run(id)->value().error, "connect postgres://etl:***@db failed");
}

TEST_P(MetastoreTest, InvalidUtf8InAuditDoesNotThrow) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  AuditEvent event;
  event.event = "rejects";
  event.details = {{"value", std::string("bad \xFF byte")}};
  ASSERT_TRUE(store->audit(event).is_ok());
  auto rows = store->list_audit({}).value();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0].details["value"].is_string());
}

// Two processes (fork) write to one file at once; SQLite's cross-process locks are file locks,
// which threads of one process do not exercise.
TEST_P(MetastoreTest, TwoProcessesShareOneFile) {
  ASSERT_NE(open(), nullptr);  // created and migrated before the fork
  constexpr int kRuns = 40;
  auto write_runs = [this](const std::string& job_id) -> bool {
    auto store = open_metastore(url_, dir_.str());
    if (!store.ok()) return false;
    for (int i = 0; i < kRuns; ++i) {
      auto run = (*store)->create_run(job_id, "", 1);
      if (!run.ok() || !(*store)->start_run(*run, "load").is_ok()) return false;
      RunRow done;
      done.id = *run;
      done.state = RunState::kSucceeded;
      if (!(*store)->finish_run(done).is_ok()) return false;
    }
    return true;
  };
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(write_runs("child") ? 0 : 1);
  bool parent_ok = write_runs("parent");
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  EXPECT_TRUE(parent_ok);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);

  auto store = open();
  ASSERT_NE(store, nullptr);
  auto child_runs = store->list_runs({.job_id = "child", .limit = 0}).value();
  auto parent_runs = store->list_runs({.job_id = "parent", .limit = 0}).value();
  EXPECT_EQ(child_runs.size(), static_cast<size_t>(kRuns));
  EXPECT_EQ(parent_runs.size(), static_cast<size_t>(kRuns));
  ASSERT_FALSE(child_runs.empty());
  EXPECT_NE(child_runs[0].worker, parent_runs[0].worker);  // host:pid differs
}

// Another process holds the write lock and commits while apply_version waits: apply must wait
// (busy timeout) and then succeed. A deferred transaction would read a snapshot first and
// fail with SQLITE_BUSY_SNAPSHOT when the other writer commits.
TEST(Metastore, ApplyWaitsForAnotherWriterInsteadOfFailing) {
  testing::TempDir dir;
  auto store = open_or_die(dir);
  ASSERT_NE(store, nullptr);
  auto other = SqliteDb::open((dir.path() / ".ferry" / "meta.db").string());
  ASSERT_TRUE(other.ok());
  auto txn = SqliteTransaction::begin(*other);
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE(other->exec("INSERT INTO ferry_audit (event) VALUES ('other_process')").is_ok());

  Result<int64_t> applied = Status::internal("not run");
  auto start = std::chrono::steady_clock::now();
  std::thread applier([&] { applied = store->apply_version({{"p", 1}}, {job("a")}, "apply"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(txn->commit().is_ok());
  applier.join();
  ASSERT_TRUE(applied.ok()) << applied.status().to_string();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_EQ(store->list_audit({}).value().size(), 2u);  // other_process + config_applied
}

// Two instances (two connections) on one file, written from two threads at once: the busy
// timeout and BEGIN IMMEDIATE must keep every SQLITE_BUSY inside the metastore.
TEST_P(MetastoreTest, TwoConnectionsOnOneFileWriteConcurrently) {
  std::unique_ptr<Metastore> stores[2];
  {
    // Both open (and race to migrate) the fresh database at the same time.
    std::thread opener([&] { stores[1] = open(); });
    stores[0] = open();
    opener.join();
  }
  ASSERT_NE(stores[0], nullptr);
  ASSERT_NE(stores[1], nullptr);

  constexpr int kPerThread = 40;
  constexpr int kApplyEvery = 4;  // apply_version reads then writes: it needs BEGIN IMMEDIATE
  std::vector<std::string> errors[2];
  auto work = [&](int t) {
    Metastore& store = *stores[t];
    auto note = [&](const Status& s) {
      if (!s.is_ok()) errors[t].push_back(s.to_string());
    };
    for (int i = 0; i < kPerThread; ++i) {
      std::string id = fmt::format("t{}_job{}", t, i);
      note(store.put_job(job(id, {{"i", i}}, "cli")));
      auto run = store.create_run(id, fmt::format("batch{}", t), 1);
      note(run.status());
      if (!run.ok()) continue;
      note(store.start_run(*run, "load"));
      RunRow done;
      done.id = *run;
      done.state = RunState::kSucceeded;
      done.rows_loaded = i;
      note(store.finish_run(done));
      AuditEvent event;
      event.event = "run_finished";
      event.job_id = id;
      note(store.audit(event));
      if (i % kApplyEvery == 0) {
        auto v =
            store.apply_version({{"t", t}, {"i", i}}, {job(fmt::format("applied_{}", t))}, "apply");
        note(v.status());
      }
    }
  };
  std::thread other(work, 1);
  work(0);
  other.join();
  EXPECT_TRUE(errors[0].empty()) << ::testing::PrintToString(errors[0]);
  EXPECT_TRUE(errors[1].empty()) << ::testing::PrintToString(errors[1]);

  auto reopened = open();
  ASSERT_NE(reopened, nullptr);
  auto runs = reopened->list_runs({.limit = 0}).value();
  EXPECT_EQ(runs.size(), 2u * kPerThread);
  EXPECT_TRUE(std::all_of(runs.begin(), runs.end(),
                          [](const RunRow& r) { return r.state == RunState::kSucceeded; }));
  auto jobs = reopened->list_jobs().value();
  // Every cli job, and the apply-origin job of whichever apply came last.
  EXPECT_EQ(jobs.size(), 2u * kPerThread + 1);
  EXPECT_EQ(reopened->list_versions()->size(), 2u * (kPerThread / kApplyEvery));
  auto audit = reopened->list_audit({.limit = 0}).value();
  EXPECT_EQ(audit.size(), 2u * kPerThread + 2u * (kPerThread / kApplyEvery));
}

// claim_next_run hands out the oldest queued run, moves it to running on the named worker,
// and says so when nothing is queued.
TEST_P(MetastoreTest, ClaimNextRunTakesTheOldestQueuedRun) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto none = store->claim_next_run("w1");
  ASSERT_TRUE(none.ok()) << none.status().to_string();
  EXPECT_FALSE(none->has_value());

  int64_t r1 = store->create_run("a", "b1", 1).value();
  int64_t r2 = store->create_run("b", "b1", 1).value();
  int64_t r3 = store->create_run("c", "b1", 1).value();
  ASSERT_TRUE(store->start_run(r1, "load-1").is_ok());  // started by id: not claimable

  auto first = store->claim_next_run("host-a:11");
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->id, r2);
  EXPECT_EQ((*first)->job_id, "b");
  EXPECT_EQ((*first)->state, RunState::kRunning);
  EXPECT_EQ((*first)->worker, "host-a:11");
  EXPECT_TRUE(is_iso_utc_ms((*first)->started_at)) << (*first)->started_at;
  EXPECT_EQ(store->get_run(r2)->value().state, RunState::kRunning);
  EXPECT_EQ(store->start_run(r2, "late").code(), Code::kInvalid);  // claimed: not startable

  auto second = store->claim_next_run("");  // "" = this process, host:pid
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->id, r3);
  EXPECT_EQ((*second)->worker.substr((*second)->worker.rfind(':') + 1), std::to_string(getpid()));
  EXPECT_FALSE(store->claim_next_run("w1")->has_value());
}

// Claims take the highest priority first, the oldest first among equals, as the daemon takes
// its own queue.
TEST_P(MetastoreTest, ClaimNextRunTakesHigherPriorityFirst) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto queue = [&](const std::string& job, int priority) {
    NewRun run{job, "b1", 1, "", nlohmann::json::object(), priority};
    return store->create_run(run).value();
  };
  int64_t low = queue("low", 0);
  int64_t urgent = queue("urgent", 10);
  int64_t later_low = queue("later_low", 0);
  int64_t mid = queue("mid", 5);
  int64_t negative = queue("negative", -1);
  std::vector<int64_t> order;
  while (true) {
    auto claimed = store->claim_next_run("w1");
    ASSERT_TRUE(claimed.ok()) << claimed.status().to_string();
    if (!claimed->has_value()) break;
    order.push_back((*claimed)->id);
  }
  EXPECT_EQ(order, (std::vector<int64_t>{urgent, mid, low, later_low, negative}));
}

// finish_run with run.worker set checks the claim: only the worker that has a running run
// finishes it; without a worker (the executor's own runs) any caller may, as before.
TEST_P(MetastoreTest, FinishRunChecksTheClaim) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  int64_t id = store->create_run("a", "", 1).value();
  RunRow claimed = store->claim_next_run("worker-1").value().value();
  ASSERT_EQ(claimed.id, id);

  RunRow stolen = claimed;
  stolen.worker = "worker-2";
  stolen.state = RunState::kSucceeded;
  Status refused = store->finish_run(stolen);
  EXPECT_EQ(refused.code(), Code::kInvalid);
  EXPECT_NE(refused.message().find("worker-1"), std::string::npos) << refused.message();
  EXPECT_EQ(store->get_run(id)->value().state, RunState::kRunning);

  RunRow done = claimed;
  done.state = RunState::kSucceeded;
  done.rows_loaded = 5;
  ASSERT_TRUE(store->finish_run(done).is_ok());
  EXPECT_EQ(store->get_run(id)->value().rows_loaded, 5);
  EXPECT_EQ(store->finish_run(done).code(), Code::kInvalid);  // finished once only

  int64_t other = store->create_run("b", "", 1).value();
  ASSERT_TRUE(store->claim_next_run("worker-3")->has_value());
  RunRow anyone;
  anyone.id = other;
  anyone.state = RunState::kFailed;
  EXPECT_TRUE(store->finish_run(anyone).is_ok());
}

// A run's start and end carry their audit rows in the same write: written when the change
// is made, not when it is refused.
TEST_P(MetastoreTest, StartAndFinishWriteTheirAuditRowsOnlyWithTheChange) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  int64_t id = store->create_run("a", "b", 1).value();
  register_secret("hunter2-for-run-events");
  auto event = [&](const std::string& name) {
    AuditEvent e;
    e.run_id = id;
    e.job_id = "a";
    e.event = name;
    e.message = name + " with hunter2-for-run-events";
    return e;
  };
  ASSERT_TRUE(store->start_run(id, "L", {event("run_started")}).is_ok());
  EXPECT_EQ(store->start_run(id, "L", {event("started_twice")}).code(), Code::kInvalid);
  RunRow done;
  done.id = id;
  done.state = RunState::kSucceeded;
  ASSERT_TRUE(store->finish_run(done, {event("rows_rejected"), event("run_finished")}).is_ok());
  EXPECT_EQ(store->finish_run(done, {event("finished_twice")}).code(), Code::kInvalid);
  AuditFilter f;
  f.run_id = id;
  auto audit = store->list_audit(f).value();
  std::vector<std::string> names;
  for (const AuditEvent& e : audit) {
    names.push_back(e.event);
    EXPECT_EQ(e.message.find("hunter2-for-run-events"), std::string::npos) << e.message;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"run_finished", "rows_rejected", "run_started"}));
}

// finish_run_later makes finish_run's change without its caller waiting: whatever this
// instance reads or writes next sees the end, with its audit rows, and the next start of the
// run's job is written after it.
TEST_P(MetastoreTest, AnEndQueuedByFinishRunLaterIsSeenByTheNextReadAndWrite) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  int64_t first = store->create_run("a", "b", 1).value();
  int64_t second = store->create_run("a", "b", 1).value();
  ASSERT_TRUE(store->start_run(first, "L1").is_ok());
  const std::string worker = store->get_run(first)->value().worker;
  RunRow done;
  done.id = first;
  done.job_id = "a";
  done.state = RunState::kSucceeded;
  done.rows_loaded = 7;
  done.worker = worker;
  AuditEvent finished;
  finished.run_id = first;
  finished.job_id = "a";
  finished.event = "run_finished";
  store->finish_run_later(done, {finished});
  ASSERT_TRUE(store->start_run(second, "L2").is_ok());  // after the end, in its write
  EXPECT_EQ(value_raw(fmt::format("SELECT state FROM ferry_runs WHERE id = {}", first)),
            "succeeded");

  RunRow again = done;
  again.id = second;
  store->finish_run_later(again, {});
  auto read = store->get_run(second);  // a read writes the queued end first
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->state, RunState::kSucceeded);
  EXPECT_EQ(store->get_run(first)->value().rows_loaded, 7);
  AuditFilter f;
  f.run_id = first;
  auto audit = store->list_audit(f).value();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].event, "run_finished");
}

// An end the run's holder no longer has the claim to is not recorded: it is audited as
// run_abandoned instead, and the run is left as its new holder has it. The destructor writes
// the ends still queued.
TEST_P(MetastoreTest, FinishRunLaterChecksTheClaimAndTheDestructorWritesWhatIsQueued) {
  int64_t claimed = 0, queued = 0;
  {
    auto store = open();
    ASSERT_NE(store, nullptr);
    claimed = store->create_run("a", "", 1).value();
    queued = store->create_run("b", "", 1).value();
    ASSERT_EQ(store->claim_next_run("worker-1")->value().id, claimed);
    RunRow stolen;
    stolen.id = claimed;
    stolen.job_id = "a";
    stolen.state = RunState::kSucceeded;
    stolen.worker = "worker-2";
    store->finish_run_later(stolen, {});
    EXPECT_EQ(store->get_run(claimed)->value().state, RunState::kRunning);
    AuditFilter f;
    f.run_id = claimed;
    auto audit = store->list_audit(f).value();
    ASSERT_EQ(audit.size(), 1u);
    EXPECT_EQ(audit[0].event, "run_abandoned");
    EXPECT_EQ(audit[0].level, "warn");

    RunRow skipped;
    skipped.id = queued;
    skipped.job_id = "b";
    skipped.state = RunState::kSkipped;
    store->finish_run_later(skipped, {});
  }
  auto reopened = open();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->get_run(queued)->value().state, RunState::kSkipped);
}

// A job never runs twice at once: claim_next_run passes over queued runs of a job that is
// running, gives a claimed run a load id and a lease, and start_run keeps a run's load id.
TEST_P(MetastoreTest, ClaimSkipsRunningJobsAndGivesALoadIdAndALease) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  int64_t a1 = store->create_run("a", "b1", 1).value();
  int64_t a2 = store->create_run("a", "b1", 1).value();
  int64_t b1 = store->create_run("b", "b1", 1).value();
  ASSERT_TRUE(store->create_run("transform:daily", "b1", 1).ok());  // never claimed

  const std::string before = meta::iso8601_after(std::chrono::seconds(29));
  RunRow first = store->claim_next_run("w1", std::chrono::seconds(30)).value().value();
  EXPECT_EQ(first.id, a1);
  EXPECT_THAT(first.load_id, MatchesRegex(fmt::format("{}-[0-9a-f]{{8}}", a1)));
  EXPECT_GT(first.lease_until, before);
  EXPECT_LT(first.lease_until, meta::iso8601_after(std::chrono::seconds(31)));
  RunRow second = store->claim_next_run("w2", std::chrono::seconds(30)).value().value();
  EXPECT_EQ(second.id, b1);  // a2 waits: job a is running
  EXPECT_FALSE(store->claim_next_run("w3", std::chrono::seconds(30))->has_value());

  first.state = RunState::kSucceeded;
  ASSERT_TRUE(store->finish_run(first).is_ok());
  EXPECT_EQ(store->get_run(a1)->value().lease_until, "");  // a finished run holds no lease
  EXPECT_EQ(store->claim_next_run("w3", std::chrono::seconds(30)).value().value().id, a2);

  NewRun keep;
  keep.job_id = "c";
  keep.load_id = "c-load";
  int64_t c1 = store->create_run(keep).value();
  ASSERT_TRUE(store->start_run(c1, "another").is_ok());
  EXPECT_EQ(store->get_run(c1)->value().load_id, "c-load");
}

// A worker that stops renewing its lease loses its runs: they go back to the queue with
// their load id and definition, another worker claims them, and the lost worker can no
// longer finish them.
TEST_P(MetastoreTest, ExpiredLeasesAreRequeuedWithTheirLoadId) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  NewRun spec;
  spec.job_id = "events";
  spec.batch_id = "b";
  spec.load_id = "L-1";
  spec.definition = {{"spec", {{"source", {{"keys", {"in/a.csv"}}}}}}};
  int64_t id = store->create_run(spec).value();
  int64_t other = store->create_run("steady", "b", 1).value();

  RunRow lost = store->claim_next_run("w1", std::chrono::milliseconds(1)).value().value();
  ASSERT_EQ(lost.id, id);
  RunRow kept = store->claim_next_run("w2", std::chrono::seconds(60)).value().value();
  ASSERT_EQ(kept.id, other);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(store->renew_leases("w2", std::chrono::seconds(60)).value(),
            std::vector<int64_t>{other});

  auto requeued = store->requeue_expired_runs();
  ASSERT_TRUE(requeued.ok()) << requeued.status().to_string();
  ASSERT_EQ(requeued->size(), 1u);
  EXPECT_EQ(requeued->front().id, id);
  EXPECT_EQ(requeued->front().worker, "w1");
  RunRow now = store->get_run(id)->value();
  EXPECT_EQ(now.state, RunState::kQueued);
  EXPECT_EQ(now.worker, "");
  EXPECT_EQ(now.started_at, "");
  EXPECT_EQ(now.load_id, "L-1");
  EXPECT_EQ(now.definition, spec.definition);
  EXPECT_TRUE(store->renew_leases("w1", std::chrono::seconds(60))->empty());
  EXPECT_TRUE(store->requeue_expired_runs()->empty());  // w2's lease is still good

  RunRow again = store->claim_next_run("w3", std::chrono::seconds(60)).value().value();
  EXPECT_EQ(again.id, id);
  EXPECT_EQ(again.load_id, "L-1");
  lost.state = RunState::kSucceeded;
  EXPECT_EQ(store->finish_run(lost).code(), Code::kInvalid);  // w1 lost it
  again.state = RunState::kFailed;
  again.retryable = true;
  EXPECT_TRUE(store->finish_run(again).is_ok());
  EXPECT_TRUE(store->get_run(id)->value().retryable);
  EXPECT_FALSE(store->get_run(other)->value().retryable);
}

// Several workers, each with its own instance (connection), drain one queue at once: every
// run is handed out exactly once.
TEST_P(MetastoreTest, ConcurrentClaimersNeverShareARun) {
  constexpr int kRuns = 200;
  constexpr int kWorkers = 4;
  std::vector<std::unique_ptr<Metastore>> stores;
  for (int w = 0; w < kWorkers; ++w) {
    stores.push_back(open());
    ASSERT_NE(stores.back(), nullptr);
  }
  std::vector<int64_t> queued;
  for (int i = 0; i < kRuns; ++i)
    queued.push_back(stores[0]->create_run(fmt::format("job{}", i), "batch", 1).value());

  std::vector<std::vector<int64_t>> claimed(kWorkers);
  std::vector<std::string> errors(kWorkers);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      const std::string me = fmt::format("worker-{}", w);
      for (;;) {
        auto run = stores[w]->claim_next_run(me);
        if (!run.ok()) {
          errors[w] = run.status().to_string();
          return;
        }
        if (!run->has_value()) return;
        claimed[w].push_back((*run)->id);
        RunRow done = **run;
        done.state = RunState::kSucceeded;
        Status st = stores[w]->finish_run(done);
        if (!st.is_ok()) {
          errors[w] = st.to_string();
          return;
        }
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  std::vector<int64_t> all;
  for (int w = 0; w < kWorkers; ++w) {
    EXPECT_EQ(errors[w], "") << "worker " << w;
    all.insert(all.end(), claimed[w].begin(), claimed[w].end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, queued);  // each run exactly once
  auto runs = stores[0]->list_runs({.limit = 0}).value();
  ASSERT_EQ(runs.size(), static_cast<size_t>(kRuns));
  for (const RunRow& r : runs) {
    EXPECT_EQ(r.state, RunState::kSucceeded) << r.id;
    auto w = static_cast<size_t>(r.worker.back() - '0');
    ASSERT_LT(w, claimed.size()) << r.worker;
    EXPECT_NE(std::find(claimed[w].begin(), claimed[w].end(), r.id), claimed[w].end())
        << "run " << r.id << " recorded on " << r.worker;
  }
}

// Several workers draining runs of a few jobs at once never hold two runs of one job.
TEST_P(MetastoreTest, ConcurrentClaimersNeverRunOneJobTwice) {
  constexpr int kJobs = 3;
  constexpr int kRunsPerJob = 15;
  constexpr int kWorkers = 4;
  std::vector<std::unique_ptr<Metastore>> stores;
  for (int w = 0; w < kWorkers; ++w) {
    stores.push_back(open());
    ASSERT_NE(stores.back(), nullptr);
  }
  for (int i = 0; i < kJobs * kRunsPerJob; ++i)
    ASSERT_TRUE(stores[0]->create_run(fmt::format("job{}", i % kJobs), "batch", 1).ok());

  std::array<std::atomic<int>, kJobs> holders{};
  std::atomic<int> done{0}, overlaps{0};
  std::vector<std::string> errors(kWorkers);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      const std::string me = fmt::format("worker-{}", w);
      while (done.load() < kJobs * kRunsPerJob) {
        auto run = stores[w]->claim_next_run(me, std::chrono::seconds(30));
        if (!run.ok()) {
          errors[w] = run.status().to_string();
          return;
        }
        if (!run->has_value()) continue;
        auto& holder = holders[static_cast<size_t>((*run)->job_id.back() - '0')];
        if (holder.fetch_add(1) != 0) overlaps++;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        holder.fetch_sub(1);
        RunRow finished = **run;
        finished.state = RunState::kSucceeded;
        Status st = stores[w]->finish_run(finished);
        if (!st.is_ok()) {
          errors[w] = st.to_string();
          return;
        }
        done++;
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  for (int w = 0; w < kWorkers; ++w)
    EXPECT_EQ(errors[w], "") << "worker " << w;
  EXPECT_EQ(done.load(), kJobs * kRunsPerJob);
  EXPECT_EQ(overlaps.load(), 0);
}

// Several processes starting at once on a fresh metastore: each migration is applied once.
TEST_P(MetastoreTest, ConcurrentOpensMigrateOnce) {
  constexpr int kOpeners = 4;
  std::vector<std::unique_ptr<Metastore>> stores(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i)
    threads.emplace_back([&, i] { stores[i] = open(); });
  for (std::thread& t : threads)
    t.join();
  for (const auto& store : stores)
    ASSERT_NE(store, nullptr);
  const std::string latest = std::to_string(meta::metastore_migrations().back().version);
  EXPECT_EQ(value_raw("SELECT count(*) FROM ferry_schema"), latest);
  EXPECT_EQ(value_raw("SELECT max(version) FROM ferry_schema"), latest);
  ASSERT_TRUE(stores[1]->put_job(job("a")).is_ok());
  EXPECT_TRUE(stores[3]->get_job("a")->has_value());
}

TEST_P(MetastoreTest, RefusesASchemaNewerThanThisFerry) {
  ASSERT_NE(open(), nullptr);
  ASSERT_TRUE(exec_raw("INSERT INTO ferry_schema (version, applied_at) VALUES (99, 'x')").is_ok());
  auto again = open_metastore(url_, dir_.str());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kInvalid);
  EXPECT_NE(again.status().message().find("newer"), std::string::npos) << again.status().message();
}

INSTANTIATE_TEST_SUITE_P(Backends, MetastoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

// --- PostgreSQL only ---------------------------------------------------------------------

class PostgresMetastoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = testing::PgServer::shared();
    ASSERT_NE(server_, nullptr) << testing::PgServer::shared_error();
    url_ = server_->create_database("meta");
    ASSERT_FALSE(url_.empty());
  }
  testing::PgServer* server_ = nullptr;
  testing::TempDir dir_;
  std::string url_;
};

// The same tables with the same columns, in the same order, as the SQLite metastore.
TEST_F(PostgresMetastoreTest, TablesAndColumnsMatchSqlite) {
  EXPECT_EQ(meta::postgres_metastore_migrations().size(), meta::metastore_migrations().size());
  ASSERT_NE(open_or_die(dir_, url_), nullptr);
  ASSERT_NE(open_or_die(dir_), nullptr);
  auto sqlite = SqliteDb::open((dir_.path() / ".ferry" / "meta.db").string());
  ASSERT_TRUE(sqlite.ok());
  for (const char* table : {"ferry_jobs", "ferry_runs", "ferry_audit", "ferry_control",
                            "ferry_config_versions", "ferry_schema"}) {
    auto stmt = sqlite->prepare(
        fmt::format("SELECT group_concat(name, ',') FROM pragma_table_info('{}')", table));
    ASSERT_TRUE(stmt.ok());
    ASSERT_TRUE(stmt->step().value());
    EXPECT_EQ(testing::PgServer::query_value(
                  url_, fmt::format("SELECT string_agg(column_name, ',' ORDER BY "
                                    "ordinal_position) FROM information_schema.columns WHERE "
                                    "table_schema = 'public' AND table_name = '{}'",
                                    table)),
              stmt->column_text(0))
        << table;
  }
}

// A session ended under the metastore (server restart, pg_terminate_backend): the next call
// reconnects and succeeds.
TEST_F(PostgresMetastoreTest, ReconnectsAfterTheSessionIsTerminated) {
  auto store = open_or_die(dir_, url_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put_job(job("a")).is_ok());
  EXPECT_EQ(
      testing::PgServer::exec(url_,
                              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()"),
      "");
  auto jobs = store->list_jobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status().to_string();
  EXPECT_EQ(ids(*jobs), std::vector<std::string>{"a"});
  auto run = store->create_run("a", "", 1);
  ASSERT_TRUE(run.ok()) << run.status().to_string();
  EXPECT_EQ(store->list_runs({}).value().size(), 1u);
}

// The password of the URL is in no message, whatever fails.
TEST_F(PostgresMetastoreTest, ThePasswordIsInNoMessage) {
  const std::string url = fmt::format(
      "postgres://postgres:pw-metastore-test@127.0.0.1:{}/"
      "no_such_database",
      server_->port());
  auto store = open_metastore(url, dir_.str());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kNotFound) << store.status().to_string();
  EXPECT_EQ(store.status().message().find("pw-metastore-test"), std::string::npos)
      << store.status().message();
  EXPECT_NE(store.status().message().find("no_such_database"), std::string::npos);
}

}  // namespace
}  // namespace ferry
