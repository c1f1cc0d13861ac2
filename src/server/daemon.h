// Daemon: `ferry serve` — the scheduler, the executor and the HTTP API in one process.
//
//   triggers (every, schedule, API calls) --> queued runs in the job execution table
//   workers (at most `concurrency`, at most a connection's `max_concurrency`) take queued
//   runs in priority then age order, claim them in the metastore and run them
//   when every run of a batch has ended: its transforms, then the batch is done
//
// Rules the executor keeps:
//   - a job never runs twice at once; a trigger while it is queued adds nothing, while it is
//     running queues at most one follow-up;
//   - a transient failure (Code::kRetry) is retried per the job's `retries` as a new attempt
//     with the same load id, after an exponential backoff with jitter;
//   - `every: 5m` is measured from the end of the previous run, so runs never pile up;
//   - the config table is the truth: it is re-read every `reload` (default 1s), so jobs added,
//     changed, disabled or removed by `ferry apply`, `ferry jobs`, the API or plain SQL take
//     effect without a restart.
//
// Several processes on one metastore (`ferry serve --worker`, meta/metastore.h
// claim_next_run): a worker claims queued runs of any process and runs them; this daemon
// notices that a run of its queue was claimed elsewhere (start_run refuses it), follows it in
// the metastore until it ends, then counts it in its batch and retries it per the job's
// `retries` like its own. Every process renews the leases of its running runs every third of
// `lease` and moves runs whose lease expired (their worker died or hung) back to the queue,
// with their load id, so a load the lost worker committed is a no-op when it runs again; a
// run this process lost that way is cancelled here. Batches (transforms, control actions)
// and retries belong to the scheduling daemon; workers run jobs only.
//
// Stopping: request_stop() stops taking runs and lets running ones finish for `grace`, then
// cancels them (recorded as cancelled). Runs a killed daemon left `running` are marked failed
// on the next start (reap_dead_runs) and get their next attempt per their job's `retries`
// (with the same load id), or else run again on their job's next trigger.
//
// Thread-safety: every public method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/project.h"
#include "meta/metastore.h"
#include "pipeline/executor.h"

