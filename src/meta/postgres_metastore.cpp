#include "meta/postgres_metastore.h"

#include <charconv>
#include <mutex>
#include <optional>
#include <utility>

#include "core/postgres.h"
#include "core/redact.h"
#include "meta/apply_plan.h"
#include "meta/encoding.h"

namespace ferry::meta {
namespace {

using nlohmann::json;
using Params = std::vector<std::optional<std::string>>;

// Timestamps are ISO 8601 UTC text with milliseconds, as in SQLite: 2026-11-25T12:00:00.123Z.
// The defaults serve rows written by plain SQL (the config table accepts a hand-written
// INSERT).
#define FERRY_NOW "(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"

// Keys of the transaction-level advisory locks: one for migrations, one for apply_version.
constexpr int64_t kMigrateLock = 0x66657272796d6967;  // "ferrymig"
constexpr int64_t kApplyLock = 0x6665727279617070;    // "ferryapp"
// The class (first key) of the per-job advisory locks of claim_next_run; the second key is
// hashtext(job_id).
constexpr int32_t kJobLockClass = 0x6a6f62;  // "job"

// Append-only, like the SQLite migrations (meta/migrations.cpp): migration N here creates
// what migration N there creates. JSON columns are TEXT that must parse as json (kept as
// written, like SQLite's json_valid check; `::jsonb` in a query reads them).
const std::vector<Migration> kMigrations = {
    {1,
     {
         "CREATE TABLE ferry_jobs ("
         "  id TEXT PRIMARY KEY CHECK (id <> ''),"
         "  template TEXT NOT NULL DEFAULT '',"
         "  params TEXT NOT NULL DEFAULT '{}' CHECK (params::json IS NOT NULL),"
         "  spec TEXT NOT NULL DEFAULT '{}' CHECK (spec::json IS NOT NULL),"
         "  enabled BOOLEAN NOT NULL DEFAULT true,"
         "  watermark TEXT NOT NULL DEFAULT '',"
         "  priority INTEGER NOT NULL DEFAULT 0,"
         "  origin TEXT NOT NULL DEFAULT 'sql',"
         "  updated_at TEXT NOT NULL DEFAULT " FERRY_NOW ")",

         "CREATE TABLE ferry_runs ("
         "  id BIGSERIAL PRIMARY KEY,"
         "  job_id TEXT NOT NULL,"
         "  batch_id TEXT NOT NULL DEFAULT '',"
         "  state TEXT NOT NULL DEFAULT 'queued',"
         "  attempt INTEGER NOT NULL DEFAULT 1,"
         "  load_id TEXT NOT NULL DEFAULT '',"
         "  queued_at TEXT NOT NULL DEFAULT " FERRY_NOW ","
         "  started_at TEXT,"
         "  finished_at TEXT,"
         "  rows_read BIGINT NOT NULL DEFAULT 0,"
         "  rows_loaded BIGINT NOT NULL DEFAULT 0,"
         "  rows_rejected BIGINT NOT NULL DEFAULT 0,"
         "  error TEXT NOT NULL DEFAULT '',"
         "  worker TEXT NOT NULL DEFAULT '')",
         "CREATE INDEX ferry_runs_job ON ferry_runs (job_id, id)",
         "CREATE INDEX ferry_runs_state ON ferry_runs (state, id)",
         "CREATE INDEX ferry_runs_batch ON ferry_runs (batch_id, id)",

         "CREATE TABLE ferry_audit ("
         "  id BIGSERIAL PRIMARY KEY,"
         "  time TEXT NOT NULL DEFAULT " FERRY_NOW ","
         "  run_id BIGINT,"
         "  job_id TEXT NOT NULL DEFAULT '',"
         "  level TEXT NOT NULL DEFAULT 'info',"
         "  event TEXT NOT NULL,"
         "  message TEXT NOT NULL DEFAULT '',"
         "  details TEXT NOT NULL DEFAULT '{}' CHECK (details::json IS NOT NULL))",
         "CREATE INDEX ferry_audit_run ON ferry_audit (run_id, id)",
         "CREATE INDEX ferry_audit_job ON ferry_audit (job_id, id)",
         "CREATE INDEX ferry_audit_time ON ferry_audit (time)",

         "CREATE TABLE ferry_control ("
         "  id BIGSERIAL PRIMARY KEY,"
         "  position INTEGER NOT NULL,"
         "  on_event TEXT NOT NULL DEFAULT '',"
         "  rule TEXT NOT NULL CHECK (rule::json IS NOT NULL),"
         "  version BIGINT NOT NULL)",

         // Versions are numbered 1, 2, 3, ... without gaps (max + 1 under the apply lock; a
         // sequence would leave a gap for each rolled-back apply).
         "CREATE TABLE ferry_config_versions ("
         "  version BIGINT PRIMARY KEY,"
         "  applied_at TEXT NOT NULL DEFAULT " FERRY_NOW ","
         "  hash TEXT NOT NULL,"
         "  note TEXT NOT NULL DEFAULT '',"
         "  project TEXT NOT NULL CHECK (project::json IS NOT NULL))",
     }},
    {2,
     {
         "ALTER TABLE ferry_runs ADD COLUMN lease_until TEXT",
         "ALTER TABLE ferry_runs ADD COLUMN retryable INTEGER NOT NULL DEFAULT 0",
         "ALTER TABLE ferry_runs ADD COLUMN definition TEXT NOT NULL DEFAULT '{}' "
         "CHECK (definition::json IS NOT NULL)",
     }},
    {3,
     {
         "ALTER TABLE ferry_runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0",
         "CREATE INDEX ferry_runs_claim ON ferry_runs (state, priority DESC, id)",
     }},
};

#undef FERRY_NOW

// PostgreSQL text holds neither NUL bytes nor invalid UTF-8 (SQLite stores both): each
// becomes U+FFFD, so that a source's bytes in an error message never fail the write.
std::string pg_text(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    bool valid = len > 0 && c != 0 && i + len <= n;
    for (size_t k = 1; valid && k < len; ++k)
      valid = (s[i + k] & 0xC0) == 0x80;
    if (valid && len > 1) {  // no overlong forms, surrogates or code points past U+10FFFF
      uint32_t cp = c & (0xFF >> (len + 1));
      for (size_t k = 1; k < len; ++k)
        cp = (cp << 6) | (s[i + k] & 0x3F);
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      valid = cp >= kMin[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (valid) {
      out.append(in.data() + i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string text(const PgResult& r, int row, int col) {
  return std::string(r.value(row, col));
}

int64_t integer(const PgResult& r, int row, int col) {
  std::string_view v = r.value(row, col);
  int64_t out = 0;
  std::from_chars(v.data(), v.data() + v.size(), out);
  return out;
}

constexpr const char* kJobColumns =
    "id, template, params, spec, enabled, watermark, priority, origin, updated_at";

Result<JobRow> read_job(const PgResult& r, int i) {
  JobRow job;
  job.id = text(r, i, 0);
  job.template_name = text(r, i, 1);
  FERRY_ASSIGN(job.params, parse_json(r.value(i, 2), "params of job '" + job.id + "'"));
  FERRY_ASSIGN(job.spec, parse_json(r.value(i, 3), "spec of job '" + job.id + "'"));
  job.enabled = r.value(i, 4) == "t";
  job.watermark = text(r, i, 5);
  job.priority = static_cast<int>(integer(r, i, 6));
  job.origin = text(r, i, 7);
  job.updated_at = text(r, i, 8);
  return job;
}

constexpr const char* kRunColumns =
    "id, job_id, batch_id, state, attempt, load_id, queued_at, started_at, finished_at, "
    "rows_read, rows_loaded, rows_rejected, error, worker, lease_until, definition, retryable";

Result<RunRow> read_run(const PgResult& r, int i) {
  RunRow run;
  run.id = integer(r, i, 0);
  run.job_id = text(r, i, 1);
  run.batch_id = text(r, i, 2);
  std::string state = text(r, i, 3);
  std::optional<RunState> parsed = parse_run_state(state);
  if (!parsed) return Status::invalid("metastore: run {} has unknown state '{}'", run.id, state);
  run.state = *parsed;
  run.attempt = static_cast<int>(integer(r, i, 4));
  run.load_id = text(r, i, 5);
  run.queued_at = text(r, i, 6);
  run.started_at = text(r, i, 7);  // "" for NULL
  run.finished_at = text(r, i, 8);
  run.rows_read = integer(r, i, 9);
  run.rows_loaded = integer(r, i, 10);
  run.rows_rejected = integer(r, i, 11);
  run.error = text(r, i, 12);
  run.worker = text(r, i, 13);
  run.lease_until = text(r, i, 14);
  FERRY_ASSIGN(run.definition,
               parse_json(r.value(i, 15), fmt::format("definition of run {}", run.id)));
  run.retryable = integer(r, i, 16) != 0;
  return run;
}

constexpr const char* kAuditColumns = "id, time, run_id, job_id, level, event, message, details";

Result<AuditEvent> read_audit(const PgResult& r, int i) {
  AuditEvent event;
  event.id = integer(r, i, 0);
  event.time = text(r, i, 1);
  event.run_id = r.is_null(i, 2) ? 0 : integer(r, i, 2);
  event.job_id = text(r, i, 3);
  event.level = text(r, i, 4);
  event.event = text(r, i, 5);
  event.message = text(r, i, 6);
  FERRY_ASSIGN(event.details,
               parse_json(r.value(i, 7), fmt::format("details of audit row {}", event.id)));
  return event;
}

constexpr const char* kVersionColumns = "version, applied_at, hash, note";

ConfigVersion read_version(const PgResult& r, int i) {
  ConfigVersion version;
  version.version = integer(r, i, 0);
  version.applied_at = text(r, i, 1);
  version.hash = text(r, i, 2);
  version.note = text(r, i, 3);
  return version;
}

template <typename T, typename Read>
Result<std::vector<T>> read_all(const PgResult& r, Read read) {
  std::vector<T> rows;
  rows.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    FERRY_ASSIGN(T row, read(r, i));
    rows.push_back(std::move(row));
  }
  return rows;
}

const Status& status_of(const Status& s) {
  return s;
}
template <typename T>
const Status& status_of(const Result<T>& r) {
  return r.status();
}

// BEGIN ... COMMIT on one connection; rolled back by the destructor unless committed.
class PgTransaction {
 public:
  static Result<PgTransaction> begin(PgConn& conn) {
    FERRY_TRY(conn.exec("BEGIN"));
    return PgTransaction(&conn);
  }
  PgTransaction(PgTransaction&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
  PgTransaction& operator=(PgTransaction&&) = delete;
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;
  ~PgTransaction() {
    if (conn_ != nullptr && conn_->in_transaction()) (void)conn_->exec("ROLLBACK");
  }
  Status commit() { return std::exchange(conn_, nullptr)->exec("COMMIT"); }

 private:
  explicit PgTransaction(PgConn* conn) : conn_(conn) {}
  PgConn* conn_;
};

Result<PgConn> connect_metastore(const PgConnectOptions& options) {
  auto conn = PgConn::connect(options);
  if (!conn.ok()) return conn.status().with_context("metastore");
  return conn;
}

Status advisory_lock(PgConn& conn, int64_t key) {
  return conn.query("SELECT pg_advisory_xact_lock($1)", {std::to_string(key)}).status();
}

// The database's schema version: 0 without ferry_schema.
Result<int> schema_version(PgConn& conn) {
  FERRY_ASSIGN(PgResult exists, conn.query("SELECT to_regclass('ferry_schema') IS NOT NULL"));
  if (exists.value(0, 0) != "t") return 0;
  FERRY_ASSIGN(PgResult max, conn.query("SELECT coalesce(max(version), 0) FROM ferry_schema"));
  return static_cast<int>(integer(max, 0, 0));
}

Status migrate(PgConn& conn, const std::vector<Migration>& migrations) {
  FERRY_TRY(check_numbering(migrations));
  FERRY_ASSIGN(int current, schema_version(conn));
  FERRY_TRY(check_not_newer(conn.name(), current, migrations));
  for (const Migration& migration : migrations) {
    if (migration.version <= current) continue;
    FERRY_ASSIGN(PgTransaction txn, PgTransaction::begin(conn));
    // Another process may be migrating: wait for it, then decide inside the transaction.
    FERRY_TRY(advisory_lock(conn, kMigrateLock));
    FERRY_TRY(
        conn.exec("CREATE TABLE IF NOT EXISTS ferry_schema ("
                  "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"));
    FERRY_ASSIGN(current, schema_version(conn));
    FERRY_TRY(check_not_newer(conn.name(), current, migrations));
    if (migration.version <= current) continue;
    for (const std::string& sql : migration.statements) {
      FERRY_TRY(
          conn.exec(sql).with_context(fmt::format("metastore migration {}", migration.version)));
    }
    FERRY_TRY(conn.query("INSERT INTO ferry_schema (version, applied_at) VALUES ($1, $2)",
                         {std::to_string(migration.version), now_iso8601()})
                  .status());
    FERRY_TRY(txn.commit());
    current = migration.version;
  }
  return Status::success();
}

class PostgresMetastore final : public Metastore {
 public:
  PostgresMetastore(PgConnectOptions options, PgConn conn)
      : options_(std::move(options)), conn_(std::move(conn)), worker_(worker_name()) {}

  Result<std::vector<JobRow>> list_jobs() override {
    return with_conn([&](PgConn& c) { return select_jobs(c, "", {}); });
  }

  Result<std::string> config_stamp() override {
    return with_conn([&](PgConn& c) -> Result<std::string> {
      FERRY_ASSIGN(
          PgResult r,
          c.query("SELECT (SELECT COALESCE(MAX(version), 0) FROM ferry_config_versions)::text"
                  " || '/' || COUNT(*) || '/' || COALESCE(MAX(updated_at), '') || '/' || "
                  "COUNT(*) FILTER (WHERE enabled) || '/' || COALESCE(SUM(length(id)), 0) "
                  "FROM ferry_jobs"));
      if (r.rows() == 0) return std::string();
      return std::string(r.value(0, 0));
    });
  }

  Result<std::optional<JobRow>> get_job(const std::string& id) override {
    return with_conn([&](PgConn& c) -> Result<std::optional<JobRow>> {
      FERRY_ASSIGN(std::vector<JobRow> jobs, select_jobs(c, " WHERE id = $1", {pg_text(id)}));
      if (jobs.empty()) return std::optional<JobRow>();
      return std::optional<JobRow>(std::move(jobs.front()));
    });
  }

  Status put_job(const JobRow& job) override {
    FERRY_TRY(check_job(job));
    return with_conn([&](PgConn& c) {
      return c
          .query(
              "INSERT INTO ferry_jobs (id, template, params, spec, enabled, watermark, "
              "priority, origin, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
              "ON CONFLICT (id) DO UPDATE SET template = excluded.template, "
              "params = excluded.params, spec = excluded.spec, enabled = excluded.enabled, "
              "watermark = excluded.watermark, priority = excluded.priority, "
              "origin = excluded.origin, updated_at = excluded.updated_at",
              {pg_text(job.id), pg_text(job.template_name), dump_json(job.params),
               dump_json(job.spec), job.enabled ? "true" : "false", pg_text(job.watermark),
               std::to_string(job.priority), job.origin, now_iso8601()})
          .status();
    });
  }

  Status delete_job(const std::string& id) override {
    return with_conn([&](PgConn& c) {
      return update_job(c, id, "DELETE FROM ferry_jobs WHERE id = $1", {pg_text(id)});
    });
  }

  Status set_enabled(const std::string& id, bool enabled) override {
    return with_conn([&](PgConn& c) {
      return update_job(c, id, "UPDATE ferry_jobs SET enabled = $1, updated_at = $2 WHERE id = $3",
                        {enabled ? "true" : "false", now_iso8601(), pg_text(id)});
    });
  }

  Status set_watermark(const std::string& id, const std::string& watermark) override {
    return with_conn([&](PgConn& c) {
      return update_job(c, id, "UPDATE ferry_jobs SET watermark = $1 WHERE id = $2",
                        {pg_text(watermark), pg_text(id)});
    });
  }

  Result<int64_t> apply_version(const json& project, const std::vector<JobRow>& jobs,
                                const std::string& note) override {
    // Everything that can be checked without the database, before any write.
    FERRY_ASSIGN(ApplyInput input, check_apply(project, jobs));
    return with_conn([&](PgConn& c) -> Result<int64_t> {
      FERRY_ASSIGN(PgTransaction txn, PgTransaction::begin(c));
      // One apply at a time across every process: each reads the config table after the
      // previous one committed (READ COMMITTED reads anew for each statement).
      FERRY_TRY(advisory_lock(c, kApplyLock));
      FERRY_ASSIGN(std::vector<JobRow> existing, select_jobs(c, "", {}));
      ApplyPlan plan = plan_apply(std::move(existing), input);

      const std::string now = now_iso8601();
      FERRY_ASSIGN(
          PgResult inserted,
          c.query("INSERT INTO ferry_config_versions (version, applied_at, hash, note, "
                  "project) SELECT coalesce(max(version), 0) + 1, $1, $2, $3, $4 "
                  "FROM ferry_config_versions RETURNING version",
                  {now, fnv1a64_hex(input.project_text), pg_text(note), input.project_text}));
      const int64_t version = integer(inserted, 0, 0);

      for (const std::string& id : plan.remove) {
        FERRY_TRY(c.query("DELETE FROM ferry_jobs WHERE id = $1", {pg_text(id)}).status());
      }
      for (const ApplyPlan::Write& w : plan.write) {
        const JobRow& job = *w.job;
        FERRY_TRY(c.query("INSERT INTO ferry_jobs (id, template, params, spec, enabled, "
                          "watermark, priority, origin, updated_at) "
                          "VALUES ($1, $2, $3, $4, $5, $6, $7, 'apply', $8) "
                          "ON CONFLICT (id) DO UPDATE SET template = excluded.template, "
                          "params = excluded.params, spec = excluded.spec, "
                          "enabled = excluded.enabled, watermark = excluded.watermark, "
                          "priority = excluded.priority, origin = excluded.origin, "
                          "updated_at = excluded.updated_at",
                          {pg_text(job.id), pg_text(job.template_name), dump_json(job.params),
                           dump_json(job.spec), job.enabled ? "true" : "false",
                           pg_text(w.watermark), std::to_string(job.priority), now})
                      .status());
      }

      FERRY_TRY(c.exec("DELETE FROM ferry_control"));
      for (size_t i = 0; i < input.rules.size(); ++i) {
        FERRY_TRY(c.query("INSERT INTO ferry_control (position, on_event, rule, version) "
                          "VALUES ($1, $2, $3, $4)",
                          {std::to_string(i), pg_text(control_rule_event(input.rules[i])),
                           dump_json(input.rules[i]), std::to_string(version)})
                      .status());
      }

      FERRY_TRY(insert_audit(c, config_applied_event(version, note, std::move(plan))));
      FERRY_TRY(txn.commit());
      return version;
    });
  }

  Result<std::optional<ConfigVersion>> current_version() override {
    return with_conn(
        [&](PgConn& c) { return select_version(c, "ORDER BY version DESC LIMIT 1", {}); });
  }

  Result<std::optional<ConfigVersion>> get_version(int64_t version) override {
    return with_conn([&](PgConn& c) {
      return select_version(c, "WHERE version = $1", {std::to_string(version)});
    });
  }

  Result<std::vector<ConfigVersion>> list_versions() override {
    return with_conn([&](PgConn& c) -> Result<std::vector<ConfigVersion>> {
      FERRY_ASSIGN(PgResult r, c.query(fmt::format("SELECT {} FROM ferry_config_versions "
                                                   "ORDER BY version DESC",
                                                   kVersionColumns)));
      return read_all<ConfigVersion>(r, [](const PgResult& res, int i) -> Result<ConfigVersion> {
        return read_version(res, i);
      });
    });
  }

  using Metastore::claim_next_run;
  using Metastore::create_run;

  Result<int64_t> create_run(const NewRun& run) override {
    if (run.job_id.empty()) return Status::invalid("create_run: empty job id");
    if (run.attempt < 1) return Status::invalid("create_run: attempt {} < 1", run.attempt);
    return with_conn([&](PgConn& c) -> Result<int64_t> {
      FERRY_ASSIGN(
          PgResult r,
          c.query("INSERT INTO ferry_runs (job_id, batch_id, state, attempt, queued_at, "
                  "load_id, definition, priority) VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7) "
                  "RETURNING id",
                  {pg_text(run.job_id), pg_text(run.batch_id), std::to_string(run.attempt),
                   now_iso8601(), pg_text(run.load_id), pg_text(dump_json(run.definition)),
                   std::to_string(run.priority)}));
      return integer(r, 0, 0);
    });
  }

  using Metastore::finish_run;
  using Metastore::start_run;

  Status start_run(int64_t run_id, const std::string& load_id,
                   std::vector<AuditEvent> events) override {
    return with_conn([&](PgConn& c) -> Status {
      std::optional<PgTransaction> txn;
      if (!events.empty()) {
        auto begun = PgTransaction::begin(c);
        if (!begun.ok()) return begun.status();
        txn.emplace(std::move(begun).value());
      }
      FERRY_ASSIGN(PgResult r,
                   c.query("UPDATE ferry_runs SET state = 'running', started_at = $1, "
                           "load_id = CASE WHEN load_id = '' THEN $2 ELSE load_id END, "
                           "worker = $3 WHERE id = $4 AND state = 'queued' RETURNING id",
                           {now_iso8601(), pg_text(load_id), worker_, std::to_string(run_id)}));
      if (r.rows() != 1) return unchanged_run(c, run_id, "start");
      for (const AuditEvent& e : events)
        FERRY_TRY(insert_audit(c, e));
      return txn ? txn->commit() : Status::success();
    });
  }

  Status finish_run(const RunRow& run, std::vector<AuditEvent> events) override {
    if (!is_final(run.state)) {
      return Status::invalid("finish_run: run {} cannot finish as '{}'", run.id,
                             run_state_name(run.state));
    }
    return with_conn([&](PgConn& c) -> Status {
      std::optional<PgTransaction> txn;
      if (!events.empty()) {
        auto begun = PgTransaction::begin(c);
        if (!begun.ok()) return begun.status();
        txn.emplace(std::move(begun).value());
      }
      FERRY_ASSIGN(
          PgResult r,
          c.query("UPDATE ferry_runs SET state = $1, rows_read = $2, rows_loaded = $3, "
                  "rows_rejected = $4, error = $5, finished_at = $6, lease_until = NULL, "
                  "retryable = $9 WHERE id = $7 AND "
                  "(state = 'queued' OR (state = 'running' AND ($8 = '' OR worker = $8))) "
                  "RETURNING id",
                  {run_state_name(run.state), std::to_string(run.rows_read),
                   std::to_string(run.rows_loaded), std::to_string(run.rows_rejected),
                   pg_text(redact(run.error)),
                   run.finished_at.empty() ? now_iso8601() : pg_text(run.finished_at),
                   std::to_string(run.id), pg_text(run.worker), run.retryable ? "1" : "0"}));
      if (r.rows() != 1) return unchanged_run(c, run.id, "finish");
      for (const AuditEvent& e : events)
        FERRY_TRY(insert_audit(c, e));
      return txn ? txn->commit() : Status::success();
    });
  }

  Result<std::optional<RunRow>> claim_next_run(const std::string& worker,
                                               std::chrono::milliseconds lease) override {
    return with_conn([&](PgConn& c) -> Result<std::optional<RunRow>> {
      FERRY_ASSIGN(PgTransaction txn, PgTransaction::begin(c));
      // Candidates, row-locked; rows another claimer holds are skipped, not waited for.
      FERRY_ASSIGN(PgResult candidates,
                   c.query("SELECT id, job_id FROM ferry_runs AS r WHERE state = 'queued' AND "
                           "job_id NOT LIKE 'transform:%' AND NOT EXISTS (SELECT 1 FROM ferry_runs "
                           "AS x WHERE x.job_id = r.job_id "
                           "AND x.state = 'running') ORDER BY priority DESC, id LIMIT 16 "
                           "FOR UPDATE SKIP LOCKED"));
      for (int i = 0; i < candidates.rows(); ++i) {
        const std::string id = text(candidates, i, 0);
        const std::string job = text(candidates, i, 1);
        // One claimer per job at a time, until its transaction ends; then look again (a new
        // statement sees what the previous holder committed): a job never runs twice.
        FERRY_ASSIGN(PgResult locked, c.query("SELECT pg_try_advisory_xact_lock($1, hashtext($2))",
                                              {std::to_string(kJobLockClass), pg_text(job)}));
        if (locked.value(0, 0) != "t") continue;
        FERRY_ASSIGN(PgResult busy, c.query("SELECT 1 FROM ferry_runs WHERE job_id = $1 AND "
                                            "state = 'running' LIMIT 1",
                                            {pg_text(job)}));
        if (busy.rows() > 0) continue;
        FERRY_ASSIGN(
            PgResult r,
            c.query(fmt::format("UPDATE ferry_runs SET state = 'running', started_at = $1, "
                                "worker = $2, lease_until = NULLIF($3, ''), load_id = CASE WHEN "
                                "load_id = '' THEN id || '-' || substr(md5(random()::text), 1, "
                                "8) ELSE load_id END WHERE id = $4 AND state = 'queued' "
                                "RETURNING {}",
                                kRunColumns),
                    {now_iso8601(), worker.empty() ? worker_ : pg_text(worker), lease_text(lease),
                     id}));
        FERRY_ASSIGN(std::vector<RunRow> runs, read_all<RunRow>(r, read_run));
        if (runs.empty()) continue;
        FERRY_TRY(txn.commit());
        return std::optional<RunRow>(std::move(runs.front()));
      }
      FERRY_TRY(txn.commit());
      return std::optional<RunRow>();
    });
  }

  Result<std::vector<int64_t>> renew_leases(const std::string& worker,
                                            std::chrono::milliseconds lease) override {
    return with_conn([&](PgConn& c) -> Result<std::vector<int64_t>> {
      FERRY_ASSIGN(PgResult r,
                   c.query("UPDATE ferry_runs SET lease_until = NULLIF($1, '') WHERE state = "
                           "'running' AND worker = $2 RETURNING id",
                           {lease_text(lease), worker.empty() ? worker_ : pg_text(worker)}));
      std::vector<int64_t> ids;
      for (int i = 0; i < r.rows(); ++i)
        ids.push_back(integer(r, i, 0));
      return ids;
    });
  }

  Result<std::vector<RunRow>> requeue_expired_runs() override {
    return with_conn([&](PgConn& c) -> Result<std::vector<RunRow>> {
      FERRY_ASSIGN(PgTransaction txn, PgTransaction::begin(c));
      FERRY_ASSIGN(PgResult r, c.query(fmt::format("SELECT {} FROM ferry_runs WHERE state = "
                                                   "'running' AND lease_until < $1 ORDER BY id "
                                                   "FOR UPDATE SKIP LOCKED",
                                                   kRunColumns),
                                       {now_iso8601()}));
      FERRY_ASSIGN(std::vector<RunRow> runs, read_all<RunRow>(r, read_run));
      for (const RunRow& run : runs) {
        FERRY_TRY(c.query("UPDATE ferry_runs SET state = 'queued', worker = '', started_at = "
                          "NULL, lease_until = NULL WHERE id = $1",
                          {std::to_string(run.id)})
                      .status());
      }
      FERRY_TRY(txn.commit());
      return runs;
    });
  }

  Result<std::optional<RunRow>> get_run(int64_t run_id) override {
    return with_conn([&](PgConn& c) { return select_run(c, run_id); });
  }

  Result<std::vector<RunRow>> list_runs(const RunFilter& filter) override {
    std::string where;
    Params params;
    auto add = [&](const char* column, std::string value) {
      params.push_back(std::move(value));
      add_condition(where, fmt::format("{} = ${}", column, params.size()));
    };
    if (!filter.job_id.empty()) add("job_id", pg_text(filter.job_id));
    if (!filter.batch_id.empty()) add("batch_id", pg_text(filter.batch_id));
    if (filter.state) add("state", run_state_name(*filter.state));
    const std::string sql = fmt::format("SELECT {} FROM ferry_runs{} ORDER BY id DESC{}",
                                        kRunColumns, where, limit_clause(filter.limit));
    return with_conn([&](PgConn& c) -> Result<std::vector<RunRow>> {
      FERRY_ASSIGN(PgResult r, c.query(sql, params));
      return read_all<RunRow>(r, read_run);
    });
  }

  Status audit(AuditEvent event) override {
    return with_conn([&](PgConn& c) { return insert_audit(c, event); });
  }

  Result<std::vector<AuditEvent>> list_audit(const AuditFilter& filter) override {
    std::string where;
    Params params;
    auto add = [&](const char* column, std::string value) {
      params.push_back(std::move(value));
      add_condition(where, fmt::format("{} = ${}", column, params.size()));
    };
    if (!filter.job_id.empty()) add("job_id", pg_text(filter.job_id));
    if (filter.run_id != 0) add("run_id", std::to_string(filter.run_id));
    if (!filter.since.empty()) {
      params.push_back(pg_text(filter.since));
      add_condition(where, fmt::format("time >= ${}", params.size()));
    }
    const std::string sql = fmt::format("SELECT {} FROM ferry_audit{} ORDER BY id DESC{}",
                                        kAuditColumns, where, limit_clause(filter.limit));
    return with_conn([&](PgConn& c) -> Result<std::vector<AuditEvent>> {
      FERRY_ASSIGN(PgResult r, c.query(sql, params));
      return read_all<AuditEvent>(r, read_audit);
    });
  }

  Result<json> control_rules() override {
    return with_conn([&](PgConn& c) -> Result<json> {
      FERRY_ASSIGN(PgResult r,
                   c.query("SELECT position, rule FROM ferry_control ORDER BY position"));
      json rules = json::array();
      for (int i = 0; i < r.rows(); ++i) {
        FERRY_ASSIGN(json rule,
                     parse_json(r.value(i, 1), fmt::format("control rule {}", r.value(i, 0))));
        rules.push_back(std::move(rule));
      }
      return rules;
    });
  }

 private:
  // Runs `work` on the connection, holding mu_. When the connection is (or turns out) broken
  // -- the server restarted, the session was terminated -- reconnects and runs `work` once
  // more. A statement whose reply was lost may thus run twice; every write here is either
  // guarded by the row's state or harmless to repeat, except create_run and audit, which may
  // then leave one extra row.
  template <typename Work>
  auto with_conn(Work&& work) -> decltype(work(std::declval<PgConn&>())) {
    std::lock_guard guard(mu_);
    if (!conn_.connected()) FERRY_TRY(reconnect());
    auto result = work(conn_);
    if (status_of(result).is_ok() || conn_.connected()) return result;
    FERRY_TRY(reconnect());
    return work(conn_);
  }

  // REQUIRES: mu_ held.
  Status reconnect() {
    FERRY_ASSIGN(conn_, connect_metastore(options_));
    return Status::success();
  }

  static Result<std::vector<JobRow>> select_jobs(PgConn& c, const std::string& where,
                                                 const Params& params) {
    FERRY_ASSIGN(PgResult r,
                 c.query(fmt::format("SELECT {} FROM ferry_jobs{} ORDER BY id", kJobColumns, where),
                         params));
    return read_all<JobRow>(r, read_job);
  }

  // Runs `sql` (which changes the job `id`); kNotFound when it changed no row.
  static Status update_job(PgConn& c, const std::string& id, const std::string& sql,
                           const Params& params) {
    FERRY_ASSIGN(PgResult r, c.query(sql + " RETURNING id", params));
    if (r.rows() == 0) return Status::not_found("job '{}' does not exist", id);
    return Status::success();
  }

  static Result<std::optional<ConfigVersion>> select_version(PgConn& c, const char* clause,
                                                             const Params& params) {
    FERRY_ASSIGN(PgResult r, c.query(fmt::format("SELECT {}, project FROM ferry_config_versions {}",
                                                 kVersionColumns, clause),
                                     params));
    if (r.rows() == 0) return std::optional<ConfigVersion>();
    ConfigVersion found = read_version(r, 0);
    FERRY_ASSIGN(found.project, parse_json(r.value(0, 4), fmt::format("project of config "
                                                                      "version {}",
                                                                      found.version)));
    return std::optional<ConfigVersion>(std::move(found));
  }

  static Result<std::optional<RunRow>> select_run(PgConn& c, int64_t run_id) {
    FERRY_ASSIGN(PgResult r,
                 c.query(fmt::format("SELECT {} FROM ferry_runs WHERE id = $1", kRunColumns),
                         {std::to_string(run_id)}));
    FERRY_ASSIGN(std::vector<RunRow> runs, read_all<RunRow>(r, read_run));
    if (runs.empty()) return std::optional<RunRow>();
    return std::optional<RunRow>(std::move(runs.front()));
  }

  // Why an UPDATE guarded by the run's state changed nothing.
  static Status unchanged_run(PgConn& c, int64_t run_id, const char* action) {
    FERRY_ASSIGN(std::optional<RunRow> run, select_run(c, run_id));
    if (!run) return Status::not_found("run {} does not exist", run_id);
    if (run->state == RunState::kRunning) {
      return Status::invalid("cannot {} run {}: it is running on worker {}", action, run_id,
                             run->worker);
    }
    return Status::invalid("cannot {} run {}: it is {}", action, run_id,
                           run_state_name(run->state));
  }

  static Status insert_audit(PgConn& c, const AuditEvent& event) {
    FERRY_TRY(check_audit(event));
    return c
        .query(
            "INSERT INTO ferry_audit (time, run_id, job_id, level, event, message, details) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            {event.time.empty() ? now_iso8601() : pg_text(event.time),
             event.run_id == 0 ? std::nullopt : std::optional(std::to_string(event.run_id)),
             pg_text(event.job_id), event.level, pg_text(event.event),
             pg_text(redact(event.message)),
             dump_json(event.details.is_null() ? json::object() : redact_json(event.details))})
        .status();
  }

  const PgConnectOptions options_;
  std::mutex mu_;
  PgConn conn_;  // guarded by mu_
  const std::string worker_;
};

}  // namespace

const std::vector<Migration>& postgres_metastore_migrations() {
  return kMigrations;
}

Result<std::unique_ptr<Metastore>> open_postgres_metastore(const std::string& url) {
  PgConnectOptions options;
  options.url = url;
  auto conn = connect_metastore(options);
  if (!conn.ok()) return conn.status();
  FERRY_TRY(migrate(conn.value(), kMigrations).with_context("metastore"));
  return std::unique_ptr<Metastore>(
      std::make_unique<PostgresMetastore>(std::move(options), std::move(conn).value()));
}

}  // namespace ferry::meta
