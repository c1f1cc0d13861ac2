#include "destinations/redshift/redshift_destination.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>

#include <spdlog/spdlog.h>
#include "core/infer.h"

#include "core/names.h"
#include "core/redact.h"
#include "destinations/schema_evolution.h"
#include "s3/aws_credentials.h"

namespace ferry {
namespace {

using redshift::kMaxVarcharBytes;

constexpr const char* kNewInfix = "__ferry_new_";
constexpr size_t kFlushBytes = 1 << 20;  // CSV handed to the stager at a time

// Letters and digits of the load id, at most 8: the suffix of a replace's new tables.
std::string short_load_id(std::string_view load_id) {
  std::string out;
  for (char c : load_id) {
    if (out.size() == 8) break;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) out.push_back(c);
    if (c >= 'A' && c <= 'Z') out.push_back(static_cast<char>(c - 'A' + 'a'));
  }
  return out.empty() ? "load" : out;
}

// A staged key's path part for a table: the name with anything unusual replaced.
std::string key_part(std::string_view name) {
  std::string out;
  for (char c : name) {
    bool plain = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 c == '_' || c == '-' || c == '.';
    out.push_back(plain ? c : '_');
  }
  return out;
}

// Appends `text` as one double-quoted CSV field.
void append_quoted(std::string& out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

// The CSV text of a non-null cell stored as `type` (unquoted; the caller quotes it).
std::string_view value_text(const Column& col, const Cell& c, Type type, std::string& scratch) {
  char buf[40];
  scratch.clear();
  switch (type) {
    case Type::kBool:
      if (c.type == Type::kBool || c.type == Type::kInt) return c.i ? "true" : "false";
      break;
    case Type::kInt:
      if (c.type == Type::kInt || c.type == Type::kBool)
        return scratch = fmt::format_int(c.i).str();
      break;
    case Type::kDouble:
      if (c.type == Type::kDouble) return scratch = fmt::format("{}", c.d);
      if (c.type == Type::kInt) return scratch = fmt::format_int(c.i).str();
      break;
    case Type::kDate:
      if (c.type == Type::kDate) return scratch.assign(buf, format_date(c.i, buf));
      break;
    case Type::kTimestamp:
      if (c.type == Type::kTimestamp || c.type == Type::kDate) {
        int64_t micros = c.type == Type::kDate ? c.i * 86400 * 1000000 : c.i;
        scratch.assign(buf, format_timestamp(micros, buf));  // ...T...[.ffffff]Z
        scratch[10] = ' ';
        scratch.pop_back();
        return scratch += "+00";
      }
      break;
    case Type::kNull:
    case Type::kDecimal:
    case Type::kText:
    case Type::kJson:
      break;
  }
  return col.text(c);  // text, decimals and JSON are their own text
}

// One table of the load in progress.
struct LoadTable {
  std::string name;
  std::optional<TableSchema> stored;   // the warehouse's table when first seen
  std::optional<TableSchema> planned;  // its schema after this load
  std::unique_ptr<redshift::RedshiftStager> stager;
  int64_t rows = 0;
};

class RedshiftDestination final : public Destination {
 public:
  RedshiftDestination(PgConn conn, RedshiftDestinationOptions options)
      : conn_(std::move(conn)),
        o_(std::move(options)),
        s3_(std::make_unique<s3::S3Client>(o_.staging)) {}
  ~RedshiftDestination() override { rollback(); }

  Status init();

  Result<nlohmann::json> read_state(const std::string& job_id) override;
  Status begin(const LoadSpec& load) override;
  Status write(const Batch& batch, WriteResult* result) override;
  Status write_rejects(const std::vector<Reject>& rejects) override;
  Status commit(const nlohmann::json& state, const LoadStats& stats) override;
  void rollback() override;
  Status execute(const std::string& sql) override;
  Result<std::vector<TableSchema>> tables() override;
  Result<std::vector<std::vector<std::optional<std::string>>>> query(
      const std::string& sql) override;
  Status save_failed_rejects(const LoadSpec& load, const std::vector<Reject>& rejects) override;

 private:
  std::string q(const std::string& table) const { return redshift::qualified(o_.schema, table); }
  std::string now() const {
    return redshift::timestamp_text(o_.hooks.now ? o_.hooks.now()
                                                 : std::chrono::system_clock::now());
  }
  Status exec_all(const std::vector<std::string>& statements);
  Result<std::optional<TableSchema>> stored_table(const std::string& table,
                                                  bool* has_load_id = nullptr);
  Result<std::vector<std::string>> table_names(const std::string& prefix);
  Result<LoadTable*> load_table_state(const std::string& name);
  Status stage_rows(LoadTable& t, const Batch& batch, const SchemaPlan& plan, WriteResult* result);
  Status commit_table(LoadTable& t, int* next_stage);
  Status evolve_target(LoadTable& t);
  Status delete_replaced_children(const LoadTable& root, const std::string& stage);
  Status empty_unloaded_tables();
  Status copy_segment(const LoadTable& t, const std::string& stage,
                      const redshift::StagedSegment& seg);
  void remove_staged();

  PgConn conn_;
  RedshiftDestinationOptions o_;
  std::unique_ptr<s3::S3Client> s3_;
  std::optional<LoadSpec> load_;
  std::map<std::string, LoadTable> tables_;
  std::vector<Reject> rejects_;
  int64_t seq_ = 0;  // delivery order of the load's rows
  std::string csv_;  // reused
  std::string scratch_;
};

Status RedshiftDestination::exec_all(const std::vector<std::string>& statements) {
  for (const std::string& sql : statements)
    FERRY_TRY(conn_.exec(sql));
  return Status::success();
}

Status RedshiftDestination::init() {
  FERRY_TRY(exec_all(o_.hooks.session_setup));
  FERRY_TRY(conn_.exec("SET search_path TO " + quote_ident(o_.schema) + ", public"));
  FERRY_ASSIGN(PgResult have,
               conn_.query(fmt::format("SELECT COUNT(*) FROM information_schema.tables WHERE "
                                       "table_schema = {} AND table_name IN ('_ferry_loads', "
                                       "'_ferry_state', '_ferry_rejects')",
                                       redshift::literal(o_.schema))));
  if (have.value(0, 0) == "3") return Status::success();
  return exec_all(redshift::create_ferry_tables(o_.schema)).with_context("creating ferry's tables");
}

Result<nlohmann::json> RedshiftDestination::read_state(const std::string& job_id) {
  auto res = conn_.query(redshift::read_state(o_.schema, job_id));
  if (!res.ok()) return res.status().with_context("reading the state of job " + job_id);
  if (res->rows() == 0) return nlohmann::json::object();
  auto state = nlohmann::json::parse(res->value(0, 0), nullptr, false);
  if (state.is_discarded())
    return Status::io("the state of job {} in _ferry_state is not valid JSON", job_id);
  return state.is_null() ? nlohmann::json::object() : state;
}

Status RedshiftDestination::begin(const LoadSpec& load) {
  if (load_) return Status::internal("begin(): load {} is still in progress", load_->load_id);
  if (load.load_id.empty()) return Status::internal("begin(): the load has no id");
  if (load.mode == WriteMode::kMerge && load.primary_key.empty())
    return Status::invalid("mode merge needs a primary_key (table {})", load.root_table);
  auto claim = redshift::claim_load(o_.schema, load.load_id);
  FERRY_ASSIGN(PgResult res, conn_.query(claim[1]));
  if (res.rows() > 0) return Status(Code::kCancelled, "already committed");
  load_ = load;
  seq_ = 0;
  return Status::success();
}

void RedshiftDestination::remove_staged() {
  for (auto& [name, t] : tables_) {
    if (!t.stager) continue;
    Status st = t.stager->remove();
    if (!st)
      spdlog::warn("redshift: staged objects of {} not deleted: {}", name, redact(st.message()));
  }
}

void RedshiftDestination::rollback() {
  if (conn_.connected() && conn_.in_transaction()) static_cast<void>(conn_.exec("ROLLBACK"));
  remove_staged();
  tables_.clear();
  rejects_.clear();
  load_.reset();
}

// The table's columns but _ferry_load_id; *has_load_id tells whether it has that one.
Result<std::optional<TableSchema>> RedshiftDestination::stored_table(const std::string& table,
                                                                     bool* has_load_id) {
  if (has_load_id) *has_load_id = false;
  FERRY_ASSIGN(PgResult res, conn_.query(redshift::columns_query(o_.schema, table)));
  if (res.rows() == 0) return std::optional<TableSchema>();
  TableSchema out;
  out.name = table;
  for (int r = 0; r < res.rows(); ++r) {
    std::string col(res.value(r, 0));
    if (col == kLoadIdColumn) {
      if (has_load_id) *has_load_id = true;
      continue;
    }
    out.fields.push_back(Field{col, redshift::type_of(res.value(r, 1)), true});
  }
  return std::optional<TableSchema>(std::move(out));
}

// Tables of the schema named `prefix` or starting with it (ferry's and new versions excluded).
Result<std::vector<std::string>> RedshiftDestination::table_names(const std::string& prefix) {
  FERRY_ASSIGN(PgResult res, conn_.query(redshift::tables_query(o_.schema, prefix)));
  std::vector<std::string> out;
  for (int r = 0; r < res.rows(); ++r) {
    std::string name(res.value(r, 0));
    if (name.find(kNewInfix) == std::string::npos) out.push_back(std::move(name));
  }
  return out;
}

Result<LoadTable*> RedshiftDestination::load_table_state(const std::string& name) {
  auto it = tables_.find(name);
  if (it != tables_.end()) return &it->second;
  if (name.starts_with("_ferry_") || name.find(kNewInfix) != std::string::npos)
    return Status::invalid("table name {} is reserved", name);
  LoadTable t;
  t.name = name;
  FERRY_ASSIGN(t.stored, stored_table(name));
  if (t.stored) t.planned = *t.stored;
  std::string prefix = o_.prefix + key_part(load_->load_id) + "/" + key_part(name) + "/";
  t.stager = std::make_unique<redshift::RedshiftStager>(*s3_, prefix, o_.part_bytes);
  return &tables_.emplace(name, std::move(t)).first->second;
}

Status RedshiftDestination::stage_rows(LoadTable& t, const Batch& batch, const SchemaPlan& plan,
                                       WriteResult* result) {
  struct Out {
    const Column* column;
    size_t index;
    const Field* field;
  };
  std::vector<Out> outs;
  std::vector<std::string> columns;
  for (size_t ci = 0; ci < batch.num_columns(); ++ci) {
    int f = plan.column_field[ci];
    if (f < 0) continue;
    const Field& field = plan.table.fields[static_cast<size_t>(f)];
    outs.push_back(Out{&batch.column(ci), ci, &field});
    columns.push_back(field.name);
  }
  columns.push_back(redshift::kSeqColumn);
  FERRY_TRY(t.stager->set_columns(columns));
  csv_.clear();
  int64_t rows = 0;  // in csv_
  int64_t total = 0;
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    if (plan.skipped(r)) continue;
    size_t row_start = csv_.size();
    std::string too_long;  // the column of a value over the VARCHAR limit
    size_t too_long_bytes = 0;
    for (const Out& o : outs) {
      const Cell& c = o.column->cells()[r];
      if (c.is_null() || plan.nulled(o.index, r)) {
        csv_ += "\\N,";
        continue;
      }
      std::string_view v = value_text(*o.column, c, o.field->type, scratch_);
      if (o.field->type == Type::kText && v.size() > kMaxVarcharBytes) {
        if (!o_.truncate_long_text) {
          too_long = o.field->name;
          too_long_bytes = v.size();
          break;
        }
        v = redshift::utf8_prefix(v, kMaxVarcharBytes);
      }
      append_quoted(csv_, v);
      csv_.push_back(',');
    }
    if (!too_long.empty()) {
      csv_.resize(row_start);
      Reject rej;
      rej.origin.source = batch.origin_source();
      if (r < batch.row_lines().size()) rej.origin.line = batch.row_lines()[r];
      rej.reason = fmt::format(
          "value of column {} is {} bytes, longer than Redshift's VARCHAR limit of {} bytes "
          "(set long_text: truncate to cut such values)",
          too_long, too_long_bytes, kMaxVarcharBytes);
      rej.raw = std::string(redshift::utf8_prefix(row_as_json(batch, r), 64 * 1024));
      if (result) result->rejects.push_back(std::move(rej));
      continue;
    }
    csv_ += fmt::format_int(++seq_).c_str();
    csv_.push_back('\n');
    ++rows;
    ++total;
    if (csv_.size() >= std::min(kFlushBytes, o_.part_bytes)) {
      FERRY_TRY(t.stager->append(csv_, rows));
      t.rows += rows;
      csv_.clear();
      rows = 0;
    }
  }
  FERRY_TRY(t.stager->append(csv_, rows));
  t.rows += rows;
  if (result) result->rows_written += static_cast<size_t>(total);
  return Status::success();
}

Status RedshiftDestination::write(const Batch& batch, WriteResult* result) {
  if (!load_) return Status::internal("write(): no load in progress");
  if (batch.table().empty()) return Status::internal("write(): the batch has no table name");
  for (const Column& col : batch.columns())
    if (col.size() != batch.num_rows())
      return Status::internal("write(): column {} of table {} has {} values for {} rows",
                              col.name(), batch.table(), col.size(), batch.num_rows());
  FERRY_ASSIGN(LoadTable * t, load_table_state(batch.table()));
  PlanOptions options;
  options.policy = load_->schema_policy;
  options.ignore_columns = {kLoadIdColumn, redshift::kSeqColumn};
  if (load_->mode == WriteMode::kMerge && t->name == load_->root_table)
    options.primary_key = load_->primary_key;
  FERRY_ASSIGN(SchemaPlan plan, plan_schema(t->planned ? &*t->planned : nullptr, batch, options));
  t->planned = plan.table;
  if (result) {
    result->changes.insert(result->changes.end(), plan.changes.begin(), plan.changes.end());
    result->rejects.insert(result->rejects.end(), plan.rejects.begin(), plan.rejects.end());
  }
  if (plan.rows_to_write(batch) == 0) return Status::success();
  return stage_rows(*t, batch, plan, result).with_context("staging the rows of table " + t->name);
}

Status RedshiftDestination::write_rejects(const std::vector<Reject>& rejects) {
  if (!load_) return Status::internal("write_rejects(): no load in progress");
  rejects_.insert(rejects_.end(), rejects.begin(), rejects.end());
  return Status::success();
}

// Brings the target table up to the planned schema (creates it when missing).
Status RedshiftDestination::evolve_target(LoadTable& t) {
  std::string target = q(t.name);
  if (!t.stored)
    return conn_.exec(redshift::create_table(target, t.planned->fields, o_.hooks.dialect))
        .with_context("creating table " + t.name);
  for (const Field& f : t.planned->fields) {
    const Field* old = t.stored->find(f.name);
    if (!old) {
      FERRY_TRY(conn_.exec(redshift::add_column(target, f, o_.hooks.dialect))
                    .with_context("evolving table " + t.name));
    } else if (old->type != f.type) {
      FERRY_TRY(exec_all(redshift::widen_column(target, f.name, f.type, o_.hooks.dialect))
                    .with_context("widening column " + f.name + " of table " + t.name));
    }
  }
  return Status::success();
}

// merge: the child rows of every root row this load re-delivers go, so the record's children
// are the ones delivered now (as the postgres destination does). Runs after the root's rows are
// in `stage` and before they replace the target's: the ids of the replaced rows are read from
// the target.
Status RedshiftDestination::delete_replaced_children(const LoadTable& root,
                                                     const std::string& stage) {
  const Field* id = root.planned ? root.planned->find(kRowIdColumn) : nullptr;
  if (!id || !root.stored) return Status::success();
  const bool target_has_id = root.stored->find(kRowIdColumn) != nullptr;
  FERRY_ASSIGN(std::vector<std::string> names, table_names(root.name + kNestSeparator));
  for (const std::string& child : names) {
    bool has_load_id = false;
    FERRY_ASSIGN(auto stored, stored_table(child, &has_load_id));
    const Field* root_id = stored ? stored->find(kRootIdColumn) : nullptr;
    if (!has_load_id || !root_id) continue;
    FERRY_TRY(exec_all(redshift::delete_replaced_children(q(child), q(root.name), stage,
                                                          load_->primary_key, target_has_id,
                                                          root_id->type != id->type))
                  .with_context("deleting replaced child rows of " + child));
  }
  return Status::success();
}

// replace: known tables of the root (itself and its child tables) that got no rows in this
// load are emptied, keeping their schema (as the postgres destination does).
Status RedshiftDestination::empty_unloaded_tables() {
  const std::string& root = load_->root_table;
  FERRY_ASSIGN(std::vector<std::string> names, table_names(root));
  for (const std::string& name : names) {
    auto it = tables_.find(name);
    if (it != tables_.end() && it->second.planned) continue;  // swapped in
    if (name != root) {
      if (!name.starts_with(root + kNestSeparator)) continue;
      bool has_load_id = false;
      FERRY_ASSIGN(auto stored, stored_table(name, &has_load_id));
      if (!stored || !has_load_id ||
          (!stored->find(kRootIdColumn) && !stored->find(kParentIdColumn)))
        continue;  // not a child table of this root
    }
    FERRY_TRY(conn_.exec(redshift::empty_table(q(name))).with_context("emptying table " + name));
  }
  return Status::success();
}

Status RedshiftDestination::copy_segment(const LoadTable& t, const std::string& stage,
                                         const redshift::StagedSegment& seg) {
  RedshiftCopyStep step;
  step.sql = redshift::copy_from_manifest(stage, seg.columns, o_.staging.bucket, seg.manifest_key,
                                          o_.staging.region, o_.copy_auth);
  step.staging_table = stage;
  step.segment = &seg;
  step.bucket = o_.staging.bucket;
  Status st = o_.hooks.copy ? o_.hooks.copy(conn_, step) : conn_.exec(step.sql);
  if (st) return st;
  // The transaction is aborted: roll it back, then ask what COPY rejected.
  std::string detail;
  static_cast<void>(conn_.exec("ROLLBACK"));
  if (o_.hooks.read_load_errors) {
    auto errors = conn_.query(redshift::load_errors_query());
    if (!errors.ok()) errors = conn_.query(redshift::load_errors_query_serverless());
    if (errors.ok()) {
      for (int r = 0; r < errors->rows(); ++r)
        detail += fmt::format("; {} line {}, column {}: {} (value '{}')", errors->value(r, 0),
                              errors->value(r, 1), errors->value(r, 2), errors->value(r, 3),
                              errors->value(r, 4));
    }
  }
  return Status(st.code() == Code::kRetry ? Code::kRetry : Code::kInvalid,
                redact(fmt::format("COPY into table {} from s3://{}/{} failed: {}{}", t.name,
                                   o_.staging.bucket, seg.manifest_key, st.message(), detail)));
}

Status RedshiftDestination::commit_table(LoadTable& t, int* next_stage) {
  if (!t.planned) return Status::success();
  std::string stage = quote_ident("_ferry_stage_" + std::to_string(++*next_stage));
  const auto& dialect = o_.hooks.dialect;
  FERRY_TRY(conn_.exec(redshift::create_staging(stage, t.planned->fields, dialect))
                .with_context("creating the staging table of " + t.name));
  for (const redshift::StagedSegment& seg : t.stager->segments())
    if (!seg.manifest_key.empty()) FERRY_TRY(copy_segment(t, stage, seg));
  std::vector<std::string> cols;
  for (const Field& f : t.planned->fields)
    cols.push_back(f.name);
  std::string context = "loading table " + t.name;
  if (load_->mode == WriteMode::kReplace) {
    std::string fresh = q(t.name + kNewInfix + short_load_id(load_->load_id));
    FERRY_TRY(conn_.exec("DROP TABLE IF EXISTS " + fresh).with_context(context));
    FERRY_TRY(conn_.exec(redshift::create_table(fresh, t.planned->fields, dialect))
                  .with_context(context));
    FERRY_TRY(conn_.exec(redshift::append_rows(fresh, stage, cols, load_->load_id))
                  .with_context(context));
  } else {
    FERRY_TRY(evolve_target(t));
    if (load_->mode == WriteMode::kMerge && t.name == load_->root_table) {
      FERRY_TRY(delete_replaced_children(t, stage));
      FERRY_TRY(
          exec_all(redshift::merge_rows(q(t.name), stage, cols, load_->primary_key, load_->load_id))
              .with_context(context));
    } else {
      FERRY_TRY(conn_.exec(redshift::append_rows(q(t.name), stage, cols, load_->load_id))
                    .with_context(context));
    }
  }
  return conn_.exec("DROP TABLE " + stage).with_context(context);
}

Status RedshiftDestination::commit(const nlohmann::json& state, const LoadStats& stats) {
  if (!load_) return Status::internal("commit(): no load in progress");
  Status st = [&]() -> Status {
    std::string state_text = state.dump();
    if (state_text.size() > kMaxVarcharBytes)
      return Status::invalid(
          "the state of job {} is {} bytes, more than _ferry_state holds on Redshift ({})",
          load_->job_id, state_text.size(), kMaxVarcharBytes);
    for (auto& [name, t] : tables_)
      FERRY_TRY(t.stager->finish().with_context("staging the rows of table " + name));
    std::string at = now();
    FERRY_TRY(conn_.exec("BEGIN"));
    auto claim = redshift::claim_load(o_.schema, load_->load_id);
    FERRY_TRY(conn_.exec(claim[0]));
    FERRY_ASSIGN(PgResult claimed, conn_.query(claim[1]));
    if (claimed.rows() > 0) return Status(Code::kCancelled, "already committed");
    FERRY_TRY(
        conn_.exec(redshift::record_load(o_.schema, load_->load_id, load_->job_id, load_->run_id,
                                         stats.rows_loaded, stats.rows_rejected, at)));
    int next_stage = 0;
    // The root first: a merge deletes replaced child rows before the children's rows go in.
    auto root = tables_.find(load_->root_table);
    if (root != tables_.end()) FERRY_TRY(commit_table(root->second, &next_stage));
    for (auto& [name, t] : tables_)
      if (name != load_->root_table) FERRY_TRY(commit_table(t, &next_stage));
    if (load_->mode == WriteMode::kReplace) {
      FERRY_TRY(empty_unloaded_tables());
      for (auto& [name, t] : tables_)
        if (t.planned)
          FERRY_TRY(exec_all(redshift::swap_in(o_.schema, name,
                                               name + kNewInfix + short_load_id(load_->load_id)))
                        .with_context("replacing table " + name));
    }
    std::string rejects = redshift::insert_rejects(o_.schema, load_->job_id, load_->run_id,
                                                   load_->load_id, rejects_, at);
    if (!rejects.empty()) FERRY_TRY(conn_.exec(rejects).with_context("saving rejects"));
    FERRY_TRY(exec_all(redshift::save_state(o_.schema, load_->job_id, state_text, at)));
    return conn_.exec("COMMIT");
  }();
  if (!st) {
    rollback();
    return st.code() == Code::kCancelled ? st : st.with_context("committing the load");
  }
  remove_staged();
  tables_.clear();
  rejects_.clear();
  load_.reset();
  return Status::success();
}

Status RedshiftDestination::save_failed_rejects(const LoadSpec& load,
                                                const std::vector<Reject>& rejects) {
  if (load_) return Status::internal("save_failed_rejects(): a load is in progress");
  if (rejects.empty()) return Status::success();
  return pg_in_transaction(
             conn_,
             [&] {
               return conn_.exec(redshift::insert_rejects(o_.schema, load.job_id, load.run_id,
                                                          load.load_id, rejects, now()));
             })
      .with_context("saving rejects");
}

Status RedshiftDestination::execute(const std::string& sql) {
  if (load_) return Status::internal("execute(): a load is in progress");
  return pg_in_transaction(conn_, [&] { return conn_.exec(sql); }).with_context("executing SQL");
}

Result<std::vector<std::vector<std::optional<std::string>>>> RedshiftDestination::query(
    const std::string& sql) {
  if (load_) return Status::internal("query(): a load is in progress");
  return pg_text_rows(conn_, sql);
}

Result<std::vector<TableSchema>> RedshiftDestination::tables() {
  FERRY_ASSIGN(PgResult names, conn_.query(redshift::tables_query(o_.schema, "")));
  std::vector<TableSchema> out;
  for (int r = 0; r < names.rows(); ++r) {
    std::string name(names.value(r, 0));
    if (name.find(kNewInfix) != std::string::npos) continue;
    FERRY_ASSIGN(auto stored, stored_table(name));
    if (!stored) continue;
    stored->fields.push_back(Field{kLoadIdColumn, Type::kText, true});
    out.push_back(std::move(*stored));
  }
  return out;
}

std::string option(const nlohmann::json& c, const char* key) {
  auto it = c.find(key);
  return it != c.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

Result<std::unique_ptr<Destination>> open_redshift_destination(RedshiftDestinationOptions options) {
  if (options.schema.empty()) return Status::invalid("redshift warehouse: schema is empty");
  if (options.staging.bucket.empty())
    return Status::invalid("redshift warehouse: bucket (the S3 staging bucket) is required");
  if (options.part_bytes == 0) return Status::invalid("redshift warehouse: part size is 0");
  if (!options.prefix.empty() && !options.prefix.ends_with('/')) options.prefix += '/';
  for (const std::string* secret :
       {&options.copy_auth.secret_access_key, &options.copy_auth.session_token,
        &options.staging.credentials.secret_access_key, &options.staging.credentials.session_token})
    if (!secret->empty()) register_secret(*secret);
  auto conn = PgConn::connect(options.connect);
  if (!conn.ok()) return conn.status().with_context("opening the redshift warehouse");
  auto dst = std::make_unique<RedshiftDestination>(std::move(conn).value(), std::move(options));
  Status st = dst->init();
  if (!st) return st.with_context("opening the redshift warehouse");
  return std::unique_ptr<Destination>(std::move(dst));
}

DestinationDescriptor redshift_destination_descriptor() {
  DestinationDescriptor d;
  d.decl.kind = "redshift";
  d.decl.description =
      "Amazon Redshift: rows staged in S3 as gzip CSV, COPY with a manifest, merged in one "
      "transaction";
  d.decl.is_destination = true;
  d.decl.connection_options = pg_connection_options();
  std::vector<OptionDecl> more = {
      {"schema", OptionType::kString, "public",
       "Schema of the warehouse's tables and ferry's own (created when missing).", false, false},
      {"bucket", OptionType::kString, "", "S3 bucket where loads are staged for COPY.", true,
       false},
      {"prefix", OptionType::kString, "ferry-staging/",
       "Key prefix of staged objects (deleted after each load).", false, false},
      {"region", OptionType::kString, "us-east-1",
       "The staging bucket's region (default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1).",
       false, false},
      {"endpoint", OptionType::kString, "",
       "Base URL of an S3-compatible server for staging (tests); empty = AWS.", false, false},
      {"access_key_id", OptionType::kString, "",
       "Access key id for staging (default: AWS_ACCESS_KEY_ID, then the profile); also COPY's "
       "credentials when no iam_role is given.",
       false, false},
      {"secret_access_key", OptionType::kString, "", "Secret access key (from ${ENV}).", false,
       true},
      {"session_token", OptionType::kString, "", "Session token of temporary credentials.", false,
       true},
      {"profile", OptionType::kString, "",
       "Profile of ~/.aws/credentials for staging; default AWS_PROFILE, else default.", false,
       false},
      {"iam_role", OptionType::kString, "",
       "ARN of the IAM role the cluster assumes to read the staged objects (COPY ... IAM_ROLE); "
       "empty = COPY uses the access key.",
       false, false},
      {"long_text", OptionType::kString, "reject",
       "A text value over 65535 bytes (Redshift's VARCHAR limit): reject (its row goes to "
       "_ferry_rejects) | truncate (cut at a UTF-8 character boundary).",
       false, false},
      {"part_size_mb", OptionType::kInt, "64", "Uncompressed CSV size of one staged part (MB).",
       false, false},
  };
  d.decl.connection_options.insert(d.decl.connection_options.end(), more.begin(), more.end());
  d.create = [](const nlohmann::json& c,
                const std::string&) -> Result<std::unique_ptr<Destination>> {
    RedshiftDestinationOptions o;
    FERRY_ASSIGN(o.connect, pg_connect_options(c));
    if (std::string s = option(c, "schema"); !s.empty()) o.schema = s;
    o.staging.bucket = option(c, "bucket");
    if (o.staging.bucket.empty()) return Status::invalid("redshift connection: bucket is required");
    o.staging.region = option(c, "region");
    if (o.staging.region.empty()) {
      const char* r = std::getenv("AWS_REGION");
      if (r == nullptr || *r == '\0') r = std::getenv("AWS_DEFAULT_REGION");
      o.staging.region = r != nullptr && *r != '\0' ? r : "us-east-1";
    }
    o.staging.endpoint = option(c, "endpoint");
    if (c.contains("prefix") && c["prefix"].is_string()) o.prefix = option(c, "prefix");
    s3::CredentialOptions creds{option(c, "access_key_id"), option(c, "secret_access_key"),
                                option(c, "session_token"), option(c, "profile")};
    auto resolved = s3::resolve_credentials(creds);
    if (!resolved.ok()) return resolved.status().with_context("redshift connection (staging)");
    o.staging.credentials = resolved->credentials;
    o.copy_auth.iam_role = option(c, "iam_role");
    if (o.copy_auth.iam_role.empty()) {
      o.copy_auth.access_key_id = o.staging.credentials.access_key_id;
      o.copy_auth.secret_access_key = o.staging.credentials.secret_access_key;
      o.copy_auth.session_token = o.staging.credentials.session_token;
    }
    std::string long_text = option(c, "long_text");
    if (long_text == "truncate") {
      o.truncate_long_text = true;
    } else if (!long_text.empty() && long_text != "reject") {
      return Status::invalid("redshift connection: long_text is '{}'; use reject or truncate",
                             long_text);
    }
    if (auto it = c.find("part_size_mb"); it != c.end() && it->is_number_integer()) {
      int64_t mb = it->get<int64_t>();
      if (mb < 1 || mb > 4096)
        return Status::invalid("redshift connection: part_size_mb must be 1..4096");
      o.part_bytes = static_cast<size_t>(mb) << 20;
    }
    return open_redshift_destination(std::move(o));
  };
  return d;
}

}  // namespace ferry
