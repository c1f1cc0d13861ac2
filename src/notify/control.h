// The control table in action: what happens after a batch (CONFIG.md `control:`).
//
// When a batch has ended (after its transforms), fire_control() builds the batch summary
// from the job execution and audit tables and runs every rule whose `on` matches:
//   batch_succeeded / batch_failed / batch_finished   by the batch's outcome
//   job_failed       a job of the batch failed (one action per batch, naming the jobs)
//   rejects          rows were rejected
//   schema_changed   a table gained a column or a wider type
// Actions: `email` (SMTP over libcurl: STARTTLS when offered, login, to/cc, a plain-text
// summary), `webhook` (any method, headers, a JSON body: the summary, or the rule's own body
// with {placeholders} filled), `sql` (run in the warehouse). Each action is tried up to 3
// times with backoff; each outcome is an audit row (control_action_done / _failed). A failing
// action never fails the batch. ${ENV} in rules is resolved here; secrets stay redacted.
//
// Thread-safety: re-entrant; called by the executor (`ferry run`) and by `ferry serve`.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/project.h"
#include "meta/metastore.h"

namespace ferry {

struct BatchSummary {
  std::string batch_id;
  std::string project;
  std::string state;         // "succeeded" or "failed"
  std::vector<RunRow> runs;  // the last attempt of each job and transform
  int64_t rows_loaded = 0, rows_rejected = 0;
  std::vector<std::string> failed;          // job/transform ids that did not succeed
  std::vector<std::string> schema_changes;  // "added column t.c (int)" ...
  double seconds = 0;

  // The summary e-mails carry: one line per run, then the first error lines.
  std::string text() const;
  nlohmann::json to_json() const;
};

// The summary of a batch from the metastore.
Result<BatchSummary> summarize_batch(Metastore& meta, const Project& project,
                                     const std::string& batch_id);

// Runs SQL in the project's warehouse (the executor provides it: destinations live there).
using SqlRunner = std::function<Status(const std::string& sql)>;

// Runs the control rules that match the batch; returns how many actions ran (ok or not).
int fire_control(Metastore& meta, const Project& project, const std::string& batch_id,
                 const SqlRunner& run_sql);

// `text` with {batch_id}, {state}, {project}, {jobs}, {failed_jobs}, {summary} filled.
std::string fill_placeholders(const std::string& text, const BatchSummary& summary);

}  // namespace ferry
