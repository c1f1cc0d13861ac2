#include "server/daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <random>

#include "core/duration.h"
#include "core/redact.h"
#include "meta/encoding.h"
#include "pipeline/applied.h"
#include "pipeline/job_runner.h"
#include "server/triggers.h"

namespace ferry::server {
namespace {

// Resolves a job for scheduling only: ${ENV} is not needed to know its trigger and target.
EnvLookup no_env() {
  return [](const std::string& name) -> std::optional<std::string> { return "${" + name + "}"; };
}

std::chrono::milliseconds retry_delay(const std::string& backoff, int attempt) {
  double base = 0.5;
  if (!backoff.empty()) {
    auto secs = parse_duration_seconds(backoff);
    if (secs.ok()) base = secs.value();
  }
  double cap = std::min(300.0, base * (1 << std::min(attempt - 1, 10)));
  thread_local std::mt19937 rng{std::random_device{}()};
  double wait = std::uniform_real_distribution<double>(cap / 2, cap)(rng);
  return std::chrono::milliseconds(static_cast<int64_t>(wait * 1000));
}

// A run's own definition as stored in ferry_runs.definition, and back.
nlohmann::json definition_json(const std::optional<JobDefinition>& d) {
  if (!d) return nlohmann::json::object();
  return {{"template", d->template_name},
          {"params", d->params},
          {"spec", d->spec},
          {"priority", d->priority}};
}

void count_outcome(Daemon::Counters& counters, RunState state) {
  switch (state) {
    case RunState::kSucceeded:
      counters.succeeded++;
      break;
    case RunState::kCancelled:
      counters.cancelled++;
      break;
    default:
      counters.failed++;
  }
}

std::optional<JobDefinition> definition_of_run(const RunRow& run) {
  if (!run.definition.is_object() || run.definition.empty()) return std::nullopt;
  JobDefinition d;
  d.id = run.job_id;
  d.template_name = run.definition.value("template", "");
  d.params = run.definition.value("params", nlohmann::json::object());
  d.spec = run.definition.value("spec", nlohmann::json::object());
  d.priority = run.definition.value("priority", 0);
  return d;
}

}  // namespace

Daemon::Daemon(std::unique_ptr<Metastore> meta, Project files, ServeOptions options)
    : meta_(std::move(meta)),
      files_(std::move(files)),
      options_(options),
      me_(meta::worker_name()) {}

Daemon::~Daemon() {
  request_stop();
  request_stop();  // the second call cancels what still runs
  wait();
}

Status Daemon::start() {
  std::vector<RunRow> reaped = reap_dead_runs(*meta_);
  if (!reaped.empty())
    spdlog::warn("{} runs of a process that died were marked failed", reaped.size());
  {
    std::lock_guard lock(mu_);
    FERRY_TRY(load_config_locked());
    if (!options_.worker) {
      // Each run a dead process left gets its next attempt, per its job's retries, with the
      // same load id (a load committed just before the death is then a no-op); queued now,
      // it is taken up below with the other queued runs.
      for (const RunRow& r : reaped) {
        if (r.job_id.starts_with("transform:")) continue;
        auto it = sched_.find(r.job_id);
        if (it == sched_.end()) continue;
        std::optional<JobDefinition> own = definition_of_run(r);
        auto spec = resolve_job(*project_, own ? *own : it->second.status.job, "", no_env());
        if (!spec.ok() || r.attempt >= spec->max_attempts) continue;
        auto next = meta_->create_run(
            NewRun{r.job_id, r.batch_id, r.attempt + 1, r.load_id, r.definition, spec->priority});
        if (!next.ok()) continue;
        (void)audit(*meta_, r.id, r.job_id, "warn", "run_retry",
                    fmt::format("attempt {} of {} (run {}) after: {}", r.attempt + 1,
                                spec->max_attempts, next.value(), r.error));
      }
      catch_up_locked(Clock::now());
      // Runs queued before (by `ferry run` killed before it began, or an API call to a
      // daemon that stopped) are taken up again.
      RunFilter f;
      f.state = RunState::kQueued;
      f.limit = 0;
      FERRY_ASSIGN(auto queued, meta_->list_runs(f));
      std::reverse(queued.begin(), queued.end());  // oldest first
      for (const RunRow& r : queued) {
        if (r.job_id.starts_with("transform:")) continue;
        Item item;
        item.run_id = r.id;
        item.job_id = r.job_id;
        item.batch_id = r.batch_id;
        item.attempt = r.attempt;
        item.load_id = r.load_id.empty() ? new_load_id(r.id) : r.load_id;
        item.definition = definition_of_run(r);
        auto it = sched_.find(r.job_id);
        if (it != sched_.end()) {
          item.priority = it->second.status.job.priority;
          item.connection = it->second.status.source_connection;
          it->second.status.queued = true;
        }
        batches_[r.batch_id].pending++;
        push_locked(std::move(item));
      }
    }
  }
  scheduler_ = std::thread([this] { scheduler_loop(); });
  if (!options_.worker) poller_ = std::thread([this] { poller_loop(); });
  for (int i = 0; i < concurrency_; ++i) {
    if (options_.worker) {
      workers_.emplace_back([this] { claim_loop(); });
    } else {
      workers_.emplace_back([this] { worker_loop(); });
    }
  }
  return Status::success();
}

void Daemon::request_stop() {
  std::lock_guard lock(mu_);
  if (stopping_) {
    cancel_all_ = true;
    for (auto& [id, flag] : cancel_flags_)
      *flag = true;
  } else {
    stopping_ = true;
    stop_deadline_ = Clock::now() + options_.grace;
  }
  cv_.notify_all();
  sched_cv_.notify_all();
}

void Daemon::wait() {
  if (scheduler_.joinable()) scheduler_.join();
  if (poller_.joinable()) poller_.join();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
}

std::shared_ptr<const Project> Daemon::project() const {
  std::lock_guard lock(mu_);
  return project_;
}

std::vector<JobStatus> Daemon::jobs() const {
  std::lock_guard lock(mu_);
  std::vector<JobStatus> out;
  for (const auto& [id, s] : sched_)
    out.push_back(s.status);
  return out;
}

std::optional<JobStatus> Daemon::job(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = sched_.find(id);
  if (it == sched_.end()) return std::nullopt;
  return it->second.status;
}

Daemon::Counters Daemon::counters() const {
  std::lock_guard lock(mu_);
  Counters c = counters_;
  c.queued = queue_.size();
  c.running = running_jobs_.size();
  return c;
}

Status Daemon::reload() {
  std::lock_guard lock(mu_);
  Status st = load_config_locked();
  sched_cv_.notify_all();
  return st;
}

Status Daemon::load_config_locked() {
  // Cheap change detection first: one aggregate query (meta/metastore.h config_stamp).
  FERRY_ASSIGN(std::string fp, meta_->config_stamp());
  if (fp == config_fingerprint_ && project_) return Status::success();
  FERRY_ASSIGN(auto version, meta_->current_version());
  FERRY_ASSIGN(auto rows, meta_->list_jobs());
  if (!version) {
    FERRY_ASSIGN(Project applied, applied_project(*meta_, files_));
    (void)applied;
    return load_config_locked();
  }
  FERRY_ASSIGN(Project p, Project::from_json(version->project, files_.dir));
  p.jobs.clear();
  for (const JobRow& r : rows)
    p.jobs.push_back(definition_of(r));
  auto project = std::make_shared<const Project>(std::move(p));
  concurrency_ =
      options_.concurrency > 0 ? options_.concurrency : std::max(1, project->concurrency);

  connection_limits_.clear();
  for (const auto& [name, conn] : project->connections.items()) {
    if (conn.is_object() && conn.contains("max_concurrency") && conn["max_concurrency"].is_number())
      connection_limits_[name] = std::max(1, conn["max_concurrency"].get<int>());
  }
  auto now = Clock::now();
  std::map<std::string, Sched> next;
  for (const JobDefinition& d : project->jobs) {
    Sched s;
    auto old = sched_.find(d.id);
    if (old != sched_.end()) s = old->second;
    bool trigger_changed = old == sched_.end();
    s.status.job = d;
    auto spec = resolve_job(*project, d, "", no_env());
    if (spec.ok()) {
      trigger_changed = trigger_changed || s.status.schedule != spec->schedule ||
                        s.status.every != spec->every || s.status.on != spec->on;
      s.status.error.clear();
      s.status.source_kind = spec->source_kind;
      s.status.source_connection = spec->source_connection;
      s.status.table = spec->table;
      s.status.schedule = spec->schedule;
      s.status.every = spec->every;
      s.status.on = spec->on;
      s.status.catchup = spec->catchup.empty() ? "none" : spec->catchup;
      s.status.tags = spec->tags;
      s.status.timeout = std::chrono::milliseconds(0);
      if (!spec->timeout.empty()) {
        auto secs = parse_duration_seconds(spec->timeout);
        if (secs.ok() && secs.value() > 0)
          s.status.timeout = std::chrono::milliseconds(static_cast<int64_t>(secs.value() * 1000));
      }
      s.status.poll = std::chrono::milliseconds(5'000);
      if (!spec->poll.empty()) {
        auto secs = parse_duration_seconds(spec->poll);
        if (secs.ok() && secs.value() > 0)
          s.status.poll = std::chrono::milliseconds(static_cast<int64_t>(secs.value() * 1000));
      }
      s.status.job.priority = spec->priority;
    } else {
      s.status.error = redact(spec.status().message());
    }
    if (!d.enabled) {
      s.status.next_run.reset();
    } else if (trigger_changed || !s.status.next_run) {
      compute_next_locked(s, now);
    }
    next[d.id] = std::move(s);
  }
  sched_ = std::move(next);
  project_ = std::move(project);
  config_fingerprint_ = fp;
  return Status::success();
}

void Daemon::compute_next_locked(Sched& s, Clock::time_point now) {
  s.status.next_run.reset();
  if (!s.status.error.empty() || !s.status.job.enabled) return;
  if (s.status.on == "new_objects") {
    s.status.next_run = now;  // checked at once, then every poll
    return;
  }
  if (!s.status.every.empty()) {
    auto secs = parse_duration_seconds(s.status.every);
    if (!secs.ok() || secs.value() <= 0) {
      s.status.error = "every: " + secs.status().message();
      return;
    }
    auto interval = std::chrono::milliseconds(static_cast<int64_t>(secs.value() * 1000));
    // From the end of the previous run; the first run right away.
    s.status.next_run = s.ever_ran ? s.last_end + interval : now;
    return;
  }
  if (!s.status.schedule.empty()) {
    auto tick = next_cron_tick(s.status.schedule, project_ ? project_->timezone : "UTC", now);
    if (!tick.ok()) {
      s.status.error = tick.status().message();
      return;
    }
    s.status.next_run = tick.value();
  }
}

void Daemon::drop_empty_batch_locked(const std::string& batch_id) {
  auto it = batches_.find(batch_id);
  if (it != batches_.end() && it->second.pending == 0) batches_.erase(it);
}

Queued Daemon::enqueue_locked(const std::string& job_id, const std::string& batch_id,
                              const std::string& reason,
                              const std::optional<JobDefinition>& definition) {
  Queued q;
  q.job_id = job_id;
  q.batch_id = batch_id;
  auto it = sched_.find(job_id);
  if (it == sched_.end()) {
    q.note = "unknown job";
    return q;
  }
  Sched& s = it->second;
  if (!s.status.error.empty()) {
    q.note = s.status.error;
    return q;
  }
  if (auto plain = plain_queued_.find(job_id); plain != plain_queued_.end() && !definition) {
    const Item& i = queue_.at(plain->second);
    q.run_id = i.run_id;
    q.batch_id = i.batch_id;
    q.note = "already queued";
    return q;
  }
  auto run_id = meta_->create_run(
      NewRun{job_id, batch_id, 1, "", definition_json(definition), s.status.job.priority});
  if (!run_id.ok()) {
    q.note = run_id.status().message();
    return q;
  }
  Item item;
  item.run_id = run_id.value();
  item.job_id = job_id;
  item.batch_id = batch_id;
  item.load_id = new_load_id(item.run_id);
  item.priority = s.status.job.priority;
  item.connection = s.status.source_connection;
  item.definition = definition;
  q.run_id = item.run_id;
  push_locked(std::move(item));
  s.status.queued = true;
  batches_[batch_id].pending++;
  (void)audit(*meta_, item.run_id, job_id, "info", "run_queued", "queued by " + reason,
              {{"batch_id", batch_id}, {"trigger", reason}});
  return q;
}

std::vector<Queued> Daemon::trigger(const std::vector<std::string>& job_ids,
                                    const std::string& reason) {
  std::vector<Queued> out;
  std::lock_guard lock(mu_);
  std::string batch = new_batch_id();
  for (const std::string& id : job_ids)
    out.push_back(enqueue_locked(id, batch, reason));
  drop_empty_batch_locked(batch);
  cv_.notify_all();
  return out;
}

std::vector<Queued> Daemon::trigger_definitions(const std::vector<JobDefinition>& runs,
                                                const std::string& reason) {
  std::vector<Queued> out;
  std::lock_guard lock(mu_);
  std::string batch = new_batch_id();
  for (const JobDefinition& d : runs)
    out.push_back(enqueue_locked(d.id, batch, reason, d));
  drop_empty_batch_locked(batch);
  cv_.notify_all();
  return out;
}

void Daemon::scheduler_loop() {
  auto last_reload = Clock::now();
  auto next_lease_check = Clock::now();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = Clock::now();
    if (now - last_reload >= options_.reload) {
      Status st = load_config_locked();
      if (!st.is_ok()) spdlog::error("reloading the config table: {}", redact(st.message()));
      last_reload = now;
    }
    enforce_timeouts_locked(now);
    if (now >= next_lease_check) {
      keep_leases_locked();
      next_lease_check = now + std::max(options_.lease / 3, std::chrono::milliseconds(100));
    }
    if (!remote_.empty()) watch_remote_locked();
    if (options_.worker) {  // a worker schedules nothing: it claims what others queue
      auto wake = std::min(
          {last_reload + options_.reload, next_lease_check, now + std::chrono::seconds(1)});
      for (const auto& [run_id, d] : deadlines_)
        wake = std::min(wake, d.at);
      sched_cv_.wait_until(lock, std::max(wake, now + std::chrono::milliseconds(5)));
      continue;
    }
    // Every job due now is queued in one batch. Then sleep until the next thing is due (a
    // tick, a timeout, the next reload): with thousands of idle jobs this loop costs nothing
    // between ticks. What changes its plans (a stop, a reload, an `every` run ending) wakes it
    // through sched_cv_.
    auto wake =
        std::min({last_reload + options_.reload, next_lease_check, now + std::chrono::seconds(1)});
    if (!remote_.empty()) wake = std::min(wake, now + options_.claim_poll);
    for (const auto& [run_id, d] : deadlines_)
      wake = std::min(wake, d.at);
    std::string batch;
    for (auto& [id, s] : sched_) {
      if (s.status.on == "new_objects") continue;  // the poller's
      if (!s.status.next_run) continue;
      if (*s.status.next_run > now) {
        wake = std::min(wake, *s.status.next_run);
        continue;
      }
      if (batch.empty()) batch = new_batch_id();
      std::string reason =
          !s.status.every.empty() ? "every " + s.status.every : "schedule " + s.status.schedule;
      enqueue_locked(id, batch, reason);
      if (!s.status.every.empty()) {
        s.status.next_run.reset();  // set again when the run ends
      } else {
        compute_next_locked(s, now);
        if (s.status.next_run) wake = std::min(wake, *s.status.next_run);
      }
    }
    if (!batch.empty()) {
      drop_empty_batch_locked(batch);
      cv_.notify_all();
    }
    sched_cv_.wait_until(lock, std::max(wake, now + std::chrono::milliseconds(5)));
  }
  // Stopping: running jobs may finish until the deadline; then they are cancelled.
  while (!running_jobs_.empty()) {
    if (Clock::now() >= stop_deadline_ && !cancel_all_) {
      spdlog::warn("grace period over: cancelling {} running jobs", running_jobs_.size());
      cancel_all_ = true;
      for (auto& [id, flag] : cancel_flags_)
        *flag = true;
    }
    sched_cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

void Daemon::poller_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = Clock::now();
    auto wake = now + std::chrono::seconds(1);
    std::vector<std::string> due;
    for (auto& [id, s] : sched_) {
      if (s.status.on != "new_objects" || !s.status.next_run) continue;
      if (*s.status.next_run > now) {
        wake = std::min(wake, *s.status.next_run);
        continue;
      }
      s.status.next_run = now + s.status.poll;
      // While a run is queued or going, it will see what is new; check again after it.
      if (!s.status.queued && !s.status.running) due.push_back(id);
    }
    if (due.empty()) {
      sched_cv_.wait_until(lock, std::max(wake, now + std::chrono::milliseconds(5)));
      continue;
    }
    auto project = project_;
    lock.unlock();
    std::vector<std::string> fresh;
    for (const std::string& id : due) {
      const JobDefinition* def = nullptr;
      for (const auto& j : project->jobs)
        if (j.id == id) def = &j;
      if (!def) continue;
      auto has = probe_new_data(*project, *def);
      if (!has.ok()) {
        spdlog::warn("job {}: checking for new objects: {}", id, redact(has.status().message()));
      } else if (has.value()) {
        fresh.push_back(id);
      }
    }
    lock.lock();
    if (!fresh.empty()) {
      std::string batch = new_batch_id();
      for (const std::string& id : fresh)
        enqueue_locked(id, batch, "new objects");
      drop_empty_batch_locked(batch);
      cv_.notify_all();
    }
  }
}

namespace {

// "2026-11-25T14:42:05.452Z" -> a time point; nullopt when it does not parse.
std::optional<Clock::time_point> parse_iso(const std::string& iso) {
  std::tm tm{};
  if (sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
             &tm.tm_min, &tm.tm_sec) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return Clock::from_time_t(timegm(&tm));
}

}  // namespace

void Daemon::catch_up_locked(Clock::time_point now) {
  std::string batch;
  for (auto& [id, s] : sched_) {
    if (s.status.schedule.empty() || !s.status.job.enabled || !s.status.error.empty()) continue;
    RunFilter f;
    f.job_id = id;
    f.limit = 1;
    auto last = meta_->list_runs(f);
    if (!last.ok() || last->empty()) continue;  // never ran: nothing was missed
    auto since = parse_iso(last->front().queued_at);
    if (!since) continue;
    size_t max = s.status.catchup == "all" ? 100 : 1;
    auto missed = missed_cron_ticks(s.status.schedule, project_->timezone, *since, now, max);
    if (!missed.ok() || missed->empty()) continue;
    if (batch.empty()) batch = new_batch_id();
    if (s.status.catchup == "all") {
      for (size_t i = 0; i < missed->size(); ++i)  // each its own run (not coalesced)
        enqueue_locked(id, batch, "catchup", s.status.job);
    } else {
      enqueue_locked(id, batch, "catchup");
    }
    (void)audit(
        *meta_, 0, id, "info", "catchup",
        fmt::format("{} cron ticks missed since {}; {} queued", missed->size(),
                    last->front().queued_at, s.status.catchup == "all" ? missed->size() : 1),
        {{"missed", missed->size()}, {"catchup", s.status.catchup}});
  }
  drop_empty_batch_locked(batch);
}

void Daemon::enforce_timeouts_locked(Clock::time_point now) {
  for (auto& [run_id, d] : deadlines_) {
    if (d.at > now) continue;
    auto flag = cancel_flags_.find(run_id);
    if (flag == cancel_flags_.end() || flag->second->load()) continue;
    *flag->second = true;
    (void)audit(*meta_, run_id, d.job_id, "error", "run_timed_out",
                fmt::format("cancelled: the run took longer than its timeout ({:.1f}s)",
                            d.timeout.count() / 1000.0),
                {{"timeout_seconds", d.timeout.count() / 1000.0}});
  }
}

void Daemon::push_locked(Item item) {
  std::pair<int, int64_t> key{-item.priority, item.run_id};
  if (!item.definition) plain_queued_[item.job_id] = key;
  queue_.emplace(key, std::move(item));
}

Daemon::Item Daemon::take_locked(std::map<std::pair<int, int64_t>, Item>::iterator it) {
  Item item = std::move(it->second);
  if (auto plain = plain_queued_.find(item.job_id);
      plain != plain_queued_.end() && plain->second == it->first)
    plain_queued_.erase(plain);
  queue_.erase(it);
  return item;
}

std::map<std::pair<int, int64_t>, Daemon::Item>::iterator Daemon::pick_locked(
    Clock::time_point now) {
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    const Item& item = it->second;
    if (item.not_before > now) continue;
    if (running_jobs_.count(item.job_id)) continue;  // never twice at once
    auto limit = connection_limits_.find(item.connection);
    if (limit != connection_limits_.end()) {
      auto used = running_per_connection_.find(item.connection);
      if (used != running_per_connection_.end() && used->second >= limit->second) continue;
    }
    return it;  // the queue's order is the preference order
  }
  return queue_.end();
}

