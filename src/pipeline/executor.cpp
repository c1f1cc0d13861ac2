#include "pipeline/executor.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "core/redact.h"
#include "notify/control.h"
#include "pipeline/registry.h"
#include "transform/order.h"

namespace ferry {

std::string new_batch_id() {
  std::random_device rd;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return fmt::format("b{}-{:04x}", std::chrono::duration_cast<std::chrono::seconds>(now).count(),
                     rd() & 0xffff);
}

namespace {

// Prints one line with every running job's rows and rows/s, until stopped.
class ProgressLine {
 public:
  explicit ProgressLine(std::vector<std::unique_ptr<JobProgress>>& jobs) : jobs_(jobs) {
    thread_ = std::thread([this] { loop(); });
  }
  ~ProgressLine() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::fputs("\r\033[K", stderr);
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stop_; })) {
      std::string line;
      auto now = std::chrono::steady_clock::now();
      for (const auto& p : jobs_) {
        if (!p->running) continue;
        double s = std::chrono::duration<double>(now - p->started).count();
        int64_t rows = p->rows.load();
        line += fmt::format("{}{} {} rows {:.0f}/s", line.empty() ? "" : " | ", p->job_id, rows,
                            s > 0 ? rows / s : 0.0);
      }
      if (line.size() > 200) line = line.substr(0, 197) + "...";
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
      std::fflush(stderr);
    }
  }

  std::vector<std::unique_ptr<JobProgress>>& jobs_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

int max_attempts_of(const Project& project, const JobDefinition& job) {
  auto spec = resolve_job(project, job, "", default_env());
  return spec.ok() ? std::max(1, spec->max_attempts) : 1;
}

Status execute_in_warehouse(const Project& project, const std::string& connection,
                            const std::string& sql) {
  std::string conn_id = connection.empty() ? project.warehouse : connection;
  if (!project.connections.contains(conn_id))
    return Status::invalid("unknown connection '{}'", conn_id);
  FERRY_ASSIGN(auto conn, resolve_connection(project, conn_id, default_env()));
  const DestinationDescriptor* d = registry().destination(conn.value("type", ""));
  if (!d) return Status::invalid("connection {} is not a warehouse", conn_id);
  FERRY_ASSIGN(auto dst, d->create(conn, project.dir));
  return dst->execute(sql);
}

void after_batch(Metastore& meta, const Project& project, const std::string& batch_id) {
  fire_control(meta, project, batch_id,
               [&](const std::string& sql) { return execute_in_warehouse(project, "", sql); });
}

std::vector<TransformOutcome> run_transforms(Metastore& meta, const Project& project,
                                             const std::string& batch_id,
                                             const std::map<std::string, RunState>& job_states) {
  std::vector<TransformOutcome> out;
  if (project.transforms.empty()) return out;
  std::set<std::string> job_ids;
  for (const auto& j : project.jobs)
    job_ids.insert(j.id);
  for (const auto& [id, st] : job_states)
    job_ids.insert(id);
  auto order = transform_order(project.transforms, job_ids);
  if (!order.ok()) {
    (void)audit(meta, 0, "", "error", "transforms_failed", order.status().message());
    return out;
  }
  std::map<std::string, const TransformDef*> by_id;
  for (const auto& t : project.transforms)
    by_id[t.id] = &t;
  // state of every input that took part in this batch: jobs run now, transforms run now
  std::map<std::string, RunState> states = job_states;
  for (const std::string& id : order.value()) {
    const TransformDef& t = *by_id.at(id);
    bool touched = false;
    std::string blocked;
    for (const std::string& in : t.after) {
      auto it = states.find(in);
      if (it == states.end()) continue;  // not part of this batch: ran before
      touched = true;
      if (it->second != RunState::kSucceeded && blocked.empty()) blocked = in;
    }
    if (!touched) continue;
    TransformOutcome o;
    o.id = id;
    std::string run_job_id = "transform:" + id;
    auto run_id = meta.create_run(run_job_id, batch_id, 1);
    o.run_id = run_id.ok() ? run_id.value() : 0;
    RunRow row;
    row.id = o.run_id;
    row.job_id = run_job_id;
    row.batch_id = batch_id;
    AuditEvent e;
    e.run_id = o.run_id;
    e.job_id = run_job_id;
    if (!blocked.empty()) {
      o.state = RunState::kSkipped;
      o.error = fmt::format("skipped: input {} did not succeed", blocked);
      e.level = "warn";
      e.event = "transform_skipped";
    } else {
      (void)meta.start_run(o.run_id, "");
      auto t0 = std::chrono::steady_clock::now();
      Status st = execute_in_warehouse(project, t.connection, t.sql)
                      .with_context(fmt::format("transform {} ({})", id, t.sql_path));
      o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      o.state = st.is_ok() ? RunState::kSucceeded : RunState::kFailed;
      o.error = redact(st.message());
      e.level = st.is_ok() ? "info" : "error";
      e.event = st.is_ok() ? "transform_succeeded" : "transform_failed";
    }
    row.state = o.state;
    row.error = o.error;
    (void)meta.finish_run(row);
    e.message =
        o.error.empty() ? fmt::format("transform {} ran in {:.2f}s", id, o.seconds) : o.error;
    e.details = {{"transform", id}, {"sql", t.sql_path}, {"seconds", o.seconds}};
    (void)meta.audit(e);
    states[id] = o.state;
    out.push_back(std::move(o));
  }
  return out;
}

