// JobRunner: one run of one job, end to end.
//
//   resolve the job (template + params + watermark + ${ENV})
//   open the destination, read the job's committed state (the truth for watermarks)
//   begin the load -> Source::read(sink) -> rows / JSON -> Normalizer -> Destination::write
//   commit rows + rejects + state in one transaction; then the run row and the audit table
//
// Every failure is caught here, at the job boundary: the load is rolled back, the rejects of
// the failed load are kept, and the run row and the audit table say what happened, with
// secrets redacted. Thread-safety: run_job may be called from several threads at once for
// different jobs; each call owns its source, normaliser and destination.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "config/project.h"
#include "destinations/destination.h"
#include "meta/metastore.h"

namespace ferry {

// Live counters of a running job, read by the progress display from another thread.
struct JobProgress {
  std::string job_id;
  std::atomic<int64_t> rows{0};
  std::atomic<int64_t> rejected{0};
  std::atomic<bool> running{false};
  std::chrono::steady_clock::time_point started;
};

struct RunRequest {
  const Project* project = nullptr;  // the applied project (connections, templates)
  JobDefinition job;                 // the job's config-table row, as a definition
  int64_t run_id = 0;
  std::string load_id;  // reused by a retry of the same run
  std::string batch_id;
  const std::atomic<bool>* cancel = nullptr;
  JobProgress* progress = nullptr;  // optional
  // The caller has already moved the run to running (start_run, e.g. to claim it from the
  // queue); run_job does not start it again.
  bool claimed = false;
  // The worker (host:pid) that holds the run: finishing it checks the claim, so a run this
  // process lost (its lease expired and another worker took it) is not finished twice.
  std::string worker;
};

struct RunOutcome {
  int64_t run_id = 0;
  std::string job_id;
  RunState state = RunState::kFailed;
  LoadStats stats;
  std::string error;       // redacted
  bool retryable = false;  // the failure was transient (Code::kRetry)
  std::string watermark;   // after the run
  double seconds = 0;
  bool already_committed = false;
  // The run could not be started (start_run refused it: another worker took it, or it ended
  // elsewhere); nothing ran, `error` says why.
  bool not_started = false;
};

// Starts the run (unless request.claimed), runs it and records its end: the run row and its
// audit rows (run_started with the start, run_finished or run_failed with the end, in one
// write each). A worker's (request.worker set) success is recorded without waiting
// (Metastore::finish_run_later): its end is written with the worker's next write.
RunOutcome run_job(Metastore& meta, const RunRequest& request);

// For `on: new_objects`: whether the job's source has a new or changed file or object since
// the job's committed state (Source::has_new). kInvalid when the source kind cannot tell.
Result<bool> probe_new_data(const Project& project, const JobDefinition& job);

// A fresh load id: "<run_id>-<8 random hex>", unique across metastores.
std::string new_load_id(int64_t run_id);

}  // namespace ferry
