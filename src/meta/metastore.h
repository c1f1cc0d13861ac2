// Metastore: ferry's own tables, separate from the warehouse.
//
//   ferry_jobs             the config table: one row per job (template + params, or an
//                          inline spec), enabled flag, watermark (a copy of the warehouse's
//                          committed state, for display), priority, origin (apply | cli | api)
//   ferry_runs             the job execution table: one row per run attempt
//   ferry_audit            every crucial event, one row each
//   ferry_control          what happens after a batch (e-mail, webhook)
//   ferry_config_versions  each `ferry apply` of the project files, for rollback
//   ferry_schema           the metastore's own schema version (migrations)
//
// One schema, two backends with the same tables, columns and migrations: SQLite (embedded
// default, .ferry/meta.db; meta/sqlite_metastore.h) and PostgreSQL, for several workers on
// several hosts sharing one metastore (meta/postgres_metastore.h). Both return identical rows
// (timestamps are ISO 8601 UTC text with milliseconds: 2026-11-25T12:00:00.123Z). Every
// method is safe to call from any thread (each backend serialises on one connection per
// instance; several processes may share one SQLite file or one PostgreSQL database, and
// claiming a queued run is safe across them). Failures are returned, never thrown. Text given
// to audit() is redacted (core/redact.h) before it is stored.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace ferry {

struct JobRow {
  std::string id;
  std::string template_name;                         // "" for an inline job
  nlohmann::json params = nlohmann::json::object();  // template parameters
  nlohmann::json spec = nlohmann::json::object();    // inline job definition (or overrides)
  bool enabled = true;
  std::string watermark;         // last committed watermark, "" when none
  int priority = 0;              // higher runs first within a batch
  std::string origin = "apply";  // apply | cli | api | sql (a hand-written INSERT):
                                 // apply replaces only its own rows
  std::string updated_at;        // ISO 8601 UTC, set by the metastore when the definition or
                                 // the enabled flag changes (not the watermark)
};

enum class RunState { kQueued, kRunning, kSucceeded, kFailed, kCancelled, kSkipped };
const char* run_state_name(RunState s);
std::optional<RunState> parse_run_state(const std::string& s);

struct RunRow {
  int64_t id = 0;
  std::string job_id;
  std::string batch_id;  // runs started together share a batch id
  RunState state = RunState::kQueued;
  int attempt = 1;
  std::string load_id;
  std::string queued_at, started_at, finished_at;  // ISO 8601 UTC, "" when not yet
  int64_t rows_read = 0, rows_loaded = 0, rows_rejected = 0;
  std::string error;
  bool retryable = false;   // failed for a transient reason: the scheduler may try again
  std::string worker;       // host:pid that ran it
  std::string lease_until;  // ISO 8601 UTC; "" = no lease (see claim_next_run)
  // The run's own job definition ({template, params, spec, priority}), when it differs from
  // the config table's (an S3 event's keys): {} = the job as configured.
  nlohmann::json definition = nlohmann::json::object();
};

// A run to queue (create_run).
struct NewRun {
  std::string job_id;
  std::string batch_id;
  int attempt = 1;
  std::string load_id;                                   // "" = chosen when the run starts
  nlohmann::json definition = nlohmann::json::object();  // RunRow::definition
  int priority = 0;  // the job's: claim_next_run takes higher first
};

struct AuditEvent {
  int64_t id = 0;
  std::string time;    // set by the metastore when empty
  int64_t run_id = 0;  // 0 when not about a run
  std::string job_id;
  std::string level = "info";  // info | warn | error
  std::string event;           // run_started, rows_loaded, schema_changed, rejects, run_finished,
                               // config_applied, job_added, ...
  std::string message;
  nlohmann::json details = nlohmann::json::object();
};

struct ConfigVersion {
  int64_t version = 0;
  std::string applied_at;
  std::string hash;        // of the applied project content: FNV-1a 64 of project.dump(), hex
  std::string note;        // "apply", "rollback to 3"
  nlohmann::json project;  // the whole project: connections, templates, jobs, transforms, control
};

struct AuditFilter {
  std::string job_id;  // "" = all
  int64_t run_id = 0;  // 0 = all
  std::string since;   // ISO 8601 UTC: rows at or after it ("" = all)
  int limit = 100;     // <= 0 = no limit
};

struct RunFilter {
  std::string job_id;             // "" = all
  std::string batch_id;           // "" = all
  std::optional<RunState> state;  // nullopt = all
  int limit = 50;                 // <= 0 = no limit
};

