#include "meta/sqlite_metastore.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "core/redact.h"
#include "core/sqlite.h"
#include "meta/apply_plan.h"
#include "meta/encoding.h"
#include "meta/migrations.h"

namespace ferry::meta {
namespace {

using nlohmann::json;

constexpr const char* kJobColumns =
    "id, template, params, spec, enabled, watermark, priority, origin, updated_at";

Result<JobRow> read_job(const SqliteStmt& stmt) {
  JobRow job;
  job.id = stmt.column_text(0);
  job.template_name = stmt.column_text(1);
  FERRY_ASSIGN(job.params, parse_json(stmt.column_text_view(2), "params of job '" + job.id + "'"));
  FERRY_ASSIGN(job.spec, parse_json(stmt.column_text_view(3), "spec of job '" + job.id + "'"));
  job.enabled = stmt.column_int64(4) != 0;
  job.watermark = stmt.column_text(5);
  job.priority = static_cast<int>(stmt.column_int64(6));
  job.origin = stmt.column_text(7);
  job.updated_at = stmt.column_text(8);
  return job;
}

constexpr const char* kRunColumns =
    "id, job_id, batch_id, state, attempt, load_id, queued_at, started_at, finished_at, "
    "rows_read, rows_loaded, rows_rejected, error, worker, lease_until, definition, retryable";

Result<RunRow> read_run(const SqliteStmt& stmt) {
  RunRow run;
  run.id = stmt.column_int64(0);
  run.job_id = stmt.column_text(1);
  run.batch_id = stmt.column_text(2);
  std::string state = stmt.column_text(3);
  std::optional<RunState> parsed = parse_run_state(state);
  if (!parsed) return Status::invalid("metastore: run {} has unknown state '{}'", run.id, state);
  run.state = *parsed;
  run.attempt = static_cast<int>(stmt.column_int64(4));
  run.load_id = stmt.column_text(5);
  run.queued_at = stmt.column_text(6);
  run.started_at = stmt.column_text(7);
  run.finished_at = stmt.column_text(8);
  run.rows_read = stmt.column_int64(9);
  run.rows_loaded = stmt.column_int64(10);
  run.rows_rejected = stmt.column_int64(11);
  run.error = stmt.column_text(12);
  run.worker = stmt.column_text(13);
  run.lease_until = stmt.column_text(14);
  FERRY_ASSIGN(run.definition,
               parse_json(stmt.column_text_view(15), fmt::format("definition of run {}", run.id)));
  run.retryable = stmt.column_int64(16) != 0;
  return run;
}

constexpr const char* kAuditColumns = "id, time, run_id, job_id, level, event, message, details";

Result<AuditEvent> read_audit(const SqliteStmt& stmt) {
  AuditEvent event;
  event.id = stmt.column_int64(0);
  event.time = stmt.column_text(1);
  event.run_id = stmt.column_int64(2);
  event.job_id = stmt.column_text(3);
  event.level = stmt.column_text(4);
  event.event = stmt.column_text(5);
  event.message = stmt.column_text(6);
  FERRY_ASSIGN(event.details, parse_json(stmt.column_text_view(7),
                                         fmt::format("details of audit row {}", event.id)));
  return event;
}

constexpr const char* kVersionColumns = "version, applied_at, hash, note";

ConfigVersion read_version(const SqliteStmt& stmt) {
  ConfigVersion version;
  version.version = stmt.column_int64(0);
  version.applied_at = stmt.column_text(1);
  version.hash = stmt.column_text(2);
  version.note = stmt.column_text(3);
  return version;
}

// Steps `stmt` to the end, turning each row into a T with `read`.
template <typename T, typename Read>
Result<std::vector<T>> read_all(SqliteStmt& stmt, Read read) {
  std::vector<T> rows;
  for (;;) {
    FERRY_ASSIGN(bool has_row, stmt.step());
    if (!has_row) break;
    FERRY_ASSIGN(T row, read(stmt));
    rows.push_back(std::move(row));
  }
  return rows;
}

class SqliteMetastore final : public Metastore {
 public:
  explicit SqliteMetastore(SqliteDb db) : db_(std::move(db)), worker_(worker_name()) {
    flusher_ = std::thread([this] { flush_loop(); });
  }
  ~SqliteMetastore() override {
    {
      std::lock_guard lock(audit_mu_);
      stop_flusher_ = true;
    }
    audit_cv_.notify_all();
    flusher_.join();
    (void)flush_run_events();
  }
  SqliteMetastore(const SqliteMetastore&) = delete;
  SqliteMetastore& operator=(const SqliteMetastore&) = delete;

