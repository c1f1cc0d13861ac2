#include "destinations/postgres/postgres_destination.h"

#include <algorithm>
#include <map>
#include <optional>

#include "core/infer.h"
#include "core/names.h"
#include "core/pg_binary.h"
#include "destinations/schema_evolution.h"

namespace ferry {
namespace {

constexpr const char* kStagingInfix = "__ferry_new_";
constexpr const char* kSeqColumn = "_ferry_seq";  // delivery order in a staging table
constexpr size_t kCopyChunk = 1 << 20;            // bytes sent per PQputCopyData
constexpr size_t kMaxRawBytes = 64 * 1024;

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The column type ferry creates for each of its types.
const char* sql_type(Type type) {
  switch (type) {
    case Type::kBool:
      return "boolean";
    case Type::kInt:
      return "bigint";
    case Type::kDouble:
      return "double precision";
    case Type::kDecimal:
      return "numeric";
    case Type::kDate:
      return "date";
    case Type::kTimestamp:
      return "timestamptz";
    case Type::kJson:
      return "jsonb";
    case Type::kNull:
    case Type::kText:
      break;
  }
  return "text";
}

// ferry's type of a column of PostgreSQL type `typname` (pg_type.typname); types ferry has
// no own type for (uuid, varchar, inet, arrays...) are text.
Type type_of(std::string_view typname) {
  if (typname == "bool") return Type::kBool;
  if (typname == "int2" || typname == "int4" || typname == "int8") return Type::kInt;
  if (typname == "float4" || typname == "float8") return Type::kDouble;
  if (typname == "numeric") return Type::kDecimal;
  if (typname == "date") return Type::kDate;
  if (typname == "timestamp" || typname == "timestamptz") return Type::kTimestamp;
  if (typname == "json" || typname == "jsonb") return Type::kJson;
  return Type::kText;
}

// The expression that converts column `q` of ferry type `from` to `to` (for ALTER COLUMN ...
// TYPE ... USING). Text keeps ferry's canonical spellings (core/infer.h).
std::string convert_expr(const std::string& q, Type from, Type to) {
  if (to == Type::kText) {
    if (from == Type::kTimestamp)
      return fmt::format(
          "regexp_replace(to_char({} AT TIME ZONE 'UTC', "
          "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '\\.000000Z$', 'Z')",
          q);
    return q + "::text";
  }
  return fmt::format("{}::{}", q, sql_type(to));
}

// Letters and digits of the load id, at most 8: the suffix of staging tables.
std::string short_load_id(std::string_view load_id) {
  std::string out;
  for (char c : load_id) {
    if (out.size() == 8) break;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) out.push_back(c);
    if (c >= 'A' && c <= 'Z') out.push_back(static_cast<char>(c - 'A' + 'a'));
  }
  return out.empty() ? "load" : out;
}

// A table in the warehouse as the catalog describes it.
struct StoredTable {
  TableSchema schema;                      // without _ferry_load_id
  std::map<std::string, std::string> sql;  // column -> declared type (format_type)
  bool has_load_id = false;
};

// One table of the load in progress.
struct LoadTable {
  std::string name;                    // logical name (Batch::table())
  std::optional<StoredTable> stored;   // the warehouse's table when first seen
  std::optional<TableSchema> planned;  // its schema after this load (what plans start from)
  std::string stage;                   // where rows are copied to ("" until created)
  // stage is a warehouse table created in the load's transaction, not a TEMP staging table:
  // the table's new version `<name>__ferry_new_<load>` (replace) or the new table itself
  // (append to a table that does not exist yet).
  bool direct = false;
  std::map<std::string, std::string> stage_sql;  // column -> SQL type in staging
  int64_t rows = 0;
  // A value of this load did not fit the binary COPY format: the table's rows go as text.
  bool text_copy = false;
};

// A column of a batch as copy_rows writes it: ferry's type of its field, and the binary
// writer of its column's declared type.
struct CopyField {
  const Column* column;
  size_t index;  // in the batch
  Type type;
  PgBinaryType binary;
};

class PostgresDestination final : public Destination {
 public:
  PostgresDestination(PgConn conn, std::string schema)
      : conn_(std::move(conn)), schema_(std::move(schema)) {}
  ~PostgresDestination() override { rollback(); }

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
  std::string qualified(const std::string& table) const {
    return quote_ident(schema_) + "." + quote_ident(table);
  }
  // The table rows of `t` are copied into.
  std::string stage_name(const LoadTable& t) const {
    return t.direct ? qualified(t.stage) : "pg_temp." + quote_ident(t.stage);
  }
  Result<bool> load_committed(const std::string& load_id);
  Result<std::optional<StoredTable>> load_table(const std::string& table);
  Result<std::vector<std::string>> table_names(const std::string& prefix);
  Result<LoadTable*> load_table_state(const std::string& name);
  std::string stage_type(const LoadTable& t, const Field& f) const;
  Status stage_plan(LoadTable& t, const SchemaPlan& plan);
  Status copy_rows(LoadTable& t, const Batch& batch, const SchemaPlan& plan, size_t* written);
  // The rows of `batch` from row `from` on, into the open COPY: as text, or in binary until a
  // row with a value the binary format cannot carry (*stopped: that row, else num_rows()).
  Status put_rows(const Batch& batch, const SchemaPlan& plan, const std::vector<CopyField>& outs,
                  bool binary, size_t from, size_t* stopped, size_t* written);
  Status finish_copy();
  Status begin_load_tx();