class Metastore {
 public:
  virtual ~Metastore() = default;

  // Config table. list_jobs orders by id; put_job fails with kInvalid for an empty id or an
  // unknown origin; delete_job, set_enabled and set_watermark fail with kNotFound for an
  // unknown id.
  virtual Result<std::vector<JobRow>> list_jobs() = 0;
  virtual Result<std::optional<JobRow>> get_job(const std::string& id) = 0;
  // A short text that changes whenever the config (current version, or any job's id,
  // definition or enabled flag) changes, and not when only watermarks or runs do: a cheap
  // poll for `ferry serve`'s hot reload (one aggregate query instead of reading every row).
  virtual Result<std::string> config_stamp() = 0;
  // Inserts or replaces the row with this id.
  virtual Status put_job(const JobRow& job) = 0;
  virtual Status delete_job(const std::string& id) = 0;
  virtual Status set_enabled(const std::string& id, bool enabled) = 0;
  virtual Status set_watermark(const std::string& id, const std::string& watermark) = 0;

  // Config versions. apply_version stores `project` as a new version and, in the same
  // transaction, replaces every job with origin "apply" by `jobs` (rows added by hand,
  // origin cli/api/sql, survive: a job of `jobs` with such a row's id is left out, that row
  // is kept as it is) and the control table by project["control"] (an array of objects, or
  // absent), and audits 'config_applied' with details {version, jobs_added, jobs_removed,
  // jobs_changed, jobs_kept} (sorted id lists). A re-applied job keeps the watermark its
  // existing row has reached (the job's own watermark serves only when the row has none) and,
  // when unchanged, its updated_at. Fails with kInvalid, changing nothing, when two jobs share
  // an id or the control rules are not a list of objects. `project` should hold ${ENV}
  // references, not resolved secrets: it is stored as given, for rollback.
  virtual Result<int64_t> apply_version(const nlohmann::json& project,
                                        const std::vector<JobRow>& jobs,
                                        const std::string& note) = 0;
  virtual Result<std::optional<ConfigVersion>> current_version() = 0;
  virtual Result<std::optional<ConfigVersion>> get_version(int64_t version) = 0;
  virtual Result<std::vector<ConfigVersion>> list_versions() = 0;  // newest first, no project

