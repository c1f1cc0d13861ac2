// ferry run, runs, audit, query.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>

#include "cli/commands.h"
#include "cli/table.h"
#include "pipeline/executor.h"
#include "pipeline/registry.h"
#include "pipeline/s3_events.h"

namespace ferry::cli {
namespace {

std::atomic<bool> g_cancel{false};

void on_signal(int) {
  g_cancel = true;
}

std::string rate(int64_t rows, double seconds) {
  return seconds > 0 ? with_commas(static_cast<long long>(rows / seconds)) : "-";
}

std::string first_line(const std::string& s, size_t max) {
  std::string l = s.substr(0, s.find('\n'));
  return l.size() > max ? l.substr(0, max - 3) + "..." : l;
}

// The jobs `ferry run --s3-event FILE [JOB...]` runs, each limited to the keys the event
// names; prints what it found. An empty list (and a message) when the event names nothing
// those jobs read. kInvalid/kNotFound naming the file when it cannot be read or parsed.
Result<std::vector<JobDefinition>> jobs_for_event_file(const Project& project,
                                                       const RunArgs& args) {
  const std::string& path = args.s3_event;
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::not_found("cannot read the S3 event file {}", path);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string name = path == "-" ? "the S3 event on stdin" : path;
  auto events = s3::parse_s3_event(text);
  if (!events.ok()) return events.status().with_context(name);
  FERRY_ASSIGN(std::vector<S3EventRun> runs, jobs_for_s3_event(project, *events, args.jobs));
  std::vector<JobDefinition> jobs;
  for (S3EventRun& r : runs) {
    std::string keys;
    for (const std::string& k : r.keys)
      keys += (keys.empty() ? "" : ", ") + k;
    std::printf("%s: job %s loads %zu object%s: %s\n", name.c_str(), r.job.id.c_str(),
                r.keys.size(), r.keys.size() == 1 ? "" : "s", keys.c_str());
    jobs.push_back(std::move(r.job));
  }
  if (jobs.empty()) {
    size_t created = std::count_if(events->begin(), events->end(), s3::is_object_created);
    std::string which = args.jobs.empty() ? "no enabled s3 job" : "none of the jobs named";
    if (created == 0) {
      std::printf("%s names no created object; nothing to run\n", name.c_str());
    } else {
      const s3::S3EventObject& e =
          *std::find_if(events->begin(), events->end(), s3::is_object_created);
      std::printf(
          "%s names %zu created object%s (e.g. s3://%s/%s), but %s reads them "
          "(bucket, prefix and pattern); nothing to run\n",
          name.c_str(), created, created == 1 ? "" : "s", e.bucket.c_str(), e.key.c_str(),
          which.c_str());
    }
  }
  return jobs;
}

}  // namespace

int cmd_run(const Context& ctx, const RunArgs& args) {
  auto files = load_files(ctx);
  if (!files.ok()) return fail(files.status());
  auto meta_r = open_meta(files.value());
  if (!meta_r.ok()) return fail(meta_r.status());
  Metastore& meta = *meta_r.value();
  auto project = applied_project(meta, files.value());
  if (!project.ok()) return fail(project.status());
  auto current = meta.current_version();
  if (current.ok() && current.value() &&
      current.value()->project.value("connections", nlohmann::json()) !=
          files->to_json().value("connections", nlohmann::json()))
    std::fprintf(stderr,
                 "ferry: note: the project files differ from the applied config (version %lld); "
                 "`ferry apply` to use them\n",
                 static_cast<long long>(current.value()->version));

  std::vector<JobDefinition> selected;
  if (!args.s3_event.empty()) {
    if (args.all && !args.jobs.empty())
      return fail(Status::invalid("ferry run: name jobs, or --all (not both)"));
    auto from_event = jobs_for_event_file(project.value(), args);
    if (!from_event.ok()) return fail(from_event.status());
    if (from_event->empty()) return kExitOk;
    selected = std::move(from_event.value());
  } else if (args.all == !args.jobs.empty()) {
    return fail(Status::invalid("ferry run: name jobs, or --all (not both)"));
  } else if (args.all) {
    for (const auto& j : project->jobs)
      if (j.enabled) selected.push_back(j);
  } else {
    std::vector<std::string> ids;
    for (const auto& j : project->jobs)
      ids.push_back(j.id);
    for (const std::string& id : args.jobs) {
      auto it = std::find_if(project->jobs.begin(), project->jobs.end(),
                             [&](const JobDefinition& j) { return j.id == id; });
      if (it == project->jobs.end()) {
        std::string hint = did_you_mean(id, ids);
        return fail(Status::invalid("no job '{}' in the config table{}", id,
                                    hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
      }
      selected.push_back(*it);
    }
  }
  if (selected.empty()) {
    std::printf("no enabled jobs to run\n");
    return kExitOk;
  }
  BatchOptions opts;
  opts.concurrency = args.concurrency > 0 ? args.concurrency : project->concurrency;
  opts.transforms = !args.no_transforms;
  opts.progress = isatty(STDERR_FILENO) != 0;
  opts.cancel = &g_cancel;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  BatchReport report = run_batch(meta, project.value(), selected, opts);

  TextTable t({"job", "state", "read", "loaded", "rejected", "seconds", "rows/s", "error"});
  for (const auto& r : report.runs)
    t.add({r.job_id, run_state_name(r.state), with_commas(r.stats.rows_read),
           with_commas(r.stats.rows_loaded), with_commas(r.stats.rows_rejected),
           fmt::format("{:.2f}", r.seconds), rate(r.stats.rows_loaded, r.seconds),
           r.already_committed ? "already committed" : first_line(r.error, 100)});
  for (const auto& tr : report.transforms)
    t.add({"transform:" + tr.id, run_state_name(tr.state), "", "", "",
           fmt::format("{:.2f}", tr.seconds), "", first_line(tr.error, 100)});
  std::fputs(t.render().c_str(), stdout);
  size_t failed = 0;
  for (const auto& r : report.runs)
    failed += r.state != RunState::kSucceeded;
  for (const auto& tr : report.transforms)
    failed += tr.state != RunState::kSucceeded;
  std::printf("batch %s: %zu jobs, %zu transforms, %zu not succeeded, %.2fs\n",
              report.batch_id.c_str(), report.runs.size(), report.transforms.size(), failed,
              report.seconds);
  for (const auto& r : report.runs)
    if (r.state != RunState::kSucceeded)
      std::fprintf(stderr, "ferry: job %s %s: %s\n", r.job_id.c_str(), run_state_name(r.state),
                   r.error.c_str());
  return report.ok() ? kExitOk : kExitJobFailed;
}

int cmd_runs(const Context& ctx, const std::string& job, int limit) {
  auto files = load_files(ctx);
  if (!files.ok()) return fail(files.status());
  auto meta = open_meta(files.value());
  if (!meta.ok()) return fail(meta.status());
  RunFilter f;
  f.job_id = job;
  f.limit = limit;
  auto runs = (*meta)->list_runs(f);
  if (!runs.ok()) return fail(runs.status());
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : runs.value())
      out.push_back({{"id", r.id},
                     {"job", r.job_id},
                     {"batch", r.batch_id},
                     {"state", run_state_name(r.state)},
                     {"attempt", r.attempt},
                     {"load_id", r.load_id},
                     {"queued_at", r.queued_at},
                     {"started_at", r.started_at},
                     {"finished_at", r.finished_at},
                     {"rows_read", r.rows_read},
                     {"rows_loaded", r.rows_loaded},
                     {"rows_rejected", r.rows_rejected},
                     {"error", r.error}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  TextTable t(
      {"id", "job", "state", "attempt", "started_at", "read", "loaded", "rejected", "error"});
  for (const auto& r : runs.value())
    t.add({std::to_string(r.id), r.job_id, run_state_name(r.state), std::to_string(r.attempt),
           r.started_at, with_commas(r.rows_read), with_commas(r.rows_loaded),
           with_commas(r.rows_rejected), first_line(r.error, 80)});
  std::fputs(t.render().c_str(), stdout);
  return kExitOk;
}

int cmd_audit(const Context& ctx, const std::string& job, int64_t run, int limit) {
  auto files = load_files(ctx);
  if (!files.ok()) return fail(files.status());
  auto meta = open_meta(files.value());
  if (!meta.ok()) return fail(meta.status());
  AuditFilter f;
  f.job_id = job;
  f.run_id = run;
  f.limit = limit;
  auto events = (*meta)->list_audit(f);
  if (!events.ok()) return fail(events.status());
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : events.value())
      out.push_back({{"id", e.id},
                     {"time", e.time},
                     {"run_id", e.run_id},
                     {"job", e.job_id},
                     {"level", e.level},
                     {"event", e.event},
                     {"message", e.message},
                     {"details", e.details}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  TextTable t({"time", "run", "job", "level", "event", "message"});
  for (const auto& e : events.value())
    t.add({e.time, e.run_id ? std::to_string(e.run_id) : "", e.job_id, e.level, e.event,
           first_line(e.message, 100)});
  std::fputs(t.render().c_str(), stdout);
  return kExitOk;
}

int cmd_query(const Context& ctx, const std::string& sql, const std::string& connection) {
  auto files = load_files(ctx);
  if (!files.ok()) return fail(files.status());
  std::string conn_id = connection.empty() ? files->warehouse : connection;
  auto conn = resolve_connection(files.value(), conn_id, default_env());
  if (!conn.ok()) return fail(conn.status());
  const DestinationDescriptor* d = registry().destination(conn->value("type", ""));
  if (!d) return fail(Status::invalid("connection {} is not a warehouse", conn_id));
  auto dst = d->create(conn.value(), files->dir);
  if (!dst.ok()) return fail(dst.status());
  auto rows = (*dst)->query(sql);
  if (!rows.ok()) return fail(rows.status());
  if (rows->empty()) return kExitOk;
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows.value()) {
      nlohmann::json row = nlohmann::json::array();
      for (const auto& c : r)
        row.push_back(c ? nlohmann::json(*c) : nlohmann::json());
      out.push_back(row);
    }
    std::cout << out.dump() << "\n";
    return kExitOk;
  }
  // The first row is the header.
  std::vector<std::string> header;
  for (const auto& c : rows->front())
    header.push_back(c.value_or(""));
  TextTable t(header);
  for (size_t i = 1; i < rows->size(); ++i) {
    std::vector<std::string> row;
    for (const auto& c : (*rows)[i])
      row.push_back(c.value_or("NULL"));
    t.add(std::move(row));
  }
  std::fputs(t.render().c_str(), stdout);
  return kExitOk;
}

}  // namespace ferry::cli