  Status commit_table(LoadTable& t);
  Status evolve_target(LoadTable& t, const std::string& physical, bool create);
  Status ensure_pk_index(const LoadTable& t);
  Status index_new_merge_table(const LoadTable& t);
  Status delete_replaced_children(const LoadTable& root);
  Status empty_unloaded_tables();
  Status swap_in(const LoadTable& t);
  Status insert_rejects(const LoadSpec& load, const std::vector<Reject>& rejects);
  void drop_staging();

  PgConn conn_;
  std::string schema_;
  std::optional<LoadSpec> load_;
  std::map<std::string, LoadTable> tables_;
  std::vector<Reject> rejects_;  // of the load in progress, written at commit
  int next_stage_ = 0;
  bool load_tx_ = false;  // a replace's writes opened the load's transaction
  // The COPY left open by copy_rows ("" = none): its table and columns, and the table's name
  // for messages. Batches with the same ones go on in the same COPY.
  std::string copy_key_, copy_table_;
  bool copy_binary_ = false;  // the open COPY is in binary format
  std::string buf_;           // COPY data, reused
};

// ---------------------------------------------------------------------------------------
// Opening, state, load lifecycle

Status PostgresDestination::init() {
  // Unqualified names in transforms and queries mean the warehouse's schema.
  FERRY_TRY(conn_.exec("SET search_path TO " + quote_ident(schema_) + ", public"));
  // Staging tables live in the session's temp buffers (8 MB by default, then temp files);
  // allocated only as used.
  FERRY_TRY(conn_.exec("SET temp_buffers = '256MB'"));
  FERRY_ASSIGN(PgResult have,
               conn_.query("SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename "
                           "IN ('_ferry_loads', '_ferry_state', '_ferry_rejects')",
                           {schema_}));
  if (have.value(0, 0) == "3") return Status::success();
  // Two ferry processes may open a new warehouse at once: CREATE ... IF NOT EXISTS is not
  // safe against a concurrent create, so the creation is serialized by an advisory lock.
  std::string s = quote_ident(schema_);
  std::string sql = fmt::format(R"sql(
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('ferry warehouse ' || {lit}));
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}._ferry_loads (
  load_id text PRIMARY KEY, job_id text NOT NULL, run_id text,
  committed_at timestamptz NOT NULL DEFAULT now(), rows_loaded bigint, rows_rejected bigint);
CREATE TABLE IF NOT EXISTS {s}._ferry_state (
  job_id text PRIMARY KEY, state jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS {s}._ferry_rejects (
  job_id text, run_id text, load_id text, source text, line bigint, byte_offset bigint,
  reason text, raw text, rejected_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS _ferry_rejects_job ON {s}._ferry_rejects (job_id, rejected_at);
COMMIT;
)sql",
                                fmt::arg("s", s), fmt::arg("lit", quote_literal(schema_)));
  Status st = conn_.exec(sql);
  if (!st) static_cast<void>(conn_.exec("ROLLBACK"));
  return st.with_context("creating ferry's tables");
}

Result<nlohmann::json> PostgresDestination::read_state(const std::string& job_id) {
  auto res = conn_.query(
      fmt::format("SELECT state::text FROM {} WHERE job_id = $1", qualified("_ferry_state")),
      {job_id});
  if (!res.ok()) return res.status().with_context("reading the state of job " + job_id);
  if (res->rows() == 0) return nlohmann::json::object();
  auto state = nlohmann::json::parse(res->value(0, 0), nullptr, false);
  if (state.is_discarded())
    return Status::io("the state of job {} in _ferry_state is not valid JSON", job_id);
  if (state.is_null()) return nlohmann::json::object();
  return state;
}

Result<bool> PostgresDestination::load_committed(const std::string& load_id) {
  FERRY_ASSIGN(PgResult res, conn_.query(fmt::format("SELECT 1 FROM {} WHERE load_id = $1",
                                                     qualified("_ferry_loads")),
                                         {load_id}));
  return res.rows() > 0;
}

Status PostgresDestination::begin(const LoadSpec& load) {
  if (load_) return Status::internal("begin(): load {} is still in progress", load_->load_id);
  if (load.load_id.empty()) return Status::internal("begin(): the load has no id");
  if (load.mode == WriteMode::kMerge && load.primary_key.empty())
    return Status::invalid("mode merge needs a primary_key (table {})", load.root_table);
  FERRY_ASSIGN(bool committed, load_committed(load.load_id));
  if (committed) return Status(Code::kCancelled, "already committed");
  load_ = load;
  return Status::success();
}

void PostgresDestination::drop_staging() {
  std::string sql;
  for (const auto& [name, t] : tables_)
    if (!t.stage.empty() && !t.direct) sql += "DROP TABLE IF EXISTS " + stage_name(t) + ";";
  if (!sql.empty() && conn_.connected()) static_cast<void>(conn_.exec(sql));  // best effort
  tables_.clear();
}

void PostgresDestination::rollback() {
  if (!copy_key_.empty()) conn_.copy_abort("ferry rolled the load back");
  copy_key_.clear();
  // A replace's new tables go with its transaction.
  if (conn_.in_transaction()) static_cast<void>(conn_.exec("ROLLBACK"));
  load_tx_ = false;
  drop_staging();
  rejects_.clear();
  load_.reset();
}

// ---------------------------------------------------------------------------------------
// The catalog