  // Job execution table. create_run queues a run (queued_at now). start_run moves a queued
  // run to running (started_at, worker = host:pid, load_id unless the run has one already:
  // a requeued run keeps the load id its lost worker may have committed) and fails with kInvalid
  // when it is not queued (another worker took it), kNotFound when it does not exist. finish_run
  // takes a final state (not queued/running: kInvalid), the counts and the error (redacted)
  // of a queued or running run; finished_at is run.finished_at or now. When run.worker is
  // not empty, a running run must be running on that worker (the claim is checked: kInvalid
  // when another worker has it). Either way a run is finished at most once: kInvalid when it
  // is already final, kNotFound when it does not exist.
  virtual Result<int64_t> create_run(const NewRun& run) = 0;
  Result<int64_t> create_run(const std::string& job_id, const std::string& batch_id, int attempt) {
    return create_run(NewRun{job_id, batch_id, attempt, "", nlohmann::json::object()});
  }
  // `events` (audit rows, as audit() writes them) are written only when the change is made:
  // PostgreSQL writes them in its transaction; SQLite, for throughput, right after it (within
  // ~20 ms, many runs' rows in one transaction; list_audit writes the waiting ones first, so
  // a reader of this instance sees them; a process killed in those ms loses them).
  virtual Status start_run(int64_t run_id, const std::string& load_id,
                           std::vector<AuditEvent> events) = 0;
  Status start_run(int64_t run_id, const std::string& load_id) {
    return start_run(run_id, load_id, {});
  }
  // state, counts, error, finished_at
  virtual Status finish_run(const RunRow& run, std::vector<AuditEvent> events) = 0;
  Status finish_run(const RunRow& run) { return finish_run(run, {}); }
  // finish_run for a caller that needs no answer (`ferry serve` recording a run that
  // succeeded): the same change, checks and events, but the caller does not wait for it.
  // When the change is refused (the run is no longer run.worker's: its lease expired and it
  // was queued again, so its new holder records it) that is logged and audited as
  // run_abandoned instead. PostgreSQL writes it at once. SQLite, for throughput, queues it:
  // it is written first in the next write of this instance (typically the worker's next
  // start_run, which then costs one commit for both: 1.4x the runs/s of `ferry serve` on
  // no-op jobs), or else within ~20 ms; every read of runs or audit rows of this instance
  // (get_run, list_runs, list_audit, claim_next_run) writes the queued ends first, so a
  // reader of this instance sees them, and other processes see them within those ~20 ms.
  // Since whatever this instance writes next is written after the end, a job never looks
  // running twice. The price: a process killed before the end is written (those ~20 ms at
  // most) loses it, with its audit rows; the run then looks `running` on a dead worker, and
  // the next start marks it failed and retries it per its job's retries (reap_dead_runs),
  // with the same load id, so the load it committed is not loaded again. The destructor
  // writes what is queued.
  virtual void finish_run_later(const RunRow& run, std::vector<AuditEvent> events);
  // For several workers sharing the queue: atomically moves the queued run of the highest
  // priority (NewRun::priority), the oldest (lowest id) of those, whose job has no running run
  // (transforms' runs, `transform:<id>`, excepted: the process that finishes a batch runs them) to
  // running (started_at now, worker = `worker`, or host:pid when it is empty; a load id `<id>-<8
  // hex>` when it has none; lease_until now + `lease`, or none when `lease` is 0) and returns it as
  // it now is; nullopt when no run can be claimed. Never hands one run to two callers, nor two runs
  // of one job, whichever process or connection they call from (SQLite: one write transaction;
  // PostgreSQL: SELECT
  // ... FOR UPDATE SKIP LOCKED and a per-job advisory lock, so claimers do not wait on each
  // other). The claimer keeps the lease with renew_leases and finishes the run with
  // finish_run (run.worker = worker).
  virtual Result<std::optional<RunRow>> claim_next_run(const std::string& worker,
                                                       std::chrono::milliseconds lease) = 0;
  Result<std::optional<RunRow>> claim_next_run(const std::string& worker) {
    return claim_next_run(worker, std::chrono::milliseconds(0));
  }
  // Extends to now + `lease` the lease of every running run of `worker` (host:pid when
  // empty) and returns their ids: a run of the worker missing from the list was taken away
  // (requeued after its lease expired) and must be abandoned.
  virtual Result<std::vector<int64_t>> renew_leases(const std::string& worker,
                                                    std::chrono::milliseconds lease) = 0;
  // Moves every running run whose lease has expired back to queued (worker, started_at and
  // lease cleared; attempt, load id and definition kept, so a load its lost worker may have
  // committed is a no-op when it runs again) and returns those runs as they were (with the
  // lost worker's name).
  virtual Result<std::vector<RunRow>> requeue_expired_runs() = 0;
  virtual Result<std::optional<RunRow>> get_run(int64_t run_id) = 0;
  virtual Result<std::vector<RunRow>> list_runs(const RunFilter& filter) = 0;  // newest first

  // Audit table. audit() fails with kInvalid for an empty event or a level other than
  // info/warn/error; it redacts message and every string (and key) in details.
  virtual Status audit(AuditEvent event) = 0;
  virtual Result<std::vector<AuditEvent>> list_audit(
      const AuditFilter& filter) = 0;  // newest first

  // Control table: the rules currently in force (JSON objects as in CONFIG.md `control:`).
  virtual Result<nlohmann::json> control_rules() = 0;
};

// Writes one audit row: the shorthand every part of ferry uses (run_id 0 = not about a run).
inline Status audit(Metastore& meta, int64_t run_id, std::string job_id, std::string level,
                    std::string event, std::string message,
                    nlohmann::json details = nlohmann::json::object()) {
  AuditEvent e;
  e.run_id = run_id;
  e.job_id = std::move(job_id);
  e.level = std::move(level);
  e.event = std::move(event);
  e.message = std::move(message);
  e.details = std::move(details);
  return meta.audit(std::move(e));
}

// Opens (creating and migrating as needed) the metastore at `url`: "sqlite:PATH" (relative
// to project_dir) or a bare path; or "postgres://user[:password]@host:port/db" (also
// "postgresql://"), whose ${ENV} references the caller has resolved. The password never
// appears in a message. kInvalid for an unknown kind; for PostgreSQL, kRetry when the server
// cannot be reached and kInvalid for bad credentials.
Result<std::unique_ptr<Metastore>> open_metastore(const std::string& url,
                                                  const std::string& project_dir);

}  // namespace ferry
