#include "meta/sqlite_metastore.h"

#include <spdlog/spdlog.h>

#include <algorithm>
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
    writer_ = std::thread([this] { writer_loop(); });
  }
  // Writes what is queued (run ends, audit rows) first.
  ~SqliteMetastore() override {
    {
      std::lock_guard queue(queue_mu_);
      stop_ = true;
    }
    writer_cv_.notify_all();
    writer_.join();
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

    FERRY_ASSIGN(AuditRow applied,
                 render_audit(config_applied_event(version, note, std::move(plan))));
    FERRY_TRY(insert_audit(applied));
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
                          "queued_at, load_id, definition, priority) VALUES (?, ?, 'queued', ?, "
                          "?, ?, ?, ?)"));
      FERRY_TRY(stmt->bind_all(run.job_id, run.batch_id, run.attempt, now_iso8601(), run.load_id,
                               dump_json(run.definition), run.priority));
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
    FERRY_ASSIGN(std::vector<AuditRow> rows, render_run_events(std::move(events)));
    // The start must be committed before the run begins: until then another process could
    // claim the run too.
    return write([&]() -> Status {
      FERRY_ASSIGN(SqliteStmt * stmt,
                   cached("UPDATE ferry_runs SET state = 'running', started_at = ?, "
                          "load_id = CASE WHEN load_id = '' THEN ? ELSE load_id END, "
                          "worker = ? WHERE id = ? AND state = 'queued'"));
      FERRY_TRY(stmt->bind_all(now_iso8601(), load_id, worker_, run_id));
      FERRY_TRY(stmt->run());
      if (db_.changes() != 1) return unchanged_run(run_id, "start");
      stage_run_events(rows);
      return Status::success();
    });
  }

  Status finish_run(const RunRow& run, std::vector<AuditEvent> events) override {
    FERRY_ASSIGN(RunEnd end, render_end(run, std::move(events)));
    return write([&] { return write_end(end); });
  }

  void finish_run_later(const RunRow& run, std::vector<AuditEvent> events) override {
    auto end = render_end(run, std::move(events));
    if (!end.ok()) {  // a caller's mistake (a state that is not final, a bad event): no change
      spdlog::error("metastore: run {} cannot end: {}", run.id, end.status().message());
      return;
    }
    std::lock_guard queue(queue_mu_);
    if (ends_.empty()) ends_due_ = Clock::now() + kQueuedFor;
    ends_.push_back(std::move(end).value());
    if (ends_due_ < writer_wakes_at_) writer_cv_.notify_one();
  }

  Result<std::optional<RunRow>> claim_next_run(const std::string& worker,
                                               std::chrono::milliseconds lease) override {
    // One write (BEGIN IMMEDIATE: the write lock first, so no other connection claims between
    // the select and the update), after this instance's pending run ends.
    std::optional<RunRow> claimed;
    FERRY_TRY(write([&]() -> Status {
      FERRY_ASSIGN(SqliteStmt * next,
                   cached("SELECT id FROM ferry_runs AS r WHERE state = 'queued' AND job_id NOT "
                          "LIKE 'transform:%' AND NOT EXISTS (SELECT 1 FROM ferry_runs AS x "
                          "WHERE x.job_id = r.job_id AND x.state = 'running') ORDER BY "
                          "priority DESC, id LIMIT 1"));
      FERRY_ASSIGN(bool has_row, next->step());
      if (!has_row) return Status::success();
      const int64_t run_id = next->column_int64(0);
      next->reset();
      FERRY_ASSIGN(SqliteStmt * claim,
                   cached("UPDATE ferry_runs SET state = 'running', started_at = ?, worker = ?, "
                          "lease_until = NULLIF(?, ''), load_id = CASE WHEN load_id = '' "
                          "THEN id || '-' || lower(hex(randomblob(4))) ELSE load_id END "
                          "WHERE id = ? AND state = 'queued'"));
      FERRY_TRY(claim->bind_all(now_iso8601(), worker.empty() ? worker_ : worker, lease_text(lease),
                                run_id));
      FERRY_TRY(claim->run());
      if (db_.changes() != 1) return Status::internal("claim_next_run: run {} changed", run_id);
      FERRY_ASSIGN(claimed, select_run(run_id));
      return Status::success();
    }));
    return claimed;
  }

  Result<std::vector<int64_t>> renew_leases(const std::string& worker,
                                            std::chrono::milliseconds lease) override {
    std::vector<int64_t> ids;
    FERRY_TRY(write([&]() -> Status {
      FERRY_ASSIGN(SqliteStmt stmt,
                   db_.prepare("UPDATE ferry_runs SET lease_until = NULLIF(?, '') WHERE state = "
                               "'running' AND worker = ? RETURNING id"));
      FERRY_TRY(stmt.bind_all(lease_text(lease), worker.empty() ? worker_ : worker));
      for (;;) {
        FERRY_ASSIGN(bool row, stmt.step());
        if (!row) break;
        ids.push_back(stmt.column_int64(0));
      }
      return Status::success();
    }));
    return ids;
  }

  Result<std::vector<RunRow>> requeue_expired_runs() override {
    std::vector<RunRow> runs;
    FERRY_TRY(write([&]() -> Status {
      FERRY_ASSIGN(SqliteStmt expired,
                   db_.prepare(fmt::format("SELECT {} FROM ferry_runs WHERE state = 'running' "
                                           "AND lease_until IS NOT NULL AND lease_until < ? "
                                           "ORDER BY id",
                                           kRunColumns)));
      FERRY_TRY(expired.bind(1, now_iso8601()));
      FERRY_ASSIGN(runs, read_all<RunRow>(expired, read_run));
      FERRY_ASSIGN(SqliteStmt requeue,
                   db_.prepare("UPDATE ferry_runs SET state = 'queued', worker = '', "
                               "started_at = NULL, lease_until = NULL WHERE id = ?"));
      for (const RunRow& run : runs) {
        FERRY_TRY(requeue.bind(1, run.id));
        FERRY_TRY(requeue.run());
      }
      return Status::success();
    }));
    return runs;
  }

  Result<std::optional<RunRow>> get_run(int64_t run_id) override {
    FERRY_TRY(write_pending_ends());
    std::lock_guard lock(mu_);
    return select_run(run_id);
  }

  Result<std::vector<RunRow>> list_runs(const RunFilter& filter) override {
    std::string where;
    if (!filter.job_id.empty()) add_condition(where, "job_id = :job");
    if (!filter.batch_id.empty()) add_condition(where, "batch_id = :batch");
    if (filter.state) add_condition(where, "state = :state");
    FERRY_TRY(write_pending_ends());
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
    FERRY_ASSIGN(AuditRow row, render_audit(std::move(event)));
    return write([&] { return insert_audit(row); });
  }

  Result<std::vector<AuditEvent>> list_audit(const AuditFilter& filter) override {
    // Every row written so far, the queued ends' and audit rows included.
    FERRY_TRY(write([] { return Status::success(); }, AuditRows::kAll));
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

  // An audit row as stored: checked, redacted and turned into text before any lock is taken,
  // so that the writer holding the database does only the insert.
  struct AuditRow {
    std::string time;
    int64_t run_id = 0;
    std::string job_id, level, event, message, details;
  };

  // kInvalid for an event audit() refuses. The row's time is the event's, or now.
  static Result<AuditRow> render_audit(AuditEvent event) {
    FERRY_TRY(check_audit(event));
    AuditRow row;
    row.time = event.time.empty() ? now_iso8601() : std::move(event.time);
    row.run_id = event.run_id;
    row.job_id = std::move(event.job_id);
    row.level = std::move(event.level);
    row.event = std::move(event.event);
    row.message = redact(event.message);
    row.details = dump_json(event.details.is_null() ? json::object() : redact_json(event.details));
    return row;
  }

  static Result<std::vector<AuditRow>> render_run_events(std::vector<AuditEvent> events) {
    std::vector<AuditRow> rows;
    rows.reserve(events.size());
    for (AuditEvent& e : events) {
      FERRY_ASSIGN(AuditRow row, render_audit(std::move(e)));
      rows.push_back(std::move(row));
    }
    return rows;
  }

  // REQUIRES: mu_ held.
  Status insert_audit(const AuditRow& row) {
    FERRY_ASSIGN(SqliteStmt * stmt,
                 cached("INSERT INTO ferry_audit (time, run_id, job_id, level, event, "
                        "message, details) VALUES (?, ?, ?, ?, ?, ?, ?)"));
    FERRY_TRY(stmt->bind_all(row.time, row.run_id, row.job_id, row.level, row.event, row.message,
                             row.details));
    if (row.run_id == 0) FERRY_TRY(stmt->bind_null(2));
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

  // A run's end as finish_run writes it, rendered: it may be written after its caller has
  // returned (finish_run_later), and again should that commit fail.
  struct RunEnd {
    int64_t run_id = 0;
    std::string job_id;
    const char* state = "";
    int64_t rows_read = 0, rows_loaded = 0, rows_rejected = 0;
    std::string error;  // redacted
    std::string finished_at;
    bool retryable = false;
    std::string worker;  // "" = no claim to check
    std::vector<AuditRow> rows;
    int failed_writes = 0;
  };

  // kInvalid for a state that is not final or an event audit() refuses.
  static Result<RunEnd> render_end(const RunRow& run, std::vector<AuditEvent> events) {
    if (!is_final(run.state)) {
      return Status::invalid("finish_run: run {} cannot finish as '{}'", run.id,
                             run_state_name(run.state));
    }
    RunEnd end;
    FERRY_ASSIGN(end.rows, render_run_events(std::move(events)));
    end.run_id = run.id;
    end.job_id = run.job_id;
    end.state = run_state_name(run.state);
    end.rows_read = run.rows_read;
    end.rows_loaded = run.rows_loaded;
    end.rows_rejected = run.rows_rejected;
    end.error = redact(run.error);
    end.finished_at = run.finished_at.empty() ? now_iso8601() : run.finished_at;
    end.retryable = run.retryable;
    end.worker = run.worker;
    return end;
  }

  // REQUIRES: mu_ held, in a transaction.
  Status write_end(const RunEnd& end) {
    FERRY_ASSIGN(SqliteStmt * stmt,
                 cached("UPDATE ferry_runs SET state = ?, rows_read = ?, rows_loaded = ?, "
                        "rows_rejected = ?, error = ?, finished_at = ?, lease_until = NULL, "
                        "retryable = ? WHERE id = ? AND "
                        "(state = 'queued' OR (state = 'running' AND (? = '' OR worker = ?)))"));
    FERRY_TRY(stmt->bind_all(end.state, end.rows_read, end.rows_loaded, end.rows_rejected,
                             end.error, end.finished_at, end.retryable ? 1 : 0, end.run_id,
                             end.worker, end.worker));
    FERRY_TRY(stmt->run());
    if (db_.changes() != 1) return unchanged_run(end.run_id, "finish");
    stage_run_events(end.rows);
    return Status::success();
  }

  using Clock = std::chrono::steady_clock;
  // How long run ends and audit rows may wait for a write to take them along before the
  // writer writes them by themselves; and how many audit rows make it write them at once.
  static constexpr std::chrono::milliseconds kQueuedFor{20};
  static constexpr size_t kQueuedRows = 1024;

  // What a write takes along besides the queued run ends: the audit rows waiting (later_)
  // when they are due, or every one (the run ends' own included) now.
  enum class AuditRows { kWhenDue, kAll };

  // A queued op, shared by its caller and the writer: the writer wakes the caller after
  // letting go of every lock (so that the caller does not wake only to wait for one), and may
  // still be notifying it when the caller returns.
  struct PendingWrite {
    PendingWrite(const std::function<Status()>& op, AuditRows rows) : op(op), rows(rows) {}
    const std::function<Status()>& op;
    const AuditRows rows;
    Status result;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;  // guarded by mu: the result is final, the caller returns it
  };

  // Group commit for the writes of many threads (run starts and ends, audit rows, new runs,
  // claims): `op` joins a queue and its caller waits; one thread, the writer, writes every
  // op queued in one transaction (each in a savepoint of its own, so one op failing undoes
  // only itself), after the run ends finish_run_later queued, and wakes each caller when its
  // op is committed. Under load the writer goes from one batch to the next without waiting
  // for any thread to wake (with 4 workers on 2 cores a wake-up costs about a commit: callers
  // leading their batch in turn, each handing the next to the first waiter, measured 10%
  // slower on no-op runs); commits (and the WAL pages each writes) are shared. An op's result
  // is its own status, or the commit's failure.
  Status write(const std::function<Status()>& op, AuditRows rows = AuditRows::kWhenDue) {
    auto me = std::make_shared<PendingWrite>(op, rows);
    bool idle_writer = false;
    {
      std::lock_guard queue(queue_mu_);
      pending_.push_back(me);
      idle_writer = writer_wakes_at_ != Clock::time_point::min();
    }
    if (idle_writer) writer_cv_.notify_one();
    std::unique_lock lock(me->mu);
    me->cv.wait(lock, [&] { return me->done; });
    return me->result;
  }

  // The writer thread: batches of queued ops; run ends and audit rows by themselves when
  // they have waited kQueuedFor (their price: see finish_run_later in meta/metastore.h and
  // stage_run_events); at stop, everything queued.
  void writer_loop() {
    std::unique_lock queue(queue_mu_);
    for (;;) {
      const Clock::time_point now = Clock::now();
      const bool rows_due =
          !later_.empty() && (stop_ || later_.size() >= kQueuedRows || now >= later_due_);
      const bool ends_due = !ends_.empty() && (stop_ || now >= ends_due_);
      if (pending_.empty() && !rows_due && !ends_due) {
        if (stop_) return;
        writer_wakes_at_ = Clock::time_point::max();
        if (!later_.empty()) writer_wakes_at_ = later_due_;
        if (!ends_.empty()) writer_wakes_at_ = std::min(writer_wakes_at_, ends_due_);
        if (writer_wakes_at_ == Clock::time_point::max()) {
          writer_cv_.wait(queue);
        } else {
          writer_cv_.wait_until(queue, writer_wakes_at_);
        }
        writer_wakes_at_ = Clock::time_point::min();
        continue;
      }
      std::vector<std::shared_ptr<PendingWrite>> batch;
      batch.swap(pending_);
      std::vector<RunEnd> ends;
      ends.swap(ends_);
      bool all_rows = stop_;
      for (const auto& p : batch)
        all_rows = all_rows || p->rows == AuditRows::kAll;
      std::vector<AuditRow> rows;
      if (rows_due || all_rows) rows.swap(later_);
      queue.unlock();
      run_batch(ends, rows, all_rows, batch);
      queue.lock();
      if (!ends.empty()) {  // not written: again first in the next batch
        if (ends_.empty()) ends_due_ = Clock::now() + kQueuedFor;
        ends_.insert(ends_.begin(), std::make_move_iterator(ends.begin()),
                     std::make_move_iterator(ends.end()));
      }
      queue.unlock();
      for (const auto& p : batch) {
        {
          std::lock_guard lock(p->mu);
          p->done = true;
        }
        p->cv.notify_one();
      }
      queue.lock();
    }
  }

  // Writes `ends`, `batch` and the audit rows `rows` (and, when `all_rows`, the audit rows
  // of this very batch's run starts and ends) in one transaction and sets each op's result. A
  // refused run end is logged and audited (run_abandoned). Leaves in `ends` those to be
  // written again (every one when the transaction failed), each at most 3 times.
  void run_batch(std::vector<RunEnd>& ends, std::vector<AuditRow>& rows, bool all_rows,
                 const std::vector<std::shared_ptr<PendingWrite>>& batch) {
    std::lock_guard lock(mu_);
    std::vector<size_t> unwritten;  // ends that failed for another reason than a refusal
    Status failure;                 // why the last of them failed
    Status st = begin_write();
    if (st.is_ok()) {
      const bool alone = ends.empty() && rows.empty() && !all_rows && batch.size() == 1;
      staged_.clear();
      for (size_t i = 0; i < ends.size(); ++i) {
        Status written = run_op([&] { return write_end(ends[i]); }, false);
        if (written.code() == Code::kInvalid || written.code() == Code::kNotFound) {
          stage_abandoned(ends[i], written);
        } else if (!written.is_ok()) {
          unwritten.push_back(i);
          failure = written;
        }
      }
      for (const auto& p : batch)
        p->result = run_op(p->op, alone);
      if (alone && !batch.front()->result.is_ok()) {  // nothing else to commit
        rollback_write();
        return;
      }
      if (all_rows) {
        rows.insert(rows.end(), std::make_move_iterator(staged_.begin()),
                    std::make_move_iterator(staged_.end()));
        staged_.clear();
      }
      if (!rows.empty()) {
        Status written = run_op([&] { return insert_audit_rows(rows); }, false);
        if (!written.is_ok())
          spdlog::warn("metastore: {} audit rows are lost: {}", rows.size(), written.message());
      }
      st = commit_write();
    }
    if (st.is_ok()) {
      std::vector<RunEnd> again;
      for (size_t i : unwritten)
        again.push_back(std::move(ends[i]));
      ends = std::move(again);
    } else {
      failure = st;
      if (!rows.empty())
        spdlog::warn("metastore: {} audit rows are lost: {}", rows.size(), st.message());
      for (const auto& p : batch) {
        if (p->result.is_ok()) p->result = st;
      }
    }
    std::erase_if(ends, [&](RunEnd& end) {
      if (++end.failed_writes < 3) return false;
      spdlog::error(
          "metastore: the end of run {} ({}) is lost: {}; the run stays running until a "
          "restart reaps it",
          end.run_id, end.state, failure.message());
      return true;
    });
  }

  // REQUIRES: mu_ held, a transaction open. Runs `op`, in a savepoint of its own unless it is
  // alone in its transaction; on failure its change and its staged audit rows are undone.
  Status run_op(const std::function<Status()>& op, bool alone) {
    const size_t mark = staged_.size();
    Status st = alone ? Status::success() : exec_cached("SAVEPOINT ferry_write");
    if (st.is_ok()) {
      // The op runs on the writer thread, not its caller's: an exception (a JSON dump of
      // invalid UTF-8, memory) must fail the op, not end the process.
      try {
        st = op();
      } catch (const std::exception& e) {
        st = Status::internal("metastore write failed: {}", e.what());
      }
    }
    if (!alone && st.is_ok()) {
      st = exec_cached("RELEASE ferry_write");
    } else if (!alone) {
      (void)exec_cached("ROLLBACK TO ferry_write");
      (void)exec_cached("RELEASE ferry_write");
    }
    if (!st.is_ok()) staged_.resize(mark);
    return st;
  }

  // REQUIRES: mu_ held, a transaction open.
  Status insert_audit_rows(const std::vector<AuditRow>& rows) {
    for (const AuditRow& row : rows)
      FERRY_TRY(insert_audit(row));
    return Status::success();
  }

  // REQUIRES: mu_ held, inside run_batch. A run end finish_run_later queued was refused: the
  // run is no longer this worker's (its lease expired and it was queued again) or is gone.
  void stage_abandoned(const RunEnd& end, const Status& refusal) {
    spdlog::warn("run {}: its end ({}) was not recorded: {}", end.run_id, end.state,
                 refusal.message());
    AuditEvent event =
        abandoned_run_event(end.run_id, end.job_id, end.worker, end.state, refusal.message());
    auto row = render_audit(std::move(event));
    if (row.ok()) staged_.push_back(std::move(row).value());
  }

  // REQUIRES: mu_ held. The hot path's transaction control, by cached statements.
  Status begin_write() { return exec_cached("BEGIN IMMEDIATE"); }
  // On failure the transaction is rolled back. The audit rows staged by a committed
  // transaction are queued (stage_run_events).
  Status commit_write() {
    Status st = exec_cached("COMMIT");
    if (!st.is_ok()) {
      rollback_write();
      staged_.clear();
      return st;
    }
    if (!staged_.empty()) {
      std::lock_guard queue(queue_mu_);
      if (later_.empty()) later_due_ = Clock::now() + kQueuedFor;
      for (AuditRow& row : staged_)
        later_.push_back(std::move(row));
    }
    staged_.clear();
    return st;
  }
  void rollback_write() {
    // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL).
    if (!db_.autocommit()) (void)exec_cached("ROLLBACK");
  }
  // REQUIRES: mu_ held; `sql` a string literal that binds nothing.
  Status exec_cached(const char* sql) {
    FERRY_ASSIGN(SqliteStmt * stmt, cached(sql));
    return stmt->run();
  }

  // REQUIRES: mu_ held, inside run_batch. The audit rows of a run's start or end: a run's
  // start and end commit only the run's row, their audit rows (run_started, load_started,
  // run_finished, ...) follow within ~20 ms, many runs' in one transaction (measured with
  // `ferry serve` on no-op jobs, writing them with each run's change cost half its time: 3
  // rows and 3 index entries each, 2 commits per run). The price: a process killed in those
  // ~20 ms loses those rows (the run rows are right). list_audit and the destructor write
  // them first.
  void stage_run_events(const std::vector<AuditRow>& rows) {
    staged_.insert(staged_.end(), rows.begin(), rows.end());
  }

  // Writes the run ends finish_run_later queued, if any: what a reader of this instance
  // calls first, so that it sees them.
  Status write_pending_ends() {
    {
      std::lock_guard queue(queue_mu_);
      if (ends_.empty()) return Status::success();
    }
    return write([] { return Status::success(); });  // the batch takes the ends along
  }

  std::mutex queue_mu_;  // what follows
  std::vector<std::shared_ptr<PendingWrite>> pending_;
  std::vector<RunEnd> ends_;  // queued by finish_run_later, not written yet
  Clock::time_point ends_due_;
  std::vector<AuditRow> later_;  // committed runs' audit rows, not written yet
  Clock::time_point later_due_;
  // When the writer, waiting, wakes by itself: max() = not before it is notified; min() =
  // it is not waiting.
  Clock::time_point writer_wakes_at_ = Clock::time_point::min();
  std::condition_variable writer_cv_;
  bool stop_ = false;
  std::thread writer_;
  std::vector<AuditRow> staged_;  // guarded by mu_: the run events of the batch being written

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
  // Every use of the connection holds the instance's mutex: SQLite's own is not needed.
  SqliteOptions options;
  options.serialized = false;
  FERRY_ASSIGN(SqliteDb db, SqliteDb::open(path.string(), options));
  // WAL with synchronous=NORMAL: a commit is not fsynced, so bookkeeping (run rows, audit)
  // costs microseconds instead of a disk flush each; a crash of the process loses no commit, a
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