namespace ferry::server {

using Clock = std::chrono::system_clock;

struct ServeOptions {
  int concurrency = 0;  // 0 = the project's
  std::chrono::milliseconds grace{30'000};
  std::chrono::milliseconds reload{1'000};
  // A worker (`ferry serve --worker`): no scheduler, no batches; its `concurrency` threads
  // claim queued runs from the shared metastore (claim_next_run) and run them.
  bool worker = false;
  // How long a running run stays this process's without a renewal (renewed every third of
  // it); a run whose worker stopped renewing is queued again once its lease expires.
  std::chrono::milliseconds lease{30'000};
  // How often an idle worker looks for a queued run.
  std::chrono::milliseconds claim_poll{250};
};

// A job as the scheduler sees it (for the API and the UI).
struct JobStatus {
  JobDefinition job;
  std::string source_kind, source_connection, table;
  std::string schedule, every, on;
  std::chrono::milliseconds poll{5'000};  // on: new_objects
  std::chrono::milliseconds timeout{0};   // 0 = none
  std::string catchup = "none";
  std::vector<std::string> tags;
  std::string error;  // why the job cannot be resolved ("" when it can)
  std::optional<Clock::time_point> next_run;
  bool queued = false, running = false;
};

// The outcome of a trigger: the run queued (or why none was).
struct Queued {
  std::string job_id;
  int64_t run_id = 0;  // 0 when nothing was queued
  std::string batch_id;
  std::string note;  // "already queued", "unknown job", ...
};

class Daemon {
 public:
  // `meta` is the project's metastore; `files` the project files (applied first when the
  // metastore has no version yet).
  Daemon(std::unique_ptr<Metastore> meta, Project files, ServeOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Reaps runs of dead processes, loads the config, starts the scheduler and the workers.
  Status start();
  // Graceful stop (see the header comment); returns at once. A second call cancels at once.
  void request_stop();
  // Blocks until the scheduler and every worker have stopped.
  void wait();
  bool stopping() const { return stopping_.load(); }

  // Queues one run of each job in one new batch (API: run now, batches).
  std::vector<Queued> trigger(const std::vector<std::string>& job_ids, const std::string& reason);
  // Queues one run per definition in one new batch, each as given (e.g. an S3 event's keys
  // in its source options); never coalesced with a queued run of the same job, since each
  // names different data. The job must exist in the config table.
  std::vector<Queued> trigger_definitions(const std::vector<JobDefinition>& runs,
                                          const std::string& reason);
  // Re-reads the config table now (the API calls it after changing a job).
  Status reload();

  Metastore& meta() { return *meta_; }
  std::shared_ptr<const Project> project() const;
  std::vector<JobStatus> jobs() const;
  std::optional<JobStatus> job(const std::string& id) const;
  struct Counters {
    size_t queued = 0, running = 0;
    int64_t succeeded = 0, failed = 0, cancelled = 0;
  };
  Counters counters() const;

 private:
  struct Item {
    int64_t run_id = 0;
    std::string job_id, batch_id, load_id;
    int attempt = 1;
    int priority = 0;
    std::string connection;
    Clock::time_point not_before{};
    std::optional<JobDefinition> definition;  // this run's own definition (events)
    bool claimed = false;                     // already running (claim_next_run)
  };
  struct Sched {
    JobStatus status;
    Clock::time_point last_end{};
    bool ever_ran = false;
  };
  struct Batch {
    size_t pending = 0;
    std::map<std::string, RunState> states;
  };

  void scheduler_loop();
  // `on: new_objects` jobs: checks each one's source every `poll` and queues a run when it
  // has something new (its own thread: a listing of a bucket may take a while).
  void poller_loop();
  void worker_loop();
  // A worker's thread (options_.worker): claims queued runs from the metastore.
  void claim_loop();
  // Runs `item` (REQUIRES: lock held; held again on return): start, run, bookkeeping. A run
  // another worker claimed first is followed in remote_ instead.
  void run_item(std::unique_lock<std::mutex>& lock, Item item);
  // REQUIRES: mu_ held. A run of ours has ended (here or elsewhere): the job's schedule,
  // retries, counters, and its batch (queued for a worker to finish when it was the last).
  void complete_locked(const Item& item, const RunOutcome& out);
  // REQUIRES: mu_ held. Renews this process's leases, cancels runs it lost, requeues runs
  // whose lease expired.
  void keep_leases_locked();
  // REQUIRES: mu_ held. Checks the runs of our queue that other workers hold.
  void watch_remote_locked();
  // REQUIRES: mu_ held. Queues a run of `job_id` into `batch_id` unless one is queued already.
  Queued enqueue_locked(const std::string& job_id, const std::string& batch_id,
                        const std::string& reason,
                        const std::optional<JobDefinition>& definition = std::nullopt);
  // REQUIRES: mu_ held. Forgets a batch that queued nothing (every trigger was coalesced).
  void drop_empty_batch_locked(const std::string& batch_id);
  // REQUIRES: mu_ held. Adds a run to queue_ (and to plain_queued_ when it has no
  // definition of its own); takes it out again.
  void push_locked(Item item);
  Item take_locked(std::map<std::pair<int, int64_t>, Item>::iterator it);
  // REQUIRES: mu_ held. The best runnable item of queue_ (the first in its order that may
  // start now), or queue_.end().
  std::map<std::pair<int, int64_t>, Item>::iterator pick_locked(Clock::time_point now);
  void finish_batch(const std::string& batch_id, const Batch& batch);
  Status load_config_locked();
  void compute_next_locked(Sched& s, Clock::time_point now);
  // At start: runs for cron ticks missed while no daemon ran (per the job's `catchup`).
  void catch_up_locked(Clock::time_point now);
  // Cancels runs past their job's timeout.
  void enforce_timeouts_locked(Clock::time_point now);

  std::unique_ptr<Metastore> meta_;
  const Project files_;
  ServeOptions options_;
  int concurrency_ = 4;

  mutable std::mutex mu_;
  std::condition_variable cv_;        // the workers': queue changes, batches ended, stop
  std::condition_variable sched_cv_;  // the scheduler's and the poller's: triggers due, stop
  std::shared_ptr<const Project> project_;
  std::string config_fingerprint_;
  std::map<std::string, Sched> sched_;
  // Queued runs in the order they start: priority (highest first), then run id (oldest).
  std::map<std::pair<int, int64_t>, Item> queue_;
  // job -> the queue_ key of its queued run without a definition of its own (what a trigger
  // while it is queued coalesces with)
  std::map<std::string, std::pair<int, int64_t>> plain_queued_;
  std::set<std::string> running_jobs_;
  std::map<std::string, int> running_per_connection_;
  std::map<std::string, int> connection_limits_;
  std::map<std::string, Batch> batches_;
  std::map<int64_t, std::shared_ptr<std::atomic<bool>>> cancel_flags_;  // running runs
  struct Deadline {
    Clock::time_point at;
    std::string job_id;
    std::chrono::milliseconds timeout;
  };
  std::map<int64_t, Deadline> deadlines_;  // running runs whose job has a timeout
  Counters counters_;
  const std::string me_;            // this process as a worker: host:pid
  std::map<int64_t, Item> remote_;  // runs of our queue that another worker holds
  std::set<int64_t> leased_;        // runs whose lease the last renewal extended
  std::deque<std::pair<std::string, Batch>> ended_batches_;  // for a worker to finish

  std::atomic<bool> stopping_{false};
  std::atomic<bool> cancel_all_{false};
  Clock::time_point stop_deadline_{};
  std::thread scheduler_;
  std::thread poller_;
  std::vector<std::thread> workers_;
};

}  // namespace ferry::server
