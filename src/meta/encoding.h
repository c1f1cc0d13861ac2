// How both metastore backends (sqlite_metastore, postgres_metastore) write and read the values
// of their rows, so that the two return identical rows: timestamps are ISO 8601 UTC text with
// milliseconds and a trailing Z (2026-11-25T12:00:00.123Z), JSON is stored as text (invalid
// UTF-8 from a source's data replaced, never thrown on), audit details are redacted, and a
// config version's hash is FNV-1a 64 of its text. Also the checks both backends make on their
// input before touching the database.
//
// Thread-safety: every function is safe to call from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "meta/metastore.h"

namespace ferry::meta {

// The current time: 2026-11-25T12:00:00.123Z.
std::string now_iso8601();
// The time `delay` from now, in the same format.
std::string iso8601_after(std::chrono::milliseconds delay);
// A lease's end as stored (ferry_runs.lease_until): now + `lease`; "" (stored as NULL) when
// `lease` is 0, a run without a lease.
std::string lease_text(std::chrono::milliseconds lease);
// host:pid of this process: the worker that ran a run.
std::string worker_name();

// Appends `clause` to a WHERE clause being built ("" or " WHERE a AND b").
void add_condition(std::string& where, std::string_view clause);
// " LIMIT n" for a positive limit, "" otherwise.
std::string limit_clause(int limit);

// `value` as stored: compact JSON text, invalid UTF-8 replaced.
std::string dump_json(const nlohmann::json& value);
// Stored text back to JSON; kInvalid naming `what` when it does not parse.
Result<nlohmann::json> parse_json(std::string_view text, std::string_view what);
// `value` with every string (and object key) passed through redact().
nlohmann::json redact_json(const nlohmann::json& value);

// FNV-1a, 64 bits, as 16 hex digits: stable across runs and machines.
std::string fnv1a64_hex(std::string_view data);

// kInvalid for an empty id or an unknown origin (apply, cli, api or sql).
Status check_job(const JobRow& job);
// kInvalid for an empty event or a level other than info/warn/error.
Status check_audit(const AuditEvent& event);
// A state finish_run accepts: not queued, not running.
bool is_final(RunState state);
// The audit row (run_abandoned, warn) of a run's end that `worker` could not record because
// the run is no longer its own (`refusal` says why; `state` is the end it would have been).
AuditEvent abandoned_run_event(int64_t run_id, std::string job_id, const std::string& worker,
                               std::string_view state, std::string_view refusal);

}  // namespace ferry::meta