Result<std::optional<StoredTable>> PostgresDestination::load_table(const std::string& table) {
  FERRY_ASSIGN(PgResult res,
               conn_.query("SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname "
                           "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                           "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND "
                           "NOT a.attisdropped ORDER BY a.attnum",
                           {qualified(table)}));
  if (res.rows() == 0) return std::optional<StoredTable>();
  StoredTable out;
  out.schema.name = table;
  for (int r = 0; r < res.rows(); ++r) {
    std::string col(res.value(r, 0));
    if (col == kLoadIdColumn) {
      out.has_load_id = true;
      continue;
    }
    out.schema.fields.push_back(Field{col, type_of(res.value(r, 2)), true});
    out.sql[col] = std::string(res.value(r, 1));
  }
  return std::optional<StoredTable>(std::move(out));
}

// Tables of the schema named `prefix` or starting with it (ferry's and staging excluded).
Result<std::vector<std::string>> PostgresDestination::table_names(const std::string& prefix) {
  FERRY_ASSIGN(PgResult res,
               conn_.query("SELECT tablename FROM pg_tables WHERE schemaname = $1 AND "
                           "left(tablename, length($2)) = $2 ORDER BY tablename",
                           {schema_, prefix}));
  std::vector<std::string> out;
  for (int r = 0; r < res.rows(); ++r) {
    std::string name(res.value(r, 0));
    if (starts_with(name, "_ferry_") || name.find(kStagingInfix) != std::string::npos) continue;
    out.push_back(std::move(name));
  }
  return out;
}

Result<LoadTable*> PostgresDestination::load_table_state(const std::string& name) {
  auto it = tables_.find(name);
  if (it != tables_.end()) return &it->second;
  if (starts_with(name, "_ferry_") || starts_with(name, "pg_") ||
      name.find(kStagingInfix) != std::string::npos)
    return Status::invalid("table name {} is reserved", name);
  LoadTable t;
  t.name = name;
  FERRY_TRY(finish_copy());  // the catalog query needs the connection
  FERRY_ASSIGN(t.stored, load_table(name));
  if (t.stored) t.planned = t.stored->schema;
  return &tables_.emplace(name, std::move(t)).first->second;
}

// ---------------------------------------------------------------------------------------
// Staging

// A column keeps the type it has in the warehouse while ferry's type for it is unchanged
// (an integer or uuid column made outside ferry stays one); otherwise ferry's own type.
std::string PostgresDestination::stage_type(const LoadTable& t, const Field& f) const {
  if (t.stored) {
    const Field* old = t.stored->schema.find(f.name);
    auto it = t.stored->sql.find(f.name);
    if (old && old->type == f.type && it != t.stored->sql.end()) return it->second;
  }
  return sql_type(f.type);
}

Status PostgresDestination::stage_plan(LoadTable& t, const SchemaPlan& plan) {
  if (t.stage.empty()) {
    FERRY_TRY(finish_copy());
    std::string sql;
    const bool replace = load_->mode == WriteMode::kReplace;
    if (replace || !t.stored) {
      // replace, and append or merge to a new table: the rows go straight into the table's
      // new version (or the new table), created in the load's transaction (which commit()
      // finishes): no other session sees it before the commit, a failed or killed load leaves
      // nothing, and the rows are written once instead of into staging and then again into
      // the table (2M rows PG -> PG on 2 busy cores: 17.9 s with staging and INSERT ...
      // SELECT, 11.9 s straight in).
      FERRY_TRY(begin_load_tx());
      t.direct = true;
      if (replace) {
        t.stage = t.name + kStagingInfix + short_load_id(load_->load_id);
        sql = "DROP TABLE IF EXISTS " + stage_name(t) + "; ";
      } else {
        t.stage = t.name;
      }
      sql += "CREATE TABLE " + stage_name(t) + " (";
    } else {
      t.stage = "_ferry_stage_" + std::to_string(++next_stage_);
      sql = "CREATE TEMP TABLE " + quote_ident(t.stage) + " (";
    }
    for (const Field& f : plan.table.fields) {
      std::string type = stage_type(t, f);
      sql += quote_ident(f.name) + " " + type + ", ";
      t.stage_sql[f.name] = type;
    }
    if (!t.direct && load_->mode == WriteMode::kMerge && t.name == load_->root_table) {
      // The delivery order, for the merge's "last row of a key wins". The sequence is this
      // session's own, so values cached in blocks still rise in delivery order; uncached,
      // nextval() cost 0.8 s of a 2M-row COPY of 6.5 s.
      sql += quote_ident(kSeqColumn) + " bigint GENERATED ALWAYS AS IDENTITY (CACHE 8192))";
    } else if (plan.table.fields.empty()) {
      sql += ")";
    } else {
      // The rows alone: a scan of the staging table gives them in delivery order. A direct
      // table's _ferry_load_id is added by the commit, with the load id as its default: a
      // catalog entry instead of ~12 bytes written into every row.
      sql.replace(sql.size() - 2, 2, ")");
    }
    FERRY_TRY(conn_.exec(sql).with_context("creating the staging table of " + t.name));
  } else {
    std::string alter;
    for (const Field& f : plan.table.fields) {
      std::string type = stage_type(t, f);
      auto it = t.stage_sql.find(f.name);
      std::string q = quote_ident(f.name);
      if (it == t.stage_sql.end()) {
        alter += fmt::format("{}ADD COLUMN {} {}", alter.empty() ? "" : ", ", q, type);
      } else if (it->second != type) {
        const Field* before = t.planned ? t.planned->find(f.name) : nullptr;
        Type from = before ? before->type : Type::kText;
        alter += fmt::format("{}ALTER COLUMN {} TYPE {} USING {}", alter.empty() ? "" : ", ", q,
                             type, convert_expr(q, from, f.type));
      }
      t.stage_sql[f.name] = type;
    }
    if (!alter.empty()) {
      FERRY_TRY(finish_copy());
      FERRY_TRY(conn_.exec("ALTER TABLE " + stage_name(t) + " " + alter)
                    .with_context("evolving the staging table of " + t.name));
    }
  }
  t.planned = plan.table;
  return Status::success();
}

