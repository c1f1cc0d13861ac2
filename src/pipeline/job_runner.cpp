#include "pipeline/job_runner.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <random>

#include "core/infer.h"
#include "core/names.h"
#include "core/redact.h"
#include "formats/json_reader.h"
#include "meta/encoding.h"
#include "normalize/json_text.h"
#include "normalize/normalizer.h"
#include "pipeline/fault.h"
#include "pipeline/registry.h"
#include "pipeline/watermark.h"

namespace ferry {
namespace {

constexpr size_t kMaxRejectsKept = 10000;  // beyond this only the count grows

std::string mode_name(WriteMode m) {
  switch (m) {
    case WriteMode::kAppend:
      return "append";
    case WriteMode::kMerge:
      return "merge";
    case WriteMode::kReplace:
      return "replace";
  }
  return "?";
}

// Pushes what a source reads into the destination: rows directly, JSON through the
// normaliser; counts rows and rejects; tracks the watermark; keeps the new state.
class PipelineSink final : public SourceSink {
 public:
  PipelineSink(const JobSpec& spec, Destination& dst, Metastore& meta, const RunRequest& req,
               nlohmann::json state)
      : spec_(spec),
        dst_(dst),
        meta_(meta),
        req_(req),
        state_(std::move(state)),
        watermark_(spec.incremental.cursor_field) {
    if (!spec.columns.is_object()) return;
    for (auto& [k, v] : spec.columns.items())
      constants_.emplace_back(sanitize_name(k), v.is_string() ? v.get<std::string>() : v.dump());
  }

  Status rows(Batch& batch) override {
    batch.set_table(spec_.table);
    stats_.rows_read += static_cast<int64_t>(batch.num_rows());
    return deliver(batch);
  }

  Status json(std::string_view bytes, JsonLayout layout, std::string_view pointer,
              const Origin& origin) override {
    ensure_normalizer();
    return json_reader_.read(
        bytes, layout, pointer, origin,
        [&](simdjson::dom::element doc, const Origin& where) { return add_record(doc, where); },
        [&](Reject r) -> Status {
          ++stats_.rows_read;
          return reject(std::move(r));
        });
  }

  Status records(simdjson::dom::element value, const Origin& origin) override {
    ensure_normalizer();
    if (value.is_null()) return Status::success();
    simdjson::dom::array list;
    if (value.get_array().get(list)) return add_record(value, origin);
    Origin where = origin;
    if (where.line <= 0) where.line = 1;
    for (simdjson::dom::element record : list) {
      FERRY_TRY(add_record(record, where));
      ++where.line;
    }
    return Status::success();
  }

  Status add_record(simdjson::dom::element doc, const Origin& where) {
    ++stats_.rows_read;
    Status s = normalizer_->add(doc, where);
    if (s.code() == Code::kInvalid) return reject(Reject{where, s.message(), json_text(doc)});
    return s;
  }

  Status declare_fields(std::vector<Field> fields) override {
    if (normalizer_) return Status::invalid("declare_fields after records were pushed");
    root_fields_ = std::move(fields);
    return Status::success();
  }

  void ensure_normalizer() {
    if (!normalizer_) {
      NormalizerOptions o;
      o.root_table = spec_.table;
      o.max_depth = spec_.max_depth;
      o.json_paths = spec_.json_paths;
      o.primary_key = spec_.primary_key;
      o.root_fields = root_fields_;
      o.load_id = req_.load_id;
      normalizer_ = std::make_unique<Normalizer>(o, [this](Batch& b) { return deliver(b); });
    }
  }

  Status reject(Reject r) override {
    ++stats_.rows_rejected;
    if (req_.progress) req_.progress->rejected.fetch_add(1, std::memory_order_relaxed);
    if (r.raw.size() > 65536) r.raw.resize(65536);
    r.reason = redact(r.reason);
    if (rejects_.size() < kMaxRejectsKept) rejects_.push_back(std::move(r));
    if (stats_.rows_rejected > spec_.max_rejects) {
      const Reject& first = rejects_.front();
      std::string where = first.origin.source;
      if (first.origin.line > 0) where += fmt::format(":{}", first.origin.line);
      if (spec_.max_rejects == 0)
        return Status(Code::kRejected,
                      fmt::format("rejected record at {}: {}", where, first.reason));
      const Reject& last = rejects_.back();
      std::string last_where = last.origin.source;
      if (last.origin.line > 0) last_where += fmt::format(":{}", last.origin.line);
      return Status(Code::kRejected,
                    fmt::format("{} rejected records exceed max_rejects {}; the last at {}: {}",
                                stats_.rows_rejected, spec_.max_rejects, last_where, last.reason));
    }
    return Status::success();
  }

