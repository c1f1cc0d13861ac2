// Executor: runs a batch of jobs N at a time, then the transforms that depend on them.
//
// Every job of the batch gets a queued row in the job execution table first; N worker
// threads take them in priority order (higher first, then job id). A run that fails with a
// transient error (Code::kRetry) is retried with exponential backoff and jitter up to the
// job's retries.max_attempts, as a new attempt row with the same load id; the executor owns
// retries and backoff, never the source. After the jobs, transforms run in dependency order:
// one whose inputs (jobs of this batch, or transforms) failed or were skipped is skipped,
// with the reason in its run row and the audit table.
//
// Thread-safety: run_batch blocks until the batch is done; it may be called from any thread.
#pragma once

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "config/project.h"
#include "meta/metastore.h"
#include "pipeline/job_runner.h"

namespace ferry {

struct BatchOptions {
  int concurrency = 4;
  bool transforms = true;  // run the transforms that depend on these jobs
  bool progress = false;   // live progress line on stderr (a TTY)
  const std::atomic<bool>* cancel = nullptr;
};

struct TransformOutcome {
  std::string id;
  int64_t run_id = 0;
  RunState state = RunState::kSkipped;
  std::string error;  // or why it was skipped
  double seconds = 0;
};

struct BatchReport {
  std::string batch_id;
  std::vector<RunOutcome> runs;  // the last attempt of each job, in finishing order
  std::vector<TransformOutcome> transforms;
  double seconds = 0;
  bool ok() const;
};

BatchReport run_batch(Metastore& meta, const Project& project,
                      const std::vector<JobDefinition>& jobs, const BatchOptions& options);

// "b<unix seconds>-<4 hex>": runs started together share one.
std::string new_batch_id();

// Attempts a run of `job` may take (its retries.max_attempts, at least 1).
int max_attempts_of(const Project& project, const JobDefinition& job);

// Runs the transforms that depend on the jobs of a finished batch (`job_states`: each job's
// final state in it), in dependency order; one whose inputs failed is skipped.
std::vector<TransformOutcome> run_transforms(Metastore& meta, const Project& project,
                                             const std::string& batch_id,
                                             const std::map<std::string, RunState>& job_states);

// Runs `sql` in a warehouse connection (the project's warehouse when `connection` is "").
Status execute_in_warehouse(const Project& project, const std::string& connection,
                            const std::string& sql);

// What follows a finished batch (after its transforms): the control table's actions.
void after_batch(Metastore& meta, const Project& project, const std::string& batch_id);

// Marks runs left 'running' by a ferry process of this host that no longer exists (killed,
// crashed) as failed, with an audit row each; returns them as they now are. Their loads were
// never committed (or were, and the next run finds them in _ferry_loads), so nothing is
// lost: a retry with the same load id loads the rest, or nothing.
std::vector<RunRow> reap_dead_runs(Metastore& meta);

// The project's transforms in dependency order (a thin wrapper for the CLI's plan).
Result<std::vector<std::string>> ordered_transforms(const Project& project);

}  // namespace ferry