// Appends the COPY text form of a non-null cell stored as `type`.
void append_value(std::string& out, const Column& col, const Cell& c, Type type) {
  char buf[40];
  switch (type) {
    case Type::kBool:
      if (c.type == Type::kBool || c.type == Type::kInt) {
        out.push_back(c.i ? 't' : 'f');
        return;
      }
      break;
    case Type::kInt:
      if (c.type == Type::kInt || c.type == Type::kBool) {
        out += fmt::format_int(c.i).c_str();
        return;
      }
      break;
    case Type::kDouble:
      if (c.type == Type::kDouble) {
        fmt::format_to(std::back_inserter(out), "{}", c.d);
        return;
      }
      if (c.type == Type::kInt) {
        out += fmt::format_int(c.i).c_str();
        return;
      }
      break;
    case Type::kDate:
      if (c.type == Type::kDate) {
        out.append(buf, format_date(c.i, buf));
        return;
      }
      break;
    case Type::kTimestamp:
      if (c.type == Type::kTimestamp) {
        out.append(buf, format_timestamp(c.i, buf));
        return;
      }
      if (c.type == Type::kDate) {
        out.append(buf, format_timestamp(c.i * 86400 * 1000000, buf));
        return;
      }
      break;
    case Type::kNull:
    case Type::kDecimal:
    case Type::kText:
    case Type::kJson:
      break;
  }
  // Text, decimals and JSON are their own text; so is any value stored as text.
  pg_copy_escape(col.text(c), out);
}

Status PostgresDestination::copy_rows(LoadTable& t, const Batch& batch, const SchemaPlan& plan,
                                      size_t* written) {
  *written = 0;
  if (plan.rows_to_write(batch) == 0) return Status::success();
  std::vector<CopyField> outs;
  std::string cols;
  bool binary = !t.text_copy;
  for (size_t ci = 0; ci < batch.num_columns(); ++ci) {
    int f = plan.column_field[ci];
    if (f < 0) continue;
    const Field& field = plan.table.fields[static_cast<size_t>(f)];
    auto sql = t.stage_sql.find(field.name);
    std::optional<PgBinaryType> bin =
        sql == t.stage_sql.end() ? std::nullopt : pg_binary_type(sql->second);
    binary = binary && bin.has_value();
    outs.push_back(CopyField{&batch.column(ci), ci, field.type, bin.value_or(PgBinaryType::kText)});
    cols += (cols.empty() ? "" : ", ") + quote_ident(field.name);
  }
  if (outs.empty()) {  // rows of nulls only: they are rows still, as in the other warehouses
    size_t n = plan.rows_to_write(batch);
    FERRY_TRY(finish_copy());
    FERRY_TRY(conn_
                  .exec(fmt::format("INSERT INTO {} SELECT FROM generate_series(1, {})",
                                    stage_name(t), n))
                  .with_context("writing into table " + t.name));
    *written = n;
    t.rows += static_cast<int64_t>(n);
    return Status::success();
  }

  auto failed = [&](const Status& st) {
    Status out = st.with_context("writing into table " + t.name);
    return batch.origin_source().empty() ? out : out.with_context(batch.origin_source());
  };
  size_t row = 0;
  for (;;) {
    // One COPY carries every batch of a table while its columns stay the same: the server
    // takes the rows in while the source reads the next batch, instead of ferry waiting for
    // its verdict on each batch (2M rows PG -> PG replace on 2 busy cores: 11.9 s with a COPY
    // per batch, 6.3 s with one).
    std::string key = "COPY " + stage_name(t) + " (" + cols + ") FROM STDIN";
    if (binary) key += " WITH (FORMAT binary)";
    if (key != copy_key_) {
      FERRY_TRY(finish_copy());
      FERRY_TRY(failed(conn_.copy_in_begin(key)));
      copy_key_ = key;
      copy_table_ = t.name;
      copy_binary_ = binary;
      if (binary) FERRY_TRY(failed(conn_.copy_put(kPgBinaryHeader)));
    }
    size_t stopped = batch.num_rows();
    Status st = put_rows(batch, plan, outs, binary, row, &stopped, written);
    if (!st) {
      conn_.copy_abort("ferry stopped the copy");
      copy_key_.clear();
      return failed(st);
    }
    if (stopped == batch.num_rows()) break;
    // A value the binary format cannot carry (an integer too big for an int4 column, text in
    // a numeric one): this table's rows go on as text, whose verdict is the server's.
    t.text_copy = true;
    binary = false;
    row = stopped;
  }
  t.rows += static_cast<int64_t>(*written);
  return Status::success();
}