void Daemon::worker_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (!ended_batches_.empty()) {  // before stopping too: a batch that ended is finished
      auto batch = std::move(ended_batches_.front());
      ended_batches_.pop_front();
      lock.unlock();
      finish_batch(batch.first, batch.second);
      lock.lock();
      continue;
    }
    if (stopping_) return;  // queued runs stay queued for the next start
    auto picked = pick_locked(Clock::now());
    if (picked == queue_.end()) {
      cv_.wait_for(lock, std::chrono::milliseconds(200));
      continue;
    }
    run_item(lock, take_locked(picked));
  }
}

void Daemon::claim_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    auto claimed = meta_->claim_next_run(me_, options_.lease);
    lock.lock();
    if (!claimed.ok()) {
      spdlog::warn("claiming a queued run: {}", redact(claimed.status().message()));
      cv_.wait_for(lock, std::chrono::seconds(1));
      continue;
    }
    if (!claimed->has_value()) {
      cv_.wait_for(lock, options_.claim_poll);
      continue;
    }
    const RunRow& row = **claimed;
    Item item;
    item.run_id = row.id;
    item.job_id = row.job_id;
    item.batch_id = row.batch_id;
    item.load_id = row.load_id;
    item.attempt = row.attempt;
    item.definition = definition_of_run(row);
    item.claimed = true;
    if (auto it = sched_.find(row.job_id); it != sched_.end())
      item.connection = it->second.status.source_connection;
    run_item(lock, std::move(item));
  }
}