  Result<std::vector<JobRow>> list_jobs() override {
    std::lock_guard lock(mu_);
    return select_jobs("");
  }

  Result<std::string> config_stamp() override {
    std::lock_guard lock(mu_);
    FERRY_ASSIGN(SqliteStmt stmt,
                 db_.prepare("SELECT (SELECT COALESCE(MAX(version), 0) FROM ferry_config_versions)"
                             " || '/' || COUNT(*) || '/' || COALESCE(MAX(updated_at), '') || '/' "
                             "|| COALESCE(SUM(enabled), 0) || '/' || COALESCE(SUM(length(id)), 0) "
                             "FROM ferry_jobs"));
    FERRY_ASSIGN(bool row, stmt.step());
    if (!row) return std::string();
    return stmt.column_text(0);
  }

  Result<std::optional<JobRow>> get_job(const std::string& id) override {
    std::lock_guard lock(mu_);
    FERRY_ASSIGN(std::vector<JobRow> jobs, select_jobs(" WHERE id = ?", id));
    if (jobs.empty()) return std::optional<JobRow>();
    return std::optional<JobRow>(std::move(jobs.front()));
  }

  Status put_job(const JobRow& job) override {
    FERRY_TRY(check_job(job));
    std::lock_guard lock(mu_);
    FERRY_ASSIGN(SqliteStmt stmt,
                 db_.prepare("INSERT INTO ferry_jobs (id, template, params, spec, enabled, "
                             "watermark, priority, origin, updated_at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                             "template = excluded.template, params = excluded.params, "
                             "spec = excluded.spec, enabled = excluded.enabled, "
                             "watermark = excluded.watermark, priority = excluded.priority, "
                             "origin = excluded.origin, updated_at = excluded.updated_at"));
    FERRY_TRY(stmt.bind_all(job.id, job.template_name, dump_json(job.params), dump_json(job.spec),
                            job.enabled, job.watermark, job.priority, job.origin, now_iso8601()));
    return stmt.run();
  }

  Status delete_job(const std::string& id) override {
    std::lock_guard lock(mu_);
    return update_job(id, "DELETE FROM ferry_jobs WHERE id = ?", id);
  }

  Status set_enabled(const std::string& id, bool enabled) override {
    std::lock_guard lock(mu_);
    return update_job(id, "UPDATE ferry_jobs SET enabled = ?, updated_at = ? WHERE id = ?", enabled,
                      now_iso8601(), id);
  }

  Status set_watermark(const std::string& id, const std::string& watermark) override {
    std::lock_guard lock(mu_);
    return update_job(id, "UPDATE ferry_jobs SET watermark = ? WHERE id = ?", watermark, id);
  }