  Status set_constant(const std::string& column, std::optional<std::string> value) override {
    // Rows buffered in the normaliser belong to the previous value: deliver them first.
    if (normalizer_) FERRY_TRY(normalizer_->flush());
    std::string name = sanitize_name(column);
    std::erase_if(source_constants_, [&](const auto& c) { return c.first == name; });
    if (value) source_constants_.emplace_back(name, std::move(*value));
    return Status::success();
  }

  void set_state(const std::string& key, nlohmann::json value) override {
    state_[key] = std::move(value);
  }

  void unchanged(std::string reason) override { unchanged_ = std::move(reason); }
  const std::string& unchanged_reason() const { return unchanged_; }

  bool cancelled() const override {
    return req_.cancel && req_.cancel->load(std::memory_order_relaxed);
  }

  // Flushes the normaliser and hands the rejects to the destination.
  Status finish() {
    if (normalizer_) FERRY_TRY(normalizer_->flush());
    if (watermark_.active()) {
      if (auto w = watermark_.value()) state_["watermark"] = *w;
      if (watermark_.missing() > 0) {
        audit("warn", "cursor_missing",
              fmt::format("{} rows had no value in cursor field {} (loaded, not used for the "
                          "watermark)",
                          watermark_.missing(), spec_.incremental.cursor_field),
              {{"rows", watermark_.missing()}});
      }
    }
    if (!rejects_.empty()) FERRY_TRY(dst_.write_rejects(rejects_));
    return Status::success();
  }

  const nlohmann::json& state() const { return state_; }
  const LoadStats& stats() const { return stats_; }
  const std::vector<Reject>& rejects() const { return rejects_; }

 private:
  Status deliver(Batch& batch) {
    if (batch.num_rows() == 0) return Status::success();
    bool root = batch.table() == spec_.table;
    if (root) {
      add_constants(batch);
      if (watermark_.active()) watermark_.observe(batch);
    }
    WriteResult result;
    FERRY_TRY(dst_.write(batch, &result));
    for (const SchemaChange& c : result.changes) {
      bool widen = c.kind == SchemaChange::Kind::kWidenColumn;
      audit(widen ? "warn" : "info", "schema_changed", c.describe(),
            {{"table", c.table},
             {"column", c.column},
             {"change", c.kind == SchemaChange::Kind::kCreateTable ? "create_table"
                        : widen                                    ? "widen_column"
                                                                   : "add_column"},
             {"from", type_name(c.from)},
             {"to", type_name(c.to)}});
    }
    for (Reject& r : result.rejects)
      FERRY_TRY(reject(std::move(r)));
    if (root) {
      stats_.rows_loaded += static_cast<int64_t>(result.rows_written);
      if (req_.progress)
        req_.progress->rows.fetch_add(static_cast<int64_t>(result.rows_written),
                                      std::memory_order_relaxed);
    }
    fault_point_after_batch();
    return Status::success();
  }

  void add_constants(Batch& batch) {
    add_constants(batch, source_constants_);
    add_constants(batch, constants_);  // the job's own `columns:` win over a source's
  }

  void add_constants(Batch& batch, const std::vector<std::pair<std::string, std::string>>& list) {
    for (const auto& [name, value] : list) {
      Column& col = batch.column(batch.column_index(name));
      col.clear();
      for (size_t r = 0; r < batch.num_rows(); ++r)
        append_inferred(col, value);
    }
  }

  void audit(const std::string& level, const std::string& event, const std::string& message,
             nlohmann::json details) {
    (void)ferry::audit(meta_, req_.run_id, spec_.id, level, event, message, std::move(details));
  }