void Daemon::run_item(std::unique_lock<std::mutex>& lock, Item item) {
  running_jobs_.insert(item.job_id);
  running_per_connection_[item.connection]++;
  auto cancel = std::make_shared<std::atomic<bool>>(cancel_all_.load());
  cancel_flags_[item.run_id] = cancel;
  auto project = project_;
  JobDefinition def;
  if (auto it = sched_.find(item.job_id); it != sched_.end()) {
    if (it->second.status.timeout.count() > 0) {
      deadlines_[item.run_id] = {Clock::now() + it->second.status.timeout, item.job_id,
                                 it->second.status.timeout};
    }
    it->second.status.queued = false;
    it->second.status.running = true;
    def = item.definition ? *item.definition : it->second.status.job;
  }
  lock.unlock();

  RunOutcome out;
  out.run_id = item.run_id;
  out.job_id = item.job_id;
  if (def.id.empty()) {
    out.state = RunState::kCancelled;
    out.error = "the job was removed from the config table before its run started";
    RunRow row;
    row.id = item.run_id;
    row.state = out.state;
    row.error = out.error;
    (void)meta_->finish_run(row);
  } else {
    RunRequest req;
    req.project = project.get();
    req.job = def;
    req.run_id = item.run_id;
    req.load_id = item.load_id;
    req.batch_id = item.batch_id;
    req.cancel = cancel.get();
    req.claimed = item.claimed;
    req.worker = me_;
    out = run_job(*meta_, req);
  }
  if (out.not_started) {  // start_run refused it: another worker has it, or had it
    auto row = meta_->get_run(item.run_id);
    if (row.ok() && row->has_value() && (*row)->state == RunState::kRunning) {
      // Follow it there (watch_remote_locked).
      lock.lock();
      cancel_flags_.erase(item.run_id);
      deadlines_.erase(item.run_id);
      if (--running_per_connection_[item.connection] <= 0)
        running_per_connection_.erase(item.connection);
      remote_[item.run_id] = std::move(item);
      sched_cv_.notify_all();
      return;
    }
    if (row.ok() && row->has_value() && (*row)->state != RunState::kQueued) {
      out.state = (*row)->state;  // another worker ran it already: its outcome counts
      out.error = (*row)->error;
      out.retryable = (*row)->retryable;
    }
  }

  lock.lock();
  cancel_flags_.erase(item.run_id);
  deadlines_.erase(item.run_id);
  running_jobs_.erase(item.job_id);
  if (--running_per_connection_[item.connection] <= 0)
    running_per_connection_.erase(item.connection);
  complete_locked(item, out);
}