  Result<int64_t> apply_version(const json& project, const std::vector<JobRow>& jobs,
                                const std::string& note) override {
    // Everything that can be checked without the database, before taking its write lock.
    FERRY_ASSIGN(ApplyInput input, check_apply(project, jobs));

    std::lock_guard lock(mu_);
    FERRY_ASSIGN(SqliteTransaction txn, SqliteTransaction::begin(db_));
    FERRY_ASSIGN(std::vector<JobRow> existing, select_jobs(""));
    ApplyPlan plan = plan_apply(std::move(existing), input);

    FERRY_ASSIGN(SqliteStmt insert_version,
                 db_.prepare("INSERT INTO ferry_config_versions (applied_at, hash, note, project) "
                             "VALUES (?, ?, ?, ?)"));
    const std::string now = now_iso8601();
    FERRY_TRY(
        insert_version.bind_all(now, fnv1a64_hex(input.project_text), note, input.project_text));
    FERRY_TRY(insert_version.run());
    const int64_t version = db_.last_insert_rowid();

    FERRY_ASSIGN(SqliteStmt remove, db_.prepare("DELETE FROM ferry_jobs WHERE id = ?"));
    for (const std::string& id : plan.remove) {
      FERRY_TRY(remove.bind_all(id));
      FERRY_TRY(remove.run());
    }
    FERRY_ASSIGN(SqliteStmt upsert,
                 db_.prepare("INSERT OR REPLACE INTO ferry_jobs (id, template, params, spec, "
                             "enabled, watermark, priority, origin, updated_at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, 'apply', ?)"));
    for (const ApplyPlan::Write& w : plan.write) {
      const JobRow& job = *w.job;
      FERRY_TRY(upsert.bind_all(job.id, job.template_name, dump_json(job.params),
                                dump_json(job.spec), job.enabled, w.watermark, job.priority, now));
      FERRY_TRY(upsert.run());
    }

    FERRY_TRY(db_.exec("DELETE FROM ferry_control"));
    FERRY_ASSIGN(SqliteStmt insert_rule,
                 db_.prepare("INSERT INTO ferry_control (position, on_event, rule, version) "
                             "VALUES (?, ?, ?, ?)"));
    for (size_t i = 0; i < input.rules.size(); ++i) {
      FERRY_TRY(insert_rule.bind_all(static_cast<int64_t>(i), control_rule_event(input.rules[i]),
                                     dump_json(input.rules[i]), version));
      FERRY_TRY(insert_rule.run());
    }

    FERRY_TRY(insert_audit(config_applied_event(version, note, std::move(plan))));
    FERRY_TRY(txn.commit());
    return version;
  }

  Result<std::optional<ConfigVersion>> current_version() override {
    std::lock_guard lock(mu_);
    return select_version("ORDER BY version DESC LIMIT 1", std::nullopt);
  }

  Result<std::optional<ConfigVersion>> get_version(int64_t version) override {
    std::lock_guard lock(mu_);
    return select_version("WHERE version = ?", version);
  }

  Result<std::vector<ConfigVersion>> list_versions() override {
    std::lock_guard lock(mu_);
    FERRY_ASSIGN(SqliteStmt stmt, db_.prepare(fmt::format("SELECT {} FROM ferry_config_versions "
                                                          "ORDER BY version DESC",
                                                          kVersionColumns)));
    return read_all<ConfigVersion>(
        stmt, [](const SqliteStmt& s) -> Result<ConfigVersion> { return read_version(s); });
  }

  using Metastore::claim_next_run;
  using Metastore::create_run;

  Result<int64_t> create_run(const NewRun& run) override {
    if (run.job_id.empty()) return Status::invalid("create_run: empty job id");
    if (run.attempt < 1) return Status::invalid("create_run: attempt {} < 1", run.attempt);
    int64_t id = 0;
    FERRY_TRY(write([&]() -> Status {
      FERRY_ASSIGN(SqliteStmt * stmt,
                   cached("INSERT INTO ferry_runs (job_id, batch_id, state, attempt, "
                          "queued_at, load_id, definition) VALUES (?, ?, 'queued', ?, ?, ?, ?)"));
      FERRY_TRY(stmt->bind_all(run.job_id, run.batch_id, run.attempt, now_iso8601(), run.load_id,
                               dump_json(run.definition)));
      FERRY_TRY(stmt->run());
      id = db_.last_insert_rowid();
      return Status::success();
    }));
    return id;
  }

  using Metastore::finish_run;
  using Metastore::start_run;