namespace {

std::string this_host() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return host[0] ? host : "localhost";
}

}  // namespace

std::vector<RunRow> reap_dead_runs(Metastore& meta) {
  RunFilter f;
  f.state = RunState::kRunning;
  f.limit = 0;
  auto runs = meta.list_runs(f);
  std::vector<RunRow> reaped;
  if (!runs.ok()) return reaped;
  const std::string host = this_host();
  for (RunRow r : runs.value()) {
    size_t colon = r.worker.rfind(':');
    if (colon == std::string::npos || r.worker.substr(0, colon) != host) continue;
    pid_t pid = static_cast<pid_t>(std::atol(r.worker.c_str() + colon + 1));
    if (pid <= 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;
    r.state = RunState::kFailed;
    r.retryable = true;  // a process dying is no fault of the job's
    r.error = fmt::format(
        "worker {} exited before the run finished; nothing of it was committed "
        "unless its load id is in _ferry_loads",
        r.worker);
    if (!meta.finish_run(r).is_ok()) continue;
    (void)audit(meta, r.id, r.job_id, "warn", "run_abandoned", r.error);
    reaped.push_back(std::move(r));
  }
  return reaped;
}

bool BatchReport::ok() const {
  for (const auto& r : runs)
    if (r.state != RunState::kSucceeded) return false;
  for (const auto& t : transforms)
    if (t.state != RunState::kSucceeded) return false;
  return true;
}

Result<std::vector<std::string>> ordered_transforms(const Project& project) {
  std::set<std::string> job_ids;
  for (const auto& j : project.jobs)
    job_ids.insert(j.id);
  return transform_order(project.transforms, job_ids);
}

BatchReport run_batch(Metastore& meta, const Project& project,
                      const std::vector<JobDefinition>& jobs, const BatchOptions& options) {
  BatchReport report;
  report.batch_id = new_batch_id();
  reap_dead_runs(meta);
  auto t0 = std::chrono::steady_clock::now();

  struct Item {
    const JobDefinition* job;
    int64_t run_id;
    JobProgress* progress;
  };
  std::vector<const JobDefinition*> ordered;
  for (const auto& j : jobs)
    ordered.push_back(&j);
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    return a->priority != b->priority ? a->priority > b->priority : a->id < b->id;
  });
  std::vector<std::unique_ptr<JobProgress>> progress;
  std::deque<Item> queue;
  for (const JobDefinition* j : ordered) {
    auto run_id = meta.create_run(j->id, report.batch_id, 1);
    auto& p = progress.emplace_back(std::make_unique<JobProgress>());
    p->job_id = j->id;
    if (!run_id.ok()) {
      RunOutcome o;
      o.job_id = j->id;
      o.error = run_id.status().message();
      report.runs.push_back(o);
      continue;
    }
    queue.push_back(Item{j, run_id.value(), p.get()});
  }

  std::mutex mu;
  std::map<std::string, RunState> states;
  auto worker = [&] {
    for (;;) {
      Item item;
      {
        std::lock_guard lock(mu);
        if (queue.empty()) return;
        item = queue.front();
        queue.pop_front();
      }
      RunRequest req;
      req.project = &project;
      req.job = *item.job;
      req.run_id = item.run_id;
      req.load_id = new_load_id(item.run_id);
      req.batch_id = report.batch_id;
      req.cancel = options.cancel;
      req.progress = item.progress;
      int attempts = max_attempts_of(project, *item.job);
      RunOutcome out = run_job(meta, req);
      std::mt19937 rng(std::random_device{}());
      for (int attempt = 2; attempt <= attempts && out.retryable; ++attempt) {
        double base = std::min(30.0, 0.5 * (1 << std::min(attempt - 2, 6)));
        double wait = base * std::uniform_real_distribution<double>(0.5, 1.0)(rng);
        (void)audit(meta, req.run_id, req.job.id, "warn", "run_retry",
                    fmt::format("attempt {} of {} in {:.1f}s after: {}", attempt, attempts, wait,
                                out.error));
        std::this_thread::sleep_for(std::chrono::duration<double>(wait));
        auto next = meta.create_run(req.job.id, report.batch_id, attempt);
        if (!next.ok()) break;
        req.run_id = next.value();  // same load id: a committed attempt is not loaded twice
        out = run_job(meta, req);
      }
      std::lock_guard lock(mu);
      states[out.job_id] = out.state;
      report.runs.push_back(std::move(out));
    }
  };
  {
    std::unique_ptr<ProgressLine> line;
    if (options.progress) line = std::make_unique<ProgressLine>(progress);
    int n = std::max(1, std::min<int>(options.concurrency, static_cast<int>(queue.size())));
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
      threads.emplace_back(worker);
    for (auto& t : threads)
      t.join();
  }
  if (options.transforms)
    report.transforms = run_transforms(meta, project, report.batch_id, states);
  after_batch(meta, project, report.batch_id);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace ferry