void Daemon::complete_locked(const Item& item, const RunOutcome& out) {
  if (auto it = sched_.find(item.job_id); it != sched_.end()) {
    Sched& s = it->second;
    s.status.running = false;
    s.last_end = Clock::now();
    s.ever_ran = true;
    if (!s.status.every.empty()) compute_next_locked(s, s.last_end);
    if (s.status.on == "new_objects") s.status.next_run = s.last_end;  // check again now
    // The scheduler and the poller wake for what changes their plans only: with thousands of
    // jobs, every run's end waking them would cost a pass over every job.
    if (!s.status.every.empty() || s.status.on == "new_objects") sched_cv_.notify_all();
  }
  if (stopping_) sched_cv_.notify_all();  // it waits for the running runs to end
  cv_.notify_all();
  if (options_.worker) {  // the scheduling daemon owns retries and batches
    count_outcome(counters_, out.state);
    return;
  }
  int max_attempts = 1;
  std::string backoff;
  if (out.retryable && project_) {
    JobDefinition def = item.definition ? *item.definition : JobDefinition{};
    if (!item.definition) {
      if (auto it = sched_.find(item.job_id); it != sched_.end()) def = it->second.status.job;
    }
    auto spec = resolve_job(*project_, def, "", no_env());
    if (spec.ok()) {
      max_attempts = std::max(1, spec->max_attempts);
      backoff = spec->backoff;
    }
  }
  if (out.retryable && item.attempt < max_attempts && !stopping_) {
    auto next = meta_->create_run(NewRun{item.job_id, item.batch_id, item.attempt + 1, item.load_id,
                                         definition_json(item.definition), item.priority});
    if (next.ok()) {
      auto delay = retry_delay(backoff, item.attempt);
      (void)audit(*meta_, item.run_id, item.job_id, "warn", "run_retry",
                  fmt::format("attempt {} of {} in {:.1f}s after: {}", item.attempt + 1,
                              max_attempts, delay.count() / 1000.0, out.error));
      Item again = item;
      again.run_id = next.value();
      again.attempt++;
      again.claimed = false;
      again.not_before = Clock::now() + delay;  // same load id: committed once at most
      push_locked(std::move(again));
      if (auto it = sched_.find(item.job_id); it != sched_.end()) it->second.status.queued = true;
      return;
    }
  }
  count_outcome(counters_, out.state);
  auto b = batches_.find(item.batch_id);
  if (b != batches_.end()) {
    b->second.states[item.job_id] = out.state;
    if (--b->second.pending == 0) {
      ended_batches_.emplace_back(b->first, std::move(b->second));
      batches_.erase(b);
    }
  }
}