  Status start_run(int64_t run_id, const std::string& load_id,
                   std::vector<AuditEvent> events) override {
    for (const AuditEvent& e : events)
      FERRY_TRY(check_audit(e));
    return write([&]() -> Status {
      FERRY_ASSIGN(SqliteStmt * stmt,
                   cached("UPDATE ferry_runs SET state = 'running', started_at = ?, "
                          "load_id = CASE WHEN load_id = '' THEN ? ELSE load_id END, "
                          "worker = ? WHERE id = ? AND state = 'queued'"));
      FERRY_TRY(stmt->bind_all(now_iso8601(), load_id, worker_, run_id));
      FERRY_TRY(stmt->run());
      if (db_.changes() != 1) return unchanged_run(run_id, "start");
      stage_run_events(events);
      return Status::success();
    });
  }

  Status finish_run(const RunRow& run, std::vector<AuditEvent> events) override {
    if (!is_final(run.state)) {
      return Status::invalid("finish_run: run {} cannot finish as '{}'", run.id,
                             run_state_name(run.state));
    }
    for (const AuditEvent& e : events)
      FERRY_TRY(check_audit(e));
    return write([&]() -> Status {
      FERRY_ASSIGN(SqliteStmt * stmt,
                   cached("UPDATE ferry_runs SET state = ?, rows_read = ?, rows_loaded = ?, "
                          "rows_rejected = ?, error = ?, finished_at = ?, lease_until = NULL, "
                          "retryable = ? WHERE id = ? AND "
                          "(state = 'queued' OR (state = 'running' AND (? = '' OR worker = ?)))"));
      FERRY_TRY(stmt->bind_all(run_state_name(run.state), run.rows_read, run.rows_loaded,
                               run.rows_rejected, redact(run.error),
                               run.finished_at.empty() ? now_iso8601() : run.finished_at,
                               run.retryable ? 1 : 0, run.id, run.worker, run.worker));
      FERRY_TRY(stmt->run());
      if (db_.changes() != 1) return unchanged_run(run.id, "finish");
      stage_run_events(events);
      return Status::success();
    });
  }

  Result<std::optional<RunRow>> claim_next_run(const std::string& worker,
                                               std::chrono::milliseconds lease) override {
    std::lock_guard lock(mu_);
    // BEGIN IMMEDIATE: the write lock first, so no other connection claims between the
    // select and the update.
    FERRY_ASSIGN(SqliteTransaction txn, SqliteTransaction::begin(db_));
    FERRY_ASSIGN(SqliteStmt next,
                 db_.prepare("SELECT id FROM ferry_runs AS r WHERE state = 'queued' AND job_id NOT "
                             "LIKE 'transform:%' AND NOT "
                             "EXISTS (SELECT 1 FROM ferry_runs AS x WHERE x.job_id = r.job_id "
                             "AND x.state = 'running') ORDER BY id LIMIT 1"));
    FERRY_ASSIGN(bool has_row, next.step());
    if (!has_row) return std::optional<RunRow>();
    const int64_t run_id = next.column_int64(0);
    FERRY_ASSIGN(
        SqliteStmt claim,
        db_.prepare("UPDATE ferry_runs SET state = 'running', started_at = ?, "
                    "worker = ?, lease_until = NULLIF(?, ''), load_id = CASE WHEN load_id = '' "
                    "THEN id || '-' || lower(hex(randomblob(4))) ELSE load_id END "
                    "WHERE id = ? AND state = 'queued'"));
    FERRY_TRY(claim.bind_all(now_iso8601(), worker.empty() ? worker_ : worker, lease_text(lease),
                             run_id));
    FERRY_TRY(claim.run());
    if (db_.changes() != 1) return Status::internal("claim_next_run: run {} changed", run_id);
    FERRY_ASSIGN(std::optional<RunRow> run, select_run(run_id));
    FERRY_TRY(txn.commit());
    return run;
  }