Status PostgresDestination::put_rows(const Batch& batch, const SchemaPlan& plan,
                                     const std::vector<CopyField>& outs, bool binary, size_t from,
                                     size_t* stopped, size_t* written) {
  bool any_nulled = false;
  for (const auto& v : plan.null_value)
    any_nulled |= !v.empty();
  *stopped = batch.num_rows();
  buf_.clear();
  for (size_t r = from; r < batch.num_rows() && *stopped == batch.num_rows(); ++r) {
    if (plan.skipped(r)) continue;
    const size_t row_start = buf_.size();
    if (binary) pg_binary_row_start(buf_, static_cast<int>(outs.size()));
    for (size_t k = 0; k < outs.size(); ++k) {
      const CopyField& o = outs[k];
      const Cell& c = o.column->cells()[r];
      const bool null = c.is_null() || (any_nulled && plan.nulled(o.index, r));
      if (binary) {
        if (null) {
          pg_binary_null(buf_);
        } else if (!pg_binary_value(buf_, *o.column, c, o.binary)) {
          buf_.resize(row_start);
          *stopped = r;
          break;
        }
        continue;
      }
      if (k > 0) buf_.push_back('\t');
      if (null) {
        buf_ += "\\N";
      } else {
        append_value(buf_, *o.column, c, o.type);
      }
    }
    if (*stopped != batch.num_rows()) break;
    if (!binary) buf_.push_back('\n');
    ++*written;
    if (buf_.size() >= kCopyChunk) {
      FERRY_TRY(conn_.copy_put(buf_));
      buf_.clear();
    }
  }
  Status st = conn_.copy_put(buf_);
  buf_.clear();
  return st;
}

// Opens the load's transaction, which commit() finishes, unless it is open.
Status PostgresDestination::begin_load_tx() {
  if (load_tx_) return Status::success();
  FERRY_TRY(conn_.exec("BEGIN"));
  load_tx_ = true;
  return Status::success();
}

// Ends the COPY copy_rows left open; its status is the server's verdict on every row sent in
// it (a bad value names its line of the COPY).
Status PostgresDestination::finish_copy() {
  if (copy_key_.empty()) return Status::success();
  copy_key_.clear();
  if (copy_binary_) {
    Status st = conn_.copy_put(kPgBinaryTrailer);
    if (!st) {
      conn_.copy_abort("ferry stopped the copy");
      return st.with_context("writing into table " + copy_table_);
    }
  }
  return conn_.copy_in_end().with_context("writing into table " + copy_table_);
}

Status PostgresDestination::write(const Batch& batch, WriteResult* result) {
  if (!load_) return Status::internal("write(): no load in progress");
  if (batch.table().empty()) return Status::internal("write(): the batch has no table name");
  for (const Column& col : batch.columns())
    if (col.size() != batch.num_rows())
      return Status::internal("write(): column {} of table {} has {} values for {} rows",
                              col.name(), batch.table(), col.size(), batch.num_rows());
  FERRY_ASSIGN(LoadTable * t, load_table_state(batch.table()));
  const bool merge_root = load_->mode == WriteMode::kMerge && t->name == load_->root_table;

  PlanOptions options;
  options.policy = load_->schema_policy;
  options.ignore_columns = {kLoadIdColumn};
  if (merge_root) options.primary_key = load_->primary_key;
  FERRY_ASSIGN(SchemaPlan plan, plan_schema(t->planned ? &*t->planned : nullptr, batch, options));
  FERRY_TRY(stage_plan(*t, plan));
  size_t written = 0;
  FERRY_TRY(copy_rows(*t, batch, plan, &written));
  if (result) {
    result->rows_written += written;
    result->changes.insert(result->changes.end(), plan.changes.begin(), plan.changes.end());
    result->rejects.insert(result->rejects.end(), std::make_move_iterator(plan.rejects.begin()),
                           std::make_move_iterator(plan.rejects.end()));
  }
  return Status::success();
}

// ---------------------------------------------------------------------------------------
// Commit

// Creates `physical` (create) or brings the existing target up to the planned schema.
Status PostgresDestination::evolve_target(LoadTable& t, const std::string& physical, bool create) {
  const TableSchema& planned = *t.planned;
  std::string q = qualified(physical);
  if (create) {
    std::string sql = "CREATE TABLE " + q + " (";
    for (const Field& f : planned.fields)
      sql += quote_ident(f.name) + " " + t.stage_sql[f.name] + ", ";
    sql += quote_ident(kLoadIdColumn) + " text)";
    return conn_.exec(sql).with_context("creating table " + t.name);
  }
  std::string alter;
  auto add = [&](const std::string& clause) { alter += (alter.empty() ? "" : ", ") + clause; };
  for (const Field& f : planned.fields) {
    const Field* old = t.stored->schema.find(f.name);
    std::string col = quote_ident(f.name);
    if (!old) {
      add(fmt::format("ADD COLUMN {} {}", col, t.stage_sql[f.name]));
    } else if (old->type != f.type) {
      add(fmt::format("ALTER COLUMN {} TYPE {} USING {}", col, t.stage_sql[f.name],
                      convert_expr(col, old->type, f.type)));
    }
  }
  if (!t.stored->has_load_id) add("ADD COLUMN " + quote_ident(kLoadIdColumn) + " text");
  if (alter.empty()) return Status::success();
  return conn_.exec("ALTER TABLE " + q + " " + alter).with_context("evolving table " + t.name);
}

Status PostgresDestination::ensure_pk_index(const LoadTable& t) {
  std::vector<std::string> pk = load_->primary_key;
  std::sort(pk.begin(), pk.end());
  std::string array;
  for (const std::string& k : pk)
    array += (array.empty() ? "" : ",") + quote_literal(k);
  // ON CONFLICT (pk) needs a unique index on exactly the key's columns (in any order).
  FERRY_ASSIGN(
      PgResult have,
      conn_.query(
          fmt::format("SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass($1) AND "
                      "i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND "
                      "(SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM "
                      "pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) "
                      "= ARRAY[{}]::text[]",
                      array),
          {qualified(t.name)}));
  if (have.rows() > 0) return Status::success();
  std::string cols;
  for (const std::string& k : load_->primary_key)
    cols += (cols.empty() ? "" : ", ") + quote_ident(k);
  Status st = conn_.exec(fmt::format("CREATE UNIQUE INDEX {} ON {} ({})",
                                     quote_ident("_ferry_pk_" + t.name), qualified(t.name), cols));
  if (!st && st.code() != Code::kRetry)
    return Status::invalid(
        "mode merge needs primary key ({}) to be unique in table {}, but it is not: {}",
        fmt::join(load_->primary_key, ", "), t.name, st.message());
  return st;
}