void Daemon::keep_leases_locked() {
  auto renewed = meta_->renew_leases(me_, options_.lease);
  if (!renewed.ok()) {
    spdlog::warn("renewing run leases: {}", redact(renewed.status().message()));
  } else {
    std::set<int64_t> now(renewed->begin(), renewed->end());
    for (int64_t id : leased_) {
      auto flag = cancel_flags_.find(id);
      if (now.count(id) || flag == cancel_flags_.end() || flag->second->load()) continue;
      *flag->second = true;  // another worker has it now (or will): stop ours
      spdlog::warn("run {}: its lease expired and it was queued again; stopping it here", id);
    }
    leased_ = std::move(now);
  }
  auto requeued = meta_->requeue_expired_runs();
  if (!requeued.ok()) {
    spdlog::warn("requeueing runs of lost workers: {}", redact(requeued.status().message()));
    return;
  }
  for (const RunRow& r : requeued.value()) {
    (void)audit(*meta_, r.id, r.job_id, "warn", "run_requeued",
                fmt::format("worker {} stopped renewing its lease (it died or hung): the run is "
                            "queued again with its load id {}",
                            r.worker, r.load_id),
                {{"worker", r.worker}, {"load_id", r.load_id}});
  }
  if (!requeued->empty()) cv_.notify_all();
}