  Result<std::vector<int64_t>> renew_leases(const std::string& worker,
                                            std::chrono::milliseconds lease) override {
    std::lock_guard lock(mu_);
    FERRY_ASSIGN(
        SqliteStmt stmt,
        db_.prepare("UPDATE ferry_runs SET lease_until = NULLIF(?, '') WHERE state = 'running' "
                    "AND worker = ? RETURNING id"));
    FERRY_TRY(stmt.bind_all(lease_text(lease), worker.empty() ? worker_ : worker));
    std::vector<int64_t> ids;
    for (;;) {
      FERRY_ASSIGN(bool row, stmt.step());
      if (!row) break;
      ids.push_back(stmt.column_int64(0));
    }
    return ids;
  }

  Result<std::vector<RunRow>> requeue_expired_runs() override {
    std::lock_guard lock(mu_);
    FERRY_ASSIGN(SqliteTransaction txn, SqliteTransaction::begin(db_));
    FERRY_ASSIGN(SqliteStmt expired,
                 db_.prepare(fmt::format("SELECT {} FROM ferry_runs WHERE state = 'running' "
                                         "AND lease_until IS NOT NULL AND lease_until < ? "
                                         "ORDER BY id",
                                         kRunColumns)));
    FERRY_TRY(expired.bind(1, now_iso8601()));
    FERRY_ASSIGN(std::vector<RunRow> runs, read_all<RunRow>(expired, read_run));
    FERRY_ASSIGN(SqliteStmt requeue,
                 db_.prepare("UPDATE ferry_runs SET state = 'queued', worker = '', "
                             "started_at = NULL, lease_until = NULL WHERE id = ?"));
    for (const RunRow& run : runs) {
      FERRY_TRY(requeue.bind(1, run.id));
      FERRY_TRY(requeue.run());
      requeue.reset();
    }
    FERRY_TRY(txn.commit());
    return runs;
  }

  Result<std::optional<RunRow>> get_run(int64_t run_id) override {
    std::lock_guard lock(mu_);
    return select_run(run_id);
  }

  Result<std::vector<RunRow>> list_runs(const RunFilter& filter) override {
    std::string where;
    if (!filter.job_id.empty()) add_condition(where, "job_id = :job");
    if (!filter.batch_id.empty()) add_condition(where, "batch_id = :batch");
    if (filter.state) add_condition(where, "state = :state");
    std::lock_guard lock(mu_);
    FERRY_ASSIGN(SqliteStmt stmt,
                 db_.prepare(fmt::format("SELECT {} FROM ferry_runs{} ORDER BY id DESC{}",
                                         kRunColumns, where, limit_clause(filter.limit))));
    FERRY_TRY(bind_named(stmt, ":job", filter.job_id));
    FERRY_TRY(bind_named(stmt, ":batch", filter.batch_id));
    if (filter.state) FERRY_TRY(bind_named(stmt, ":state", run_state_name(*filter.state)));
    return read_all<RunRow>(stmt, read_run);
  }

  Status audit(AuditEvent event) override {
    return write([&] { return insert_audit(std::move(event)); });
  }

  Result<std::vector<AuditEvent>> list_audit(const AuditFilter& filter) override {
    FERRY_TRY(flush_run_events());  // every row written so far, the run events' included
    std::string where;
    if (!filter.job_id.empty()) add_condition(where, "job_id = :job");
    if (filter.run_id != 0) add_condition(where, "run_id = :run");
    if (!filter.since.empty()) add_condition(where, "time >= :since");
    std::lock_guard lock(mu_);
    FERRY_ASSIGN(SqliteStmt stmt,
                 db_.prepare(fmt::format("SELECT {} FROM ferry_audit{} ORDER BY id DESC{}",
                                         kAuditColumns, where, limit_clause(filter.limit))));
    FERRY_TRY(bind_named(stmt, ":job", filter.job_id));
    if (filter.run_id != 0) FERRY_TRY(bind_named(stmt, ":run", filter.run_id));
    if (!filter.since.empty()) FERRY_TRY(bind_named(stmt, ":since", filter.since));
    return read_all<AuditEvent>(stmt, read_audit);
  }