  const JobSpec& spec_;
  Destination& dst_;
  Metastore& meta_;
  const RunRequest& req_;
  nlohmann::json state_;
  LoadStats stats_;
  std::vector<Reject> rejects_;
  std::unique_ptr<Normalizer> normalizer_;
  std::vector<Field> root_fields_;  // declare_fields(), for the normaliser
  JsonReader json_reader_;
  WatermarkTracker watermark_;
  std::vector<std::pair<std::string, std::string>> constants_;
  std::vector<std::pair<std::string, std::string>> source_constants_;
  std::string unchanged_;
};

AuditEvent run_event(const RunRequest& req, const std::string& level, const std::string& event,
                     const std::string& message, nlohmann::json details) {
  AuditEvent e;
  e.run_id = req.run_id;
  e.job_id = req.job.id;
  e.level = level;
  e.event = event;
  e.message = message;
  e.details = std::move(details);
  return e;
}

// Opens the job's destination; `spec` needs only its target resolved.
Result<std::unique_ptr<Destination>> open_destination(const JobSpec& spec,
                                                      const std::string& project_dir) {
  std::string kind = spec.target_connection_options.value("type", "");
  const DestinationDescriptor* d = registry().destination(kind);
  if (!d)
    return Status::invalid("job {}: connection {} (type '{}') cannot be a target", spec.id,
                           spec.target_connection, kind);
  return d->create(spec.target_connection_options, project_dir);
}

struct Attempt {
  Status status;
  bool already_committed = false;
  std::string watermark;
  // Audit rows written with the run's end (in its one write), each with the time it happened.
  std::vector<AuditEvent> events;
};

Attempt attempt(Metastore& meta, const RunRequest& req, LoadStats* stats) {
  const Project& project = *req.project;
  auto env = default_env();
  // The target does not depend on the watermark: resolve once to find the destination.
  auto first = resolve_job(project, req.job, "", env);
  if (!first.ok()) return {first.status()};
  auto dst_r = open_destination(first.value(), project.dir);
  if (!dst_r.ok()) return {dst_r.status()};
  Destination& dst = *dst_r.value();
  auto state_r = dst.read_state(req.job.id);
  if (!state_r.ok()) return {state_r.status()};
  nlohmann::json state = state_r.value();
  std::string watermark = state.value("watermark", "");
  std::string read_from = apply_lookback(watermark, first->incremental.lookback);
  // With no watermark to read from, the first resolution is already the job's spec.
  auto spec_r =
      read_from.empty() ? std::move(first) : resolve_job(project, req.job, read_from, env);
  if (!spec_r.ok()) return {spec_r.status()};
  const JobSpec& spec = spec_r.value();

  const SourceDescriptor* sd = registry().source(spec.source_kind);
  if (!sd)
    return {Status::invalid("job {}: connection {} (type '{}') cannot be a source", spec.id,
                            spec.source_connection, spec.source_kind)};
  std::unique_ptr<Source> source = sd->create();
  SourceContext ctx;
  ctx.job_id = spec.id;
  ctx.project_dir = project.dir;
  ctx.connection = spec.connection;
  ctx.options = spec.source;
  ctx.state = state;
  // What {{watermark}} is in the options: lookback applied, else incremental.initial.
  ctx.watermark = read_from.empty() ? spec.incremental.initial : read_from;
  ctx.full_refresh = spec.mode == WriteMode::kReplace;
  ctx.cursor_field = spec.incremental.cursor_field;
  ctx.committed_watermark = watermark;
  if (Status st = source->open(ctx); !st.is_ok()) return {st};

  LoadSpec load;
  load.job_id = spec.id;
  load.run_id = std::to_string(req.run_id);
  load.load_id = req.load_id;
  load.root_table = spec.table;
  load.mode = spec.mode;
  load.primary_key = spec.primary_key;
  load.schema_policy = spec.schema;
  Status begun = dst.begin(load);
  if (begun.code() == Code::kCancelled) return {Status::success(), true, watermark};
  if (!begun.is_ok()) return {begun};
  std::vector<AuditEvent> events;
  events.push_back(run_event(req, "info", "load_started",
                             fmt::format("loading into {} ({})", spec.table, mode_name(spec.mode)),
                             {{"load_id", req.load_id},
                              {"table", spec.table},
                              {"mode", mode_name(spec.mode)},
                              {"watermark", watermark}}));
  events.back().time = meta::now_iso8601();

  PipelineSink sink(spec, dst, meta, req, state);
  Status st = source->read(sink);
  if (st.is_ok() && !sink.unchanged_reason().empty()) {
    dst.rollback();  // nothing was written: the target keeps its rows
    events.push_back(run_event(req, "info", "load_skipped", sink.unchanged_reason(), {}));
    events.back().time = meta::now_iso8601();
    return {Status::success(), false, watermark, std::move(events)};
  }
  if (st.is_ok()) st = sink.finish();
  *stats = sink.stats();
  if (st.is_ok()) {
    fault_point("before_commit");
    st = dst.commit(sink.state(), sink.stats());
    if (st.is_ok()) fault_point("after_commit");
  }
  if (!st.is_ok()) {
    dst.rollback();
    if (!sink.rejects().empty()) (void)dst.save_failed_rejects(load, sink.rejects());
    return {st, false, "", std::move(events)};
  }
  return {Status::success(), false, sink.state().value("watermark", watermark), std::move(events)};
}

}  // namespace

Result<bool> probe_new_data(const Project& project, const JobDefinition& job) {
  FERRY_ASSIGN(JobSpec spec, resolve_job(project, job, "", default_env()));
  FERRY_ASSIGN(auto dst, open_destination(spec, project.dir));
  FERRY_ASSIGN(nlohmann::json state, dst->read_state(job.id));
  const SourceDescriptor* sd = registry().source(spec.source_kind);
  if (!sd) return Status::invalid("job {}: {} is not a source", job.id, spec.source_connection);
  std::unique_ptr<Source> source = sd->create();
  SourceContext ctx;
  ctx.job_id = spec.id;
  ctx.project_dir = project.dir;
  ctx.connection = spec.connection;
  ctx.options = spec.source;
  ctx.state = std::move(state);
  ctx.full_refresh = spec.mode == WriteMode::kReplace;
  ctx.cursor_field = spec.incremental.cursor_field;
  FERRY_TRY(source->open(ctx));
  return source->has_new();
}

std::string new_load_id(int64_t run_id) {
  // Seeded once per thread: a random_device per call costs more than the rest of a no-op
  // run's scheduling.
  thread_local std::mt19937 rng{std::random_device{}()};
  return fmt::format("{}-{:08x}", run_id, rng());
}

RunOutcome run_job(Metastore& meta, const RunRequest& req) {
  RunOutcome out;
  out.run_id = req.run_id;
  out.job_id = req.job.id;
  auto t0 = std::chrono::steady_clock::now();
  if (req.progress) {
    req.progress->started = t0;
    req.progress->running = true;
  }
  AuditEvent started = run_event(req, "info", "run_started", "run started",
                                 {{"batch_id", req.batch_id}, {"load_id", req.load_id}});
  if (req.claimed) {
    (void)meta.audit(std::move(started));
  } else if (Status st = meta.start_run(req.run_id, req.load_id, {std::move(started)});
             !st.is_ok()) {
    out.not_started = true;
    out.state = RunState::kCancelled;
    out.error = st.message();
    if (req.progress) req.progress->running = false;
    return out;
  }

  Attempt a;
  try {
    a = attempt(meta, req, &out.stats);
  } catch (const Error& e) {
    a.status = e.status();
  } catch (const std::exception& e) {
    a.status = Status::internal("{}", e.what());
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.already_committed = a.already_committed;
  out.watermark = a.watermark;
  if (a.status.is_ok()) {
    out.state = RunState::kSucceeded;
    if (!a.watermark.empty()) (void)meta.set_watermark(req.job.id, a.watermark);
  } else {
    out.state = a.status.code() == Code::kCancelled ? RunState::kCancelled : RunState::kFailed;
    out.error = redact(a.status.message());
    out.retryable = a.status.code() == Code::kRetry;
    out.stats.rows_loaded = 0;  // nothing of a failed run is committed
  }
  RunRow row;
  row.id = req.run_id;
  row.job_id = req.job.id;
  row.batch_id = req.batch_id;
  row.state = out.state;
  row.load_id = req.load_id;
  row.rows_read = out.stats.rows_read;
  row.rows_loaded = out.stats.rows_loaded;
  row.rows_rejected = out.stats.rows_rejected;
  row.error = out.error;
  row.retryable = out.retryable;
  row.worker = req.worker;
  std::vector<AuditEvent> events = std::move(a.events);
  if (out.stats.rows_rejected > 0) {
    events.push_back(
        run_event(req, "warn", "rows_rejected",
                  fmt::format("{} rows rejected (see _ferry_rejects)", out.stats.rows_rejected),
                  {{"rows", out.stats.rows_rejected}}));
  }
  nlohmann::json details = {{"state", run_state_name(out.state)},
                            {"rows_read", out.stats.rows_read},
                            {"rows_loaded", out.stats.rows_loaded},
                            {"rows_rejected", out.stats.rows_rejected},
                            {"seconds", out.seconds},
                            {"watermark", out.watermark}};
  if (out.already_committed) details["already_committed"] = true;
  if (out.state == RunState::kSucceeded) {
    events.push_back(run_event(req, "info", "run_finished",
                               out.already_committed
                                   ? std::string("load was already committed; nothing to do")
                                   : fmt::format("{} rows loaded", out.stats.rows_loaded),
                               details));
  } else {
    details["error"] = out.error;
    events.push_back(run_event(req, "error", "run_failed", out.error, details));
  }
  if (out.state == RunState::kSucceeded && !req.worker.empty()) {
    // A worker's success needs no answer: should the end be refused (the run was taken away
    // meanwhile), its committed load makes the new holder's attempt a no-op. Not waiting for
    // it saves a commit per run (meta/metastore.h).
    meta.finish_run_later(row, std::move(events));
    if (req.progress) req.progress->running = false;
    return out;
  }
  Status finished = meta.finish_run(row, events);
  if (!finished.is_ok() && req.worker.empty()) {
    for (AuditEvent& e : events)  // the run row could not take its end: keep the record
      (void)meta.audit(std::move(e));
  } else if (Status st = finished; !st.is_ok()) {
    // Not ours any more (its lease expired and another worker has it): its holder records it.
    (void)meta.audit(meta::abandoned_run_event(req.run_id, req.job.id, req.worker,
                                               run_state_name(out.state), st.message()));
    out.state = RunState::kCancelled;
    out.retryable = false;
    out.error = st.message();
  }
  if (req.progress) req.progress->running = false;
  return out;
}

}  // namespace ferry