void Daemon::watch_remote_locked() {
  std::vector<int64_t> ids;
  for (const auto& [id, item] : remote_)
    ids.push_back(id);
  for (int64_t id : ids) {
    auto row = meta_->get_run(id);
    if (!row.ok() || !row->has_value()) continue;
    const RunRow& r = **row;
    if (r.state == RunState::kRunning) continue;
    Item item = std::move(remote_[id]);
    remote_.erase(id);
    running_jobs_.erase(item.job_id);
    if (r.state == RunState::kQueued) {  // its worker was lost: ours to run again
      item.load_id = r.load_id.empty() ? item.load_id : r.load_id;
      item.claimed = false;
      push_locked(std::move(item));
      if (auto it = sched_.find(item.job_id); it != sched_.end()) {
        it->second.status.running = false;
        it->second.status.queued = true;
      }
      cv_.notify_all();
      continue;
    }
    RunOutcome out;
    out.run_id = id;
    out.job_id = item.job_id;
    out.state = r.state;
    out.error = r.error;
    out.retryable = r.retryable;
    complete_locked(item, out);
  }
}

void Daemon::finish_batch(const std::string& batch_id, const Batch& batch) {
  auto project = this->project();
  auto transforms = run_transforms(*meta_, *project, batch_id, batch.states);
  after_batch(*meta_, *project, batch_id);
  size_t failed = 0;
  for (const auto& [job, state] : batch.states)
    failed += state != RunState::kSucceeded;
  for (const auto& t : transforms)
    failed += t.state != RunState::kSucceeded;
  (void)audit(*meta_, 0, "", failed ? "warn" : "info", failed ? "batch_failed" : "batch_succeeded",
              fmt::format("batch {}: {} jobs, {} transforms, {} not succeeded", batch_id,
                          batch.states.size(), transforms.size(), failed),
              {{"batch_id", batch_id}});
}

}  // namespace ferry::server