  Result<json> control_rules() override {
    std::lock_guard lock(mu_);
    FERRY_ASSIGN(SqliteStmt stmt, db_.prepare("SELECT position, rule FROM ferry_control "
                                              "ORDER BY position"));
    json rules = json::array();
    for (;;) {
      FERRY_ASSIGN(bool has_row, stmt.step());
      if (!has_row) break;
      FERRY_ASSIGN(json rule, parse_json(stmt.column_text_view(1),
                                         fmt::format("control rule {}", stmt.column_int64(0))));
      rules.push_back(std::move(rule));
    }
    return rules;
  }

 private:
  // Binds `value` to the named parameter when the statement has it.
  template <typename T>
  static Status bind_named(SqliteStmt& stmt, const char* name, const T& value) {
    int index = stmt.parameter_index(name);
    return index > 0 ? stmt.bind(index, value) : Status::success();
  }

  // REQUIRES: mu_ held. `where` starts with a space or is empty.
  template <typename... Args>
  Result<std::vector<JobRow>> select_jobs(const std::string& where, const Args&... args) {
    FERRY_ASSIGN(SqliteStmt stmt, db_.prepare(fmt::format("SELECT {} FROM ferry_jobs{} ORDER BY id",
                                                          kJobColumns, where)));
    FERRY_TRY(stmt.bind_all(args...));
    return read_all<JobRow>(stmt, read_job);
  }

  // Runs `sql` (bound to `args`) on the job `id`; kNotFound when it changed no row.
  // REQUIRES: mu_ held.
  template <typename... Args>
  Status update_job(const std::string& id, const char* sql, const Args&... args) {
    FERRY_ASSIGN(SqliteStmt stmt, db_.prepare(sql));
    FERRY_TRY(stmt.bind_all(args...));
    FERRY_TRY(stmt.run());
    if (db_.changes() == 0) return Status::not_found("job '{}' does not exist", id);
    return Status::success();
  }

  // REQUIRES: mu_ held.
  Result<std::optional<ConfigVersion>> select_version(const char* clause,
                                                      std::optional<int64_t> version) {
    FERRY_ASSIGN(SqliteStmt stmt,
                 db_.prepare(fmt::format("SELECT {}, project FROM ferry_config_versions {}",
                                         kVersionColumns, clause)));
    if (version) FERRY_TRY(stmt.bind(1, *version));
    FERRY_ASSIGN(bool has_row, stmt.step());
    if (!has_row) return std::optional<ConfigVersion>();
    ConfigVersion found = read_version(stmt);
    FERRY_ASSIGN(found.project,
                 parse_json(stmt.column_text_view(4),
                            fmt::format("project of config version {}", found.version)));
    return std::optional<ConfigVersion>(std::move(found));
  }

  // REQUIRES: mu_ held.
  Result<std::optional<RunRow>> select_run(int64_t run_id) {
    FERRY_ASSIGN(SqliteStmt stmt,
                 db_.prepare(fmt::format("SELECT {} FROM ferry_runs WHERE id = ?", kRunColumns)));
    FERRY_TRY(stmt.bind(1, run_id));
    FERRY_ASSIGN(std::vector<RunRow> runs, read_all<RunRow>(stmt, read_run));
    if (runs.empty()) return std::optional<RunRow>();
    return std::optional<RunRow>(std::move(runs.front()));
  }

  // Why an UPDATE guarded by the run's state changed nothing. REQUIRES: mu_ held.
  Status unchanged_run(int64_t run_id, const char* action) {
    FERRY_ASSIGN(std::optional<RunRow> run, select_run(run_id));
    if (!run) return Status::not_found("run {} does not exist", run_id);
    if (run->state == RunState::kRunning) {
      return Status::invalid("cannot {} run {}: it is running on worker {}", action, run_id,
                             run->worker);
    }
    return Status::invalid("cannot {} run {}: it is {}", action, run_id,
                           run_state_name(run->state));
  }