// merge: the child rows of every root row this load re-delivers go, so the record's children
// are the ones delivered now. Runs before the child tables' rows are inserted.
Status PostgresDestination::delete_replaced_children(const LoadTable& root) {
  if (!root.planned || !root.planned->find(kRowIdColumn) || !root.stored) return Status::success();
  FERRY_ASSIGN(std::vector<std::string> names, table_names(root.name + kNestSeparator));
  const bool target_has_id = root.stored->schema.find(kRowIdColumn) != nullptr;
  std::string on;
  for (const std::string& k : load_->primary_key)
    on += fmt::format("{}t.{} = s.{}", on.empty() ? "" : " AND ", quote_ident(k), quote_ident(k));
  std::string id = quote_ident(kRowIdColumn);
  // The ids the roots have now and those of the rows they replace, as text: a child table's
  // _ferry_root_id and the root's _ferry_id need not have the same type.
  std::string ids = fmt::format("SELECT s.{}::text FROM pg_temp.{} s", id, quote_ident(root.stage));
  if (target_has_id)
    ids += fmt::format(" UNION SELECT t.{}::text FROM {} t JOIN pg_temp.{} s ON {}", id,
                       qualified(root.name), quote_ident(root.stage), on);
  for (const std::string& child : names) {
    FERRY_ASSIGN(auto stored, load_table(child));
    if (!stored || !stored->has_load_id || !stored->schema.find(kRootIdColumn)) continue;
    std::string rid = quote_ident(kRootIdColumn);
    FERRY_TRY(
        conn_.exec(fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                               quote_ident("_ferry_rootid_" + child), qualified(child), rid)));
    FERRY_TRY(
        conn_.exec(fmt::format("DELETE FROM {} WHERE {}::text IN ({})", qualified(child), rid, ids))
            .with_context("deleting replaced child rows of " + child));
  }
  return Status::success();
}

Status PostgresDestination::commit_table(LoadTable& t) {
  if (!t.planned) return Status::success();  // no batch had a column for it
  const bool replace = load_->mode == WriteMode::kReplace;
  const bool merge_root = load_->mode == WriteMode::kMerge && t.name == load_->root_table;
  std::string physical = replace ? t.name + kStagingInfix + short_load_id(load_->load_id) : t.name;
  if (t.direct) {
    // The rows are in place already. Adding a column with a constant default writes no row
    // (PostgreSQL keeps the value in the catalog for the rows that exist); dropping the
    // default then keeps it for them, and rows inserted later name their own load id.
    std::string table = stage_name(t), col = quote_ident(kLoadIdColumn);
    FERRY_TRY(conn_
                  .exec(fmt::format("ALTER TABLE {} ADD COLUMN {} text DEFAULT {}", table, col,
                                    quote_literal(load_->load_id)))
                  .with_context("loading table " + t.name));
    FERRY_TRY(conn_.exec(fmt::format("ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT", table, col))
                  .with_context("loading table " + t.name));
    return merge_root ? index_new_merge_table(t) : Status::success();
  }
  if (replace) {
    FERRY_TRY(conn_.exec("DROP TABLE IF EXISTS " + qualified(physical)));
    FERRY_TRY(evolve_target(t, physical, true));
  } else {
    FERRY_TRY(evolve_target(t, physical, !t.stored));
  }
  if (merge_root) {
    FERRY_TRY(ensure_pk_index(t));
    FERRY_TRY(delete_replaced_children(t));
  }
  std::string cols, exprs, set;
  for (const Field& f : t.planned->fields) {
    std::string q = quote_ident(f.name);
    cols += q + ", ";
    exprs += q + ", ";
    const auto& pk = load_->primary_key;
    if (merge_root && std::find(pk.begin(), pk.end(), f.name) == pk.end())
      set += q + " = EXCLUDED." + q + ", ";
  }
  std::string load_col = quote_ident(kLoadIdColumn);
  cols += load_col;
  exprs += quote_literal(load_->load_id);
  std::string stage = stage_name(t);
  std::string sql;
  if (merge_root) {
    // The last delivered row of a key wins, as if the rows had been upserted one by one
    // (ON CONFLICT cannot touch one row twice in a statement).
    std::string keys;
    for (const std::string& k : load_->primary_key)
      keys += quote_ident(k) + ", ";
    std::string key_list = keys.substr(0, keys.size() - 2);
    sql = fmt::format(
        "INSERT INTO {} ({}) SELECT {} FROM (SELECT DISTINCT ON ({}) * FROM {} ORDER BY {}{} "
        "DESC) s",
        qualified(physical), cols, exprs, key_list, stage, keys, quote_ident(kSeqColumn));
    sql += fmt::format(" ON CONFLICT ({}) DO UPDATE SET {}{} = EXCLUDED.{}", key_list, set,
                       load_col, load_col);
  } else {
    // No ORDER BY: sorting a big staging table costs as much as the insert itself, and a
    // table's rows have no order.
    sql = fmt::format("INSERT INTO {} ({}) SELECT {} FROM {}", qualified(physical), cols, exprs,
                      stage);
  }
  return conn_.exec(sql).with_context("loading table " + t.name);
}