  // REQUIRES: mu_ held.
  Status insert_audit(AuditEvent event) {
    FERRY_TRY(check_audit(event));
    FERRY_ASSIGN(SqliteStmt * stmt,
                 cached("INSERT INTO ferry_audit (time, run_id, job_id, level, event, "
                        "message, details) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    FERRY_TRY(stmt->bind_all(
        event.time.empty() ? now_iso8601() : event.time, event.run_id, event.job_id, event.level,
        event.event, redact(event.message),
        dump_json(event.details.is_null() ? json::object() : redact_json(event.details))));
    if (event.run_id == 0) FERRY_TRY(stmt->bind_null(2));
    return stmt->run();
  }

  // REQUIRES: mu_ held; `sql` a string literal (statements are kept by its address). The
  // statement for `sql`, prepared on first use, reset and with no values bound.
  Result<SqliteStmt*> cached(const char* sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      FERRY_ASSIGN(SqliteStmt stmt, db_.prepare(sql));
      it = statements_.emplace(sql, std::move(stmt)).first;
    } else {
      it->second.reset();
    }
    return &it->second;
  }

  // Group commit for the writes of many threads (run starts and ends, audit rows, new runs):
  // `op` joins a queue; the first caller finding no batch under way commits every queued op
  // in one transaction (each in a savepoint of its own, so one op failing undoes only
  // itself), the others wait for it. Alone, an op commits by itself at once; under load,
  // commits (and the WAL pages each writes) are shared: `ferry serve` with 4 workers on
  // no-op jobs measured 1.8 writes per commit. An op's result is its own status, or the
  // commit's failure.
  Status write(const std::function<Status()>& op) {
    PendingWrite me{&op};
    std::unique_lock group(group_mu_);
    pending_.push_back(&me);
    while (!me.done) {
      if (writing_) {
        group_cv_.wait(group);
        continue;
      }
      writing_ = true;
      std::vector<PendingWrite*> batch;
      batch.swap(pending_);
      group.unlock();
      run_batch(batch);
      group.lock();
      writing_ = false;
      for (PendingWrite* p : batch)
        p->done = true;
      group_cv_.notify_all();
    }
    return me.result;
  }

  struct PendingWrite {
    const std::function<Status()>* op;
    Status result;
    bool done = false;
  };

  void run_batch(const std::vector<PendingWrite*>& batch) {
    std::lock_guard lock(mu_);
    auto txn = SqliteTransaction::begin(db_);
    if (!txn.ok()) {
      for (PendingWrite* p : batch)
        p->result = txn.status();
      return;
    }
    const bool alone = batch.size() == 1;
    staged_.clear();
    for (PendingWrite* p : batch) {
      const size_t mark = staged_.size();
      if (!alone) p->result = db_.exec("SAVEPOINT ferry_write");
      if (p->result.is_ok()) p->result = (*p->op)();
      if (!alone && p->result.is_ok()) {
        p->result = db_.exec("RELEASE ferry_write");
      } else if (!alone) {
        (void)db_.exec("ROLLBACK TO ferry_write");
        (void)db_.exec("RELEASE ferry_write");
      }
      if (!p->result.is_ok()) staged_.resize(mark);  // the op's change is undone: its rows too
    }
    if (alone && !batch.front()->result.is_ok()) return;  // rolled back by txn's destructor
    Status committed = txn->commit();
    if (committed.is_ok()) {
      if (!staged_.empty()) {
        std::lock_guard audit_lock(audit_mu_);
        for (AuditEvent& e : staged_)
          later_.push_back(std::move(e));
        audit_cv_.notify_all();
      }
      staged_.clear();
      return;
    }
    staged_.clear();
    for (PendingWrite* p : batch) {
      if (p->result.is_ok()) p->result = committed;
    }
  }