// merge into a table made by this load: its rows went straight in (stage_plan), nothing to
// conflict with, and the key's unique index is built once after the rows are in, which proves
// that no key came twice (plan_schema rejects null keys, so unique means one row per key):
// no sort, no ON CONFLICT. When a key did come twice, the rows of that key but the last
// delivered go first. The last delivered is the last in the table's physical order: COPY
// into a table created in its own transaction always appends (PostgreSQL skips the free
// space map for it, and a rewrite by a widening ALTER keeps the order), and a merge's root
// rows are never inserted otherwise (the rows-of-nulls INSERT cannot hold a key).
Status PostgresDestination::index_new_merge_table(const LoadTable& t) {
  FERRY_TRY(conn_.exec("SAVEPOINT ferry_merge_new"));
  Status st = ensure_pk_index(t);
  if (st) return conn_.exec("RELEASE SAVEPOINT ferry_merge_new");
  if (st.code() == Code::kRetry) return st;
  FERRY_TRY(conn_.exec("ROLLBACK TO SAVEPOINT ferry_merge_new"));
  std::string same;
  for (const std::string& k : load_->primary_key)
    same += fmt::format("a.{} = b.{} AND ", quote_ident(k), quote_ident(k));
  FERRY_TRY(conn_
                .exec(fmt::format("DELETE FROM {} a USING {} b WHERE {}a.ctid < b.ctid",
                                  qualified(t.name), qualified(t.name), same))
                .with_context("keeping the last row of each key in table " + t.name));
  return ensure_pk_index(t);
}

// replace: known tables of the root (itself and its child tables) that got no rows in this
// load are emptied, keeping their schema.
Status PostgresDestination::empty_unloaded_tables() {
  FERRY_ASSIGN(std::vector<std::string> names, table_names(load_->root_table));
  for (const std::string& name : names) {
    auto it = tables_.find(name);
    if (it != tables_.end() && it->second.planned) continue;
    if (name != load_->root_table) {
      if (!starts_with(name, load_->root_table + kNestSeparator)) continue;
      FERRY_ASSIGN(auto stored, load_table(name));
      if (!stored || !stored->has_load_id ||
          (!stored->schema.find(kRootIdColumn) && !stored->schema.find(kParentIdColumn)))
        continue;  // not a child table of this root
    }
    FERRY_TRY(conn_.exec("DELETE FROM " + qualified(name)).with_context("emptying table " + name));
  }
  return Status::success();
}

Status PostgresDestination::swap_in(const LoadTable& t) {
  if (!t.planned) return Status::success();
  std::string physical = t.name + kStagingInfix + short_load_id(load_->load_id);
  FERRY_TRY(conn_.exec("DROP TABLE IF EXISTS " + qualified(t.name))
                .with_context("replacing table " + t.name));
  return conn_
      .exec(fmt::format("ALTER TABLE {} RENAME TO {}", qualified(physical), quote_ident(t.name)))
      .with_context("replacing table " + t.name);
}

Status PostgresDestination::insert_rejects(const LoadSpec& load,
                                           const std::vector<Reject>& rejects) {
  if (rejects.empty()) return Status::success();
  FERRY_TRY(conn_.copy_in_begin(fmt::format(
      "COPY {} (job_id, run_id, load_id, source, line, byte_offset, reason, raw) FROM STDIN",
      qualified("_ferry_rejects"))));
  std::string out;
  for (const Reject& r : rejects) {
    for (const std::string* s : {&load.job_id, &load.run_id, &load.load_id, &r.origin.source}) {
      pg_copy_escape(*s, out);
      out.push_back('\t');
    }
    out += r.origin.line > 0 ? std::to_string(r.origin.line) : "\\N";
    out.push_back('\t');
    out += r.origin.offset >= 0 ? std::to_string(r.origin.offset) : "\\N";
    out.push_back('\t');
    pg_copy_escape(r.reason, out);
    out.push_back('\t');
    pg_copy_escape(std::string_view(r.raw).substr(0, kMaxRawBytes), out);
    out.push_back('\n');
  }
  Status st = conn_.copy_put(out);
  if (!st) {
    conn_.copy_abort("ferry stopped the copy");
    return st;
  }
  return conn_.copy_in_end().with_context("saving rejects");
}

Status PostgresDestination::write_rejects(const std::vector<Reject>& rejects) {
  if (!load_) return Status::internal("write_rejects(): no load in progress");
  rejects_.insert(rejects_.end(), rejects.begin(), rejects.end());
  return Status::success();
}