  // REQUIRES: mu_ held, inside run_batch. The audit rows of a run's start or end, to be
  // written once that change is committed (see flush_loop).
  void stage_run_events(std::vector<AuditEvent>& events) {
    for (AuditEvent& e : events) {
      if (e.time.empty()) e.time = now_iso8601();  // when it happened, not when written
      staged_.push_back(std::move(e));
    }
  }

  // A run's start and end commit only the run's row; their audit rows (run_started,
  // load_started, run_finished, ...) follow within ~20 ms, many runs' in one transaction:
  // measured with `ferry serve` on no-op jobs, writing them with each run's change cost half
  // its time (3 rows and 3 index entries each, 2 commits per run). The price: a process
  // killed in those ~20 ms loses those rows (the run rows are right). list_audit and the
  // destructor write them first.
  void flush_loop() {
    std::unique_lock lock(audit_mu_);
    for (;;) {
      audit_cv_.wait(lock, [&] { return stop_flusher_ || !later_.empty(); });
      if (stop_flusher_) return;
      audit_cv_.wait_for(lock, std::chrono::milliseconds(20),
                         [&] { return stop_flusher_ || later_.size() >= 1024; });
      lock.unlock();
      Status st = flush_run_events();
      if (!st.is_ok()) spdlog::warn("metastore: writing audit rows: {}", st.message());
      lock.lock();
    }
  }

  // Writes the run events waiting in later_, in order (one flush at a time).
  Status flush_run_events() {
    std::lock_guard flush(flush_mu_);
    std::vector<AuditEvent> rows;
    {
      std::lock_guard lock(audit_mu_);
      rows.swap(later_);
    }
    if (rows.empty()) return Status::success();
    return write([&]() -> Status {
      for (AuditEvent& e : rows)
        FERRY_TRY(insert_audit(std::move(e)));
      return Status::success();
    });
  }

  std::mutex flush_mu_;  // one flush_run_events at a time: rows keep their order
  std::mutex audit_mu_;  // later_, stop_flusher_
  std::condition_variable audit_cv_;
  std::vector<AuditEvent> later_;  // committed runs' audit rows, not written yet
  bool stop_flusher_ = false;
  std::thread flusher_;
  std::vector<AuditEvent> staged_;  // guarded by mu_: the run events of the batch being written

  std::mutex group_mu_;  // pending_, writing_
  std::condition_variable group_cv_;
  std::vector<PendingWrite*> pending_;
  bool writing_ = false;

  std::mutex mu_;
  SqliteDb db_;
  std::map<const char*, SqliteStmt> statements_;  // see cached()
  const std::string worker_;
};

}  // namespace

Result<std::unique_ptr<Metastore>> open_sqlite_metastore(const std::filesystem::path& path) {
  const bool in_memory = path == ":memory:";
  if (!in_memory && path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return Status::io("metastore {}: cannot create {}: {}", path.string(),
                        path.parent_path().string(), ec.message());
    }
  }
  FERRY_ASSIGN(SqliteDb db, SqliteDb::open(path.string()));
  // WAL with synchronous=NORMAL: a commit is not fsynced, so bookkeeping (run rows, audit)
  // costs microseconds instead of a disk flush each; a crash of the process loses nothing, a
  // power cut may lose the last moments of bookkeeping but never corrupts it. The loads
  // themselves are exactly-once by the warehouse's own _ferry_loads, which keeps full sync.
  if (!in_memory) FERRY_TRY(db.exec("PRAGMA synchronous = NORMAL"));
  // Checkpoint the WAL every ~16 MB instead of every 4 MB: the same hot pages (the ends of
  // ferry_runs, ferry_audit and their indexes) are copied back to the database a quarter as
  // often. Readers are unaffected; the WAL file may grow to about that size.
  if (!in_memory) FERRY_TRY(db.exec("PRAGMA wal_autocheckpoint = 4000"));
  FERRY_TRY(migrate(db, metastore_migrations()));
  return std::unique_ptr<Metastore>(std::make_unique<SqliteMetastore>(std::move(db)));
}

}  // namespace ferry::meta