Status PostgresDestination::commit(const nlohmann::json& state, const LoadStats& stats) {
  if (!load_) return Status::internal("commit(): no load in progress");
  Status st = [&]() -> Status {
    FERRY_TRY(finish_copy());
    if (!load_tx_) FERRY_TRY(conn_.exec("BEGIN"));
    // For this transaction only: a merge's deduplicating sort of the staged rows stays in
    // memory up to ~300k rows of ~130 bytes (64 MB, maintenance_work_mem's default; the
    // default 4 MB spills from ~20k), and no statement pays for JIT compilation (0.3 s of a
    // 2M-row merge's insert, which moves rows and evaluates next to no expressions).
    FERRY_TRY(conn_.exec("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off"));
    // First: a load id committed by another attempt meanwhile makes this one a no-op (the
    // insert waits for that attempt's transaction, then does nothing).
    FERRY_ASSIGN(
        PgResult claimed,
        conn_.query(fmt::format("INSERT INTO {} (load_id, job_id, run_id, rows_loaded, "
                                "rows_rejected) VALUES ($1, $2, $3, $4, $5) ON "
                                "CONFLICT (load_id) DO NOTHING RETURNING 1",
                                qualified("_ferry_loads")),
                    {load_->load_id, load_->job_id, load_->run_id,
                     std::to_string(stats.rows_loaded), std::to_string(stats.rows_rejected)}));
    if (claimed.rows() == 0) return Status(Code::kCancelled, "already committed");
    // The root first: a merge deletes replaced child rows before children are inserted.
    auto root = tables_.find(load_->root_table);
    if (root != tables_.end()) FERRY_TRY(commit_table(root->second));
    for (auto& [name, t] : tables_)
      if (name != load_->root_table) FERRY_TRY(commit_table(t));
    if (load_->mode == WriteMode::kReplace) {
      FERRY_TRY(empty_unloaded_tables());
      for (auto& [name, t] : tables_)
        FERRY_TRY(swap_in(t));
    }
    FERRY_TRY(insert_rejects(*load_, rejects_));
    FERRY_TRY(conn_
                  .query(fmt::format("INSERT INTO {} (job_id, state, updated_at) VALUES ($1, "
                                     "$2::jsonb, now()) ON CONFLICT (job_id) DO UPDATE SET "
                                     "state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
                                     qualified("_ferry_state")),
                         {load_->job_id, state.dump()})
                  .status());
    return conn_.exec("COMMIT");
  }();
  if (!st) {
    rollback();
    return st.code() == Code::kCancelled ? st : st.with_context("committing the load");
  }
  load_tx_ = false;
  drop_staging();
  rejects_.clear();
  load_.reset();
  return Status::success();
}

Status PostgresDestination::save_failed_rejects(const LoadSpec& load,
                                                const std::vector<Reject>& rejects) {
  if (load_) return Status::internal("save_failed_rejects(): a load is in progress");
  if (rejects.empty()) return Status::success();
  return pg_in_transaction(conn_, [&] { return insert_rejects(load, rejects); })
      .with_context("saving rejects");
}

// ---------------------------------------------------------------------------------------
// SQL for transforms, the CLI and tests

Status PostgresDestination::execute(const std::string& sql) {
  if (load_) return Status::internal("execute(): a load is in progress");
  return pg_in_transaction(conn_, [&] { return conn_.exec(sql); }).with_context("executing SQL");
}

Result<std::vector<std::vector<std::optional<std::string>>>> PostgresDestination::query(
    const std::string& sql) {
  if (load_) return Status::internal("query(): a load is in progress");
  return pg_text_rows(conn_, sql);
}

Result<std::vector<TableSchema>> PostgresDestination::tables() {
  FERRY_ASSIGN(std::vector<std::string> names, table_names(""));
  std::vector<TableSchema> out;
  for (const std::string& name : names) {
    FERRY_ASSIGN(auto stored, load_table(name));
    if (!stored) continue;
    TableSchema schema = std::move(stored->schema);
    if (stored->has_load_id) schema.fields.push_back(Field{kLoadIdColumn, Type::kText, true});
    // The primary key: the table's own, else ferry's unique index for merge.
    FERRY_ASSIGN(PgResult pk,
                 conn_.query("SELECT a.attname FROM pg_index i CROSS JOIN LATERAL "
                             "unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute "
                             "a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE "
                             "i.indrelid = to_regclass($1) AND (i.indisprimary OR "
                             "i.indexrelid = to_regclass($2)) ORDER BY i.indisprimary DESC, k.n",
                             {qualified(name), qualified("_ferry_pk_" + name)}));
    for (int r = 0; r < pk.rows(); ++r) {
      std::string col(pk.value(r, 0));
      if (std::find(schema.primary_key.begin(), schema.primary_key.end(), col) ==
          schema.primary_key.end())
        schema.primary_key.push_back(col);
    }
    out.push_back(std::move(schema));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Destination>> open_postgres_destination(
    const PostgresDestinationOptions& options) {
  if (options.schema.empty()) return Status::invalid("postgres warehouse: schema is empty");
  auto conn = PgConn::connect(options.connect);
  if (!conn.ok()) return conn.status().with_context("opening the postgres warehouse");
  auto dst = std::make_unique<PostgresDestination>(std::move(conn).value(), options.schema);
  Status st = dst->init();
  if (!st) return st.with_context("opening the postgres warehouse");
  return std::unique_ptr<Destination>(std::move(dst));
}

DestinationDescriptor postgres_destination_descriptor() {
  DestinationDescriptor d;
  d.decl.kind = "postgres";
  d.decl.description = "PostgreSQL: a database as warehouse (COPY into staging, one transaction)";
  d.decl.is_destination = true;
  d.decl.connection_options = pg_connection_options();
  d.decl.connection_options.push_back(
      {"schema", OptionType::kString, "public",
       "Schema of the warehouse's tables and ferry's own (created when missing).", false, false});
  d.create = [](const nlohmann::json& connection,
                const std::string&) -> Result<std::unique_ptr<Destination>> {
    PostgresDestinationOptions options;
    FERRY_ASSIGN(options.connect, pg_connect_options(connection));
    auto it = connection.find("schema");
    if (it != connection.end() && it->is_string() && !it->get<std::string>().empty())
      options.schema = it->get<std::string>();
    return open_postgres_destination(options);
  };
  return d;
}

}  // namespace ferry
