#include "destinations/sqlite/sqlite_destination.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "core/infer.h"
#include "core/names.h"
#include "core/sqlite.h"
#include "destinations/schema_evolution.h"
#include "destinations/sqlite/sqlite_values.h"

namespace ferry {
namespace {

using sqlite_dst::sql_type;
using Bindings = SqliteStmt::Bindings;

constexpr const char* kStagingInfix = "__ferry_new_";
constexpr size_t kMaxRawBytes = 64 * 1024;

constexpr const char* kMetaSchema = R"sql(
CREATE TABLE IF NOT EXISTS _ferry_loads (
  load_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, run_id TEXT, committed_at TEXT NOT NULL,
  rows_loaded INTEGER, rows_rejected INTEGER);
CREATE TABLE IF NOT EXISTS _ferry_state (
  job_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _ferry_rejects (
  job_id TEXT, run_id TEXT, load_id TEXT, source TEXT, line INTEGER, byte_offset INTEGER,
  reason TEXT, raw TEXT, rejected_at TEXT);
CREATE INDEX IF NOT EXISTS _ferry_rejects_job ON _ferry_rejects (job_id, rejected_at);
CREATE TABLE IF NOT EXISTS _ferry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, ferry_type TEXT NOT NULL,
  PRIMARY KEY (table_name, column_name));
)sql";

std::string now_iso() {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return format_timestamp(us);
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
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

// Steps `stmt` to its end and returns the first column of every row as text; then resets
// it, keeping its bindings.
Result<std::vector<std::string>> first_column(SqliteStmt& stmt) {
  std::vector<std::string> out;
  for (;;) {
    Result<bool> row = stmt.step();
    if (!row.ok() || !*row) {
      stmt.reset(Bindings::kKeep);
      if (!row.ok()) return row.status();
      return out;
    }
    out.emplace_back(stmt.column_text_view(0));
  }
}

// A table as the load sees it.
struct TableState {
  std::string name;      // logical name (Batch::table())
  std::string physical;  // where rows go: `name`, or its staging table (replace)
  bool exists = false;   // `physical` exists in the transaction
  bool staged = false;   // replace: swapped in at commit
  // Schema of `physical` (without _ferry_load_id); for a staging table not yet created,
  // that of the table it replaces. nullopt: no table known.
  std::optional<TableSchema> schema;
  bool pk_index = false;  // merge root: unique index verified
};

// A table's columns as stored: name, ferry type.
struct StoredTable {
  TableSchema schema;  // without _ferry_load_id
  bool has_load_id = false;
};

// One batch column bound to one statement parameter.
struct Binding {
  const Column* column;
  size_t batch_index;
  Type type;  // the column type in the table
};

class SqliteDestination final : public Destination {
 public:
  SqliteDestination(SqliteDb db, SqliteDestinationOptions options)
      : db_(std::move(db)), options_(options) {}
  ~SqliteDestination() override { rollback(); }

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
  Status ensure_transaction();
  // Runs `body` in a write transaction of its own; on failure nothing of it stays.
  template <typename Body>
  Status in_transaction(const std::string& what, Body body);
  Result<bool> load_committed(const std::string& load_id);
  void end_load();

  Result<std::optional<StoredTable>> load_table(const std::string& physical);
  Result<TableState*> table_state(const std::string& name);
  Status apply_plan(TableState& ts, const SchemaPlan& plan);
  Status create_table(const std::string& physical, const TableSchema& schema);
  Status rebuild_table(const std::string& physical, const TableSchema& from, const TableSchema& to);
  Status record_columns(const std::string& physical, const std::vector<Field>& fields);
  Status forget_columns(const std::string& physical);
  Status move_columns(const std::string& from, const std::string& to);
  Status rename_table(const std::string& from, const std::string& to);
  Result<std::vector<std::string>> index_sql(const std::string& table);
  Result<std::vector<std::string>> pk_columns(const std::string& physical);
  void forget_statements(const std::string& physical);

  Status ensure_pk_index(TableState& ts);
  Status find_merge_children();
  Status collect_root_ids(const TableState& ts, const Batch& batch, const SchemaPlan& plan);
  Status delete_replaced_children();
  Status swap_replaced_tables();

  Result<SqliteStmt*> insert_statement(const TableState& ts, const Batch& batch,
                                       const SchemaPlan& plan, bool upsert, size_t rows);
  Status insert_rows(const TableState& ts, const Batch& batch, const SchemaPlan& plan,
                     size_t* written);
  Status insert_rejects(const LoadSpec& load, const std::vector<Reject>& rejects);

  SqliteDb db_;
  SqliteDestinationOptions options_;

  // The load in progress.
  std::optional<LoadSpec> load_;
  std::optional<SqliteTransaction> txn_;  // the load's, from its first write
  std::map<std::string, TableState> tables_;
  std::unordered_map<std::string, SqliteStmt> inserts_;  // key: physical table, mode, columns
  std::vector<Binding> bindings_;                        // reused per batch
  std::vector<std::array<char, 40>> text_buf_;           // formatted values live until the step
  std::vector<size_t> rows_;                             // rows of a batch to insert
  // merge: pre-existing child tables of the root and the root ids whose children are
  // replaced at commit.
  std::optional<std::vector<std::string>> merge_children_;
  std::unordered_set<std::string> merged_root_ids_;
};

// ---------------------------------------------------------------------------------------
// Opening, state, load lifecycle

Status SqliteDestination::init() {
  FERRY_TRY(db_.exec("PRAGMA synchronous=NORMAL"));
  // A big load grows the WAL to the load's size; cut it back once it has been checkpointed.
  FERRY_TRY(db_.exec("PRAGMA journal_size_limit=67108864"));
  // Only a new warehouse needs the write lock, which a running load may hold for long.
  FERRY_ASSIGN(SqliteStmt count,
               db_.prepare("SELECT count(*) FROM sqlite_master WHERE name IN ('_ferry_loads', "
                           "'_ferry_state', '_ferry_rejects', '_ferry_rejects_job', "
                           "'_ferry_columns')"));
  FERRY_ASSIGN(bool row, count.step());
  if (row && count.column_int64(0) == 5) return Status::success();
  count.reset();
  return in_transaction("creating ferry's tables", [&] { return db_.exec(kMetaSchema); });
}

template <typename Body>
Status SqliteDestination::in_transaction(const std::string& what, Body body) {
  auto txn = SqliteTransaction::begin(db_);
  Status st = txn.ok() ? body() : txn.status();
  if (st) st = txn->commit();
  return st.with_context(what);  // a transaction not committed rolls back here
}

Result<nlohmann::json> SqliteDestination::read_state(const std::string& job_id) {
  FERRY_ASSIGN(SqliteStmt stmt, db_.prepare("SELECT state FROM _ferry_state WHERE job_id = ?1"));
  FERRY_TRY(stmt.bind(1, job_id));
  Result<bool> row = stmt.step();
  if (!row.ok()) return row.status().with_context("reading the state of job " + job_id);
  if (!*row) return nlohmann::json::object();
  auto state = nlohmann::json::parse(stmt.column_text_view(0), nullptr, false);
  if (state.is_discarded())
    return Status::io("the state of job {} in _ferry_state is not valid JSON", job_id);
  if (state.is_null()) return nlohmann::json::object();
  return state;
}

Result<bool> SqliteDestination::load_committed(const std::string& load_id) {
  FERRY_ASSIGN(SqliteStmt stmt, db_.prepare("SELECT 1 FROM _ferry_loads WHERE load_id = ?1"));
  FERRY_TRY(stmt.bind(1, load_id));
  return stmt.step();
}

Status SqliteDestination::begin(const LoadSpec& load) {
  if (load_) return Status::internal("begin(): load {} is still in progress", load_->load_id);
  if (load.load_id.empty()) return Status::internal("begin(): the load has no id");
  if (load.mode == WriteMode::kMerge && load.primary_key.empty())
    return Status::invalid("mode merge needs a primary_key (table {})", load.root_table);
  FERRY_ASSIGN(bool committed, load_committed(load.load_id));
  if (committed) return Status(Code::kCancelled, "already committed");
  load_ = load;
  return Status::success();
}

Status SqliteDestination::ensure_transaction() {
  if (!load_) return Status::internal("no load in progress (begin() first)");
  if (txn_) return Status::success();
  auto txn = SqliteTransaction::begin(db_);
  if (!txn.ok()) return txn.status().with_context("starting the load's transaction");
  txn_.emplace(std::move(txn).value());
  if (options_.load_cache_kib > 0)
    FERRY_TRY(db_.exec(fmt::format("PRAGMA cache_size=-{}", options_.load_cache_kib)));
  // A retry of the same load may have committed since begin() looked.
  FERRY_ASSIGN(bool committed, load_committed(load_->load_id));
  if (committed) {
    rollback();
    return Status(Code::kCancelled, "already committed");
  }
  return Status::success();
}

void SqliteDestination::end_load() {
  inserts_.clear();
  tables_.clear();
  merge_children_.reset();
  merged_root_ids_.clear();
  if (load_ && options_.load_cache_kib > 0) {
    static_cast<void>(db_.exec("PRAGMA cache_size=-2000"));  // SQLite's default; best effort
    db_.release_memory();
  }
  load_.reset();
}

void SqliteDestination::rollback() {
  inserts_.clear();  // no statement may be pending when the transaction ends
  txn_.reset();      // rolls back, best effort
  end_load();
}

Status SqliteDestination::commit(const nlohmann::json& state, const LoadStats& stats) {
  if (!load_) return Status::internal("commit(): no load in progress");
  FERRY_TRY(ensure_transaction());
  Status st = [&]() -> Status {
    if (load_->mode == WriteMode::kReplace) FERRY_TRY(swap_replaced_tables());
    if (load_->mode == WriteMode::kMerge) FERRY_TRY(delete_replaced_children());
    inserts_.clear();
    std::string now = now_iso();
    FERRY_ASSIGN(SqliteStmt loads, db_.prepare("INSERT INTO _ferry_loads (load_id, job_id, run_id, "
                                               "committed_at, rows_loaded, rows_rejected) "
                                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    FERRY_TRY(loads.bind_all(load_->load_id, load_->job_id, load_->run_id, now, stats.rows_loaded,
                             stats.rows_rejected));
    FERRY_TRY(loads.run());

    std::string state_text =
        state.is_null() ? "{}"
                        : state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    FERRY_ASSIGN(SqliteStmt upsert,
                 db_.prepare("INSERT INTO _ferry_state (job_id, state, updated_at) "
                             "VALUES (?1, ?2, ?3) ON CONFLICT (job_id) DO UPDATE SET "
                             "state = excluded.state, updated_at = excluded.updated_at"));
    FERRY_TRY(upsert.bind_all(load_->job_id, state_text, now));
    FERRY_TRY(upsert.run());
    return txn_->commit().with_context("committing the load");
  }();
  if (!st) {
    rollback();
    return st;
  }
  txn_.reset();  // committed
  end_load();
  return Status::success();
}

// ---------------------------------------------------------------------------------------
// Tables and DDL

Result<std::optional<StoredTable>> SqliteDestination::load_table(const std::string& physical) {
  FERRY_ASSIGN(SqliteStmt stmt, db_.prepare("SELECT p.name, p.type, c.ferry_type "
                                            "FROM pragma_table_info(?1) AS p "
                                            "LEFT JOIN _ferry_columns AS c "
                                            "ON c.table_name = ?1 AND c.column_name = p.name "
                                            "ORDER BY p.cid"));
  FERRY_TRY(stmt.bind(1, physical));
  StoredTable table;
  table.schema.name = physical;
  bool any = false;
  for (;;) {
    Result<bool> row = stmt.step();
    if (!row.ok()) return row.status().with_context("reading the columns of table " + physical);
    if (!*row) break;
    any = true;
    std::string name = stmt.column_text(0);
    if (name == kLoadIdColumn) {
      table.has_load_id = true;
      continue;
    }
    std::optional<Type> type;
    if (!stmt.column_is_null(2)) type = parse_type_name(stmt.column_text_view(2));
    if (!type) type = parse_type_name(stmt.column_text_view(1));
    table.schema.fields.push_back(Field{std::move(name), type.value_or(Type::kText), true});
  }
  if (!any) return std::optional<StoredTable>();
  return std::optional<StoredTable>(std::move(table));
}

Result<TableState*> SqliteDestination::table_state(const std::string& name) {
  auto it = tables_.find(name);
  if (it != tables_.end()) return &it->second;
  if (starts_with(name, "_ferry_") || starts_with(name, "sqlite_") ||
      name.find(kStagingInfix) != std::string::npos)
    return Status::invalid("table name {} is reserved", name);

  FERRY_ASSIGN(auto stored, load_table(name));
  TableState ts;
  ts.name = name;
  if (stored) {
    ts.schema = std::move(stored->schema);
    ts.schema->name = name;
  }
  if (load_->mode == WriteMode::kReplace) {
    ts.physical = name + kStagingInfix + short_load_id(load_->load_id);
    ts.staged = true;
    FERRY_TRY(db_.exec("DROP TABLE IF EXISTS " + quote_ident(ts.physical)));
  } else {
    ts.physical = name;
    ts.exists = stored.has_value();
    if (stored && !stored->has_load_id) {
      FERRY_TRY(db_.exec(fmt::format("ALTER TABLE {} ADD COLUMN {} TEXT", quote_ident(name),
                                     quote_ident(kLoadIdColumn))));
    }
  }
  return &tables_.emplace(name, std::move(ts)).first->second;
}

Status SqliteDestination::record_columns(const std::string& physical,
                                         const std::vector<Field>& fields) {
  FERRY_ASSIGN(SqliteStmt stmt,
               db_.prepare("INSERT OR REPLACE INTO _ferry_columns (table_name, column_name, "
                           "ferry_type) VALUES (?1, ?2, ?3)"));
  for (const Field& f : fields) {
    FERRY_TRY(stmt.bind_all(physical, f.name, type_name(f.type)));
    FERRY_TRY(stmt.run());
  }
  return Status::success();
}

// Types recorded for a table of this name that is gone (dropped, or dropped outside ferry)
// are stale.
Status SqliteDestination::forget_columns(const std::string& physical) {
  FERRY_ASSIGN(SqliteStmt forget, db_.prepare("DELETE FROM _ferry_columns WHERE table_name = ?1"));
  FERRY_TRY(forget.bind(1, physical));
  return forget.run();
}

// Table `from` was renamed to `to`: so are its recorded types.
Status SqliteDestination::move_columns(const std::string& from, const std::string& to) {
  FERRY_TRY(forget_columns(to));
  FERRY_ASSIGN(SqliteStmt move,
               db_.prepare("UPDATE _ferry_columns SET table_name = ?1 WHERE table_name = ?2"));
  FERRY_TRY(move.bind_all(to, from));
  return move.run();
}

Status SqliteDestination::create_table(const std::string& physical, const TableSchema& schema) {
  std::string sql = "CREATE TABLE " + quote_ident(physical) + " (";
  for (const Field& f : schema.fields)
    sql += quote_ident(f.name) + " " + sql_type(f.type) + ", ";
  sql += quote_ident(kLoadIdColumn) + " TEXT)";
  FERRY_TRY(db_.exec(sql).with_context("creating table " + physical));
  FERRY_TRY(forget_columns(physical));
  FERRY_TRY(record_columns(physical, schema.fields));
  return record_columns(physical, {Field{kLoadIdColumn, Type::kText, true}});
}

Result<std::vector<std::string>> SqliteDestination::index_sql(const std::string& table) {
  FERRY_ASSIGN(SqliteStmt stmt,
               db_.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND "
                           "tbl_name = ?1 AND sql IS NOT NULL"));
  FERRY_TRY(stmt.bind(1, table));
  return first_column(stmt);
}

// The columns of the unique index of a merge's primary key, in order; none when there is
// no such index.
Result<std::vector<std::string>> SqliteDestination::pk_columns(const std::string& physical) {
  FERRY_ASSIGN(SqliteStmt stmt,
               db_.prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno"));
  FERRY_TRY(stmt.bind(1, "_ferry_pk_" + physical));
  return first_column(stmt);
}

Status SqliteDestination::rename_table(const std::string& from, const std::string& to) {
  // Legacy mode renames only the table: views that name `to` keep naming it (and are not
  // re-checked while the old `to` is gone).
  FERRY_TRY(db_.exec("PRAGMA legacy_alter_table=ON"));
  Status st =
      db_.exec(fmt::format("ALTER TABLE {} RENAME TO {}", quote_ident(from), quote_ident(to)))
          .with_context(fmt::format("renaming table {} to {}", from, to));
  FERRY_TRY(db_.exec("PRAGMA legacy_alter_table=OFF"));
  return st;
}

Status SqliteDestination::rebuild_table(const std::string& physical, const TableSchema& from,
                                        const TableSchema& to) {
  std::string tmp = "_ferry_rebuild_" + physical;
  FERRY_ASSIGN(auto indexes, index_sql(physical));
  FERRY_TRY(db_.exec("DROP TABLE IF EXISTS " + quote_ident(tmp)));
  FERRY_TRY(create_table(tmp, to));
  std::string cols, exprs;
  for (const Field& f : to.fields) {
    const Field* old = from.find(f.name);
    cols += quote_ident(f.name) + ", ";
    exprs += old ? sqlite_dst::convert_expr(quote_ident(f.name), old->type, f.type) : "NULL";
    exprs += ", ";
  }
  cols += quote_ident(kLoadIdColumn);
  exprs += quote_ident(kLoadIdColumn);
  FERRY_TRY(db_.exec(fmt::format("INSERT INTO {} ({}) SELECT {} FROM {}", quote_ident(tmp), cols,
                                 exprs, quote_ident(physical)))
                .with_context("copying table " + physical + " to widen its columns"));
  FERRY_TRY(db_.exec("DROP TABLE " + quote_ident(physical)));
  FERRY_TRY(rename_table(tmp, physical));
  for (const std::string& sql : indexes)
    FERRY_TRY(db_.exec(sql).with_context("re-creating an index of " + physical));
  return move_columns(tmp, physical);
}

void SqliteDestination::forget_statements(const std::string& physical) {
  std::string prefix = physical + '\x1f';
  for (auto it = inserts_.begin(); it != inserts_.end();) {
    if (starts_with(it->first, prefix)) {
      it = inserts_.erase(it);
    } else {
      ++it;
    }
  }
}

Status SqliteDestination::apply_plan(TableState& ts, const SchemaPlan& plan) {
  if (!ts.exists) {
    FERRY_TRY(create_table(ts.physical, plan.table));
    ts.exists = true;
    ts.schema = plan.table;
    forget_statements(ts.physical);
    return Status::success();
  }
  if (plan.changes.empty()) return Status::success();
  forget_statements(ts.physical);

  bool rebuild = false;
  for (const SchemaChange& c : plan.changes)
    if (c.kind == SchemaChange::Kind::kWidenColumn && sqlite_dst::needs_rebuild(c.from, c.to))
      rebuild = true;
  if (rebuild) {
    FERRY_TRY(rebuild_table(ts.physical, *ts.schema, plan.table));
    ts.schema = plan.table;
    return Status::success();
  }
  std::vector<Field> changed;
  for (const SchemaChange& c : plan.changes) {
    const Field* f = plan.table.find(c.column);
    if (f == nullptr) continue;
    if (c.kind == SchemaChange::Kind::kAddColumn) {
      FERRY_TRY(db_.exec(fmt::format("ALTER TABLE {} ADD COLUMN {} {}", quote_ident(ts.physical),
                                     quote_ident(f->name), sql_type(f->type)))
                    .with_context("adding column " + ts.name + "." + f->name));
    } else if (c.kind == SchemaChange::Kind::kWidenColumn) {
      std::string q = quote_ident(f->name);
      std::string expr = sqlite_dst::convert_expr(q, c.from, c.to);
      if (expr != q)
        FERRY_TRY(db_.exec(fmt::format("UPDATE {} SET {} = {}", quote_ident(ts.physical), q, expr))
                      .with_context("widening column " + ts.name + "." + f->name));
    }
    changed.push_back(*f);
  }
  FERRY_TRY(record_columns(ts.physical, changed));
  ts.schema = plan.table;
  return Status::success();
}

// ---------------------------------------------------------------------------------------
// merge and replace

Status SqliteDestination::ensure_pk_index(TableState& ts) {
  if (ts.pk_index) return Status::success();
  const std::vector<std::string>& pk = load_->primary_key;
  FERRY_ASSIGN(std::vector<std::string> current, pk_columns(ts.physical));
  if (current != pk) {
    std::string index = quote_ident("_ferry_pk_" + ts.physical);
    std::string cols;
    for (const std::string& k : pk)
      cols += (cols.empty() ? "" : ", ") + quote_ident(k);
    FERRY_TRY(db_.exec("DROP INDEX IF EXISTS " + index));
    Status st = db_.exec(
        fmt::format("CREATE UNIQUE INDEX {} ON {} ({})", index, quote_ident(ts.physical), cols));
    if (!st)
      return Status::invalid(
          "mode merge needs primary key ({}) to be unique in table {}, but it is not: {}",
          fmt::join(pk, ", "), ts.name, st.message());
  }
  ts.pk_index = true;
  return Status::success();
}

Status SqliteDestination::find_merge_children() {
  if (merge_children_) return Status::success();
  merge_children_.emplace();
  std::string prefix = load_->root_table + kNestSeparator;
  FERRY_ASSIGN(SqliteStmt stmt, db_.prepare("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND substr(name, 1, length(?1)) = ?1 ORDER BY name"));
  FERRY_TRY(stmt.bind(1, prefix));
  FERRY_ASSIGN(std::vector<std::string> names, first_column(stmt));
  for (const std::string& name : names) {
    if (name.find(kStagingInfix) != std::string::npos) continue;
    FERRY_ASSIGN(auto stored, load_table(name));
    if (!stored || !stored->has_load_id || !stored->schema.find(kRootIdColumn)) continue;
    FERRY_TRY(db_.exec(fmt::format("CREATE INDEX IF NOT EXISTS {} ON {} ({})",
                                   quote_ident("_ferry_rootid_" + name), quote_ident(name),
                                   quote_ident(kRootIdColumn))));
    merge_children_->push_back(name);
  }
  return Status::success();
}

Status SqliteDestination::collect_root_ids(const TableState& ts, const Batch& batch,
                                           const SchemaPlan& plan) {
  FERRY_TRY(find_merge_children());
  if (merge_children_->empty()) return Status::success();
  // The ids the rows have now...
  int id_col = batch.find(kRowIdColumn);
  if (id_col >= 0) {
    const Column& col = batch.column(static_cast<size_t>(id_col));
    for (size_t r = 0; r < batch.num_rows(); ++r)
      if (!plan.skipped(r) && !col[r].is_null()) merged_root_ids_.emplace(col.text(r));
  }
  // ...and the ids of the rows they replace.
  if (!ts.schema || !ts.schema->find(kRowIdColumn)) return Status::success();
  std::string where;
  std::vector<Binding> keys;
  for (const std::string& k : load_->primary_key) {
    where +=
        (where.empty() ? "" : " AND ") + quote_ident(k) + " = ?" + std::to_string(keys.size() + 1);
    size_t ci = static_cast<size_t>(batch.find(k));
    const Field* f = ts.schema->find(k);
    keys.push_back(Binding{&batch.column(ci), ci, f ? f->type : Type::kText});
  }
  FERRY_ASSIGN(SqliteStmt stmt,
               db_.prepare(fmt::format("SELECT {} FROM {} WHERE {}", quote_ident(kRowIdColumn),
                                       quote_ident(ts.physical), where)));
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    if (plan.skipped(r)) continue;
    for (size_t k = 0; k < keys.size(); ++k) {
      const Column& col = *keys[k].column;
      const Cell& c = col[r];
      const int index = static_cast<int>(k + 1);
      if (c.type == Type::kInt || c.type == Type::kBool) {
        FERRY_TRY(stmt.bind(index, c.i));
      } else if (c.type == Type::kDouble && keys[k].type != Type::kText) {
        FERRY_TRY(stmt.bind(index, c.d));
      } else {
        FERRY_TRY(stmt.bind_static(index, col.text(c)));
      }
    }
    Result<bool> row = stmt.step();
    if (!row.ok()) return row.status().with_context("looking up merged rows of " + ts.name);
    if (*row && !stmt.column_is_null(0)) merged_root_ids_.emplace(stmt.column_text_view(0));
    stmt.reset(Bindings::kKeep);  // every parameter is bound again for the next row
  }
  return Status::success();
}

Status SqliteDestination::delete_replaced_children() {
  if (!merge_children_ || merged_root_ids_.empty()) return Status::success();
  for (const std::string& child : *merge_children_) {
    FERRY_ASSIGN(
        SqliteStmt del,
        db_.prepare(fmt::format("DELETE FROM {} WHERE {} = ?1 AND {} IS NOT ?2", quote_ident(child),
                                quote_ident(kRootIdColumn), quote_ident(kLoadIdColumn))));
    for (const std::string& id : merged_root_ids_) {
      FERRY_TRY(del.bind_all(id, load_->load_id));
      FERRY_TRY(del.run().with_context("deleting replaced child rows of " + child));
    }
  }
  return Status::success();
}

Status SqliteDestination::swap_replaced_tables() {
  inserts_.clear();
  // Known tables of the root (itself and its child tables) that got no rows are emptied:
  // a replace load without rows leaves them empty, with their schema.
  std::string prefix = load_->root_table + kNestSeparator;
  FERRY_ASSIGN(SqliteStmt list,
               db_.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                           "(name = ?1 OR substr(name, 1, length(?2)) = ?2)"));
  FERRY_TRY(list.bind_all(load_->root_table, prefix));
  FERRY_ASSIGN(std::vector<std::string> names, first_column(list));
  for (const std::string& name : names) {
    if (tables_.count(name) || name.find(kStagingInfix) != std::string::npos) continue;
    if (name != load_->root_table) {
      FERRY_ASSIGN(auto stored, load_table(name));
      if (!stored || !stored->has_load_id ||
          (!stored->schema.find(kRootIdColumn) && !stored->schema.find(kParentIdColumn)))
        continue;  // not a child table of this root
    }
    FERRY_TRY(db_.exec("DELETE FROM " + quote_ident(name)).with_context("emptying table " + name));
  }

  for (auto& [name, ts] : tables_) {
    if (!ts.staged || !ts.exists) continue;
    // The old table's own indexes (not ferry's) are re-created on the new one when they fit.
    FERRY_ASSIGN(auto indexes, index_sql(name));
    FERRY_TRY(db_.exec("DROP TABLE IF EXISTS " + quote_ident(name)));
    FERRY_TRY(rename_table(ts.physical, name));
    for (const std::string& sql : indexes) {
      static_cast<void>(db_.exec(sql));  // best effort: a column may be gone
      if (db_.autocommit())
        return Status::io("the transaction ended while re-creating indexes of {}", name);
    }
    FERRY_TRY(move_columns(ts.physical, name));
  }
  return Status::success();
}

// ---------------------------------------------------------------------------------------
// Writing rows

// One INSERT of `rows` rows (VALUES (...), (...), ...): parameter ?(j*n + k + 1) is row j's
// k-th bound column, and the last parameter, shared by every row, the load id.
Result<SqliteStmt*> SqliteDestination::insert_statement(const TableState& ts, const Batch& batch,
                                                        const SchemaPlan& plan, bool upsert,
                                                        size_t rows) {
  std::string key = ts.physical + '\x1f' + (upsert ? 'u' : 'i') + std::to_string(rows);
  for (const Binding& b : bindings_) {
    key += '\x1f';
    key += b.column->name();
  }
  auto it = inserts_.find(key);
  if (it != inserts_.end()) return &it->second;

  std::string cols, set;
  for (const Binding& b : bindings_) {
    std::string q = quote_ident(b.column->name());
    cols += q + ", ";
    const auto& pk = load_->primary_key;
    if (std::find(pk.begin(), pk.end(), b.column->name()) == pk.end())
      set += q + " = excluded." + q + ", ";
  }
  cols += quote_ident(kLoadIdColumn);
  const int n = static_cast<int>(bindings_.size() * rows + 1);  // the load id's parameter
  std::string values;
  int p = 0;
  for (size_t j = 0; j < rows; ++j) {
    values += j == 0 ? "(" : ", (";
    for (size_t k = 0; k < bindings_.size(); ++k)
      values += "?" + std::to_string(++p) + ", ";
    values += "?" + std::to_string(n) + ")";
  }
  std::string sql =
      fmt::format("INSERT INTO {} ({}) VALUES {}", quote_ident(ts.physical), cols, values);
  if (upsert) {
    // A merged row is replaced whole: columns the batch does not have become null.
    for (const Field& f : plan.table.fields) {
      const auto& pk = load_->primary_key;
      int bi = batch.find(f.name);
      bool bound = bi >= 0 && plan.column_field[static_cast<size_t>(bi)] >= 0;
      if (!bound && std::find(pk.begin(), pk.end(), f.name) == pk.end())
        set += quote_ident(f.name) + " = NULL, ";
    }
    std::string conflict;
    for (const std::string& k : load_->primary_key)
      conflict += (conflict.empty() ? "" : ", ") + quote_ident(k);
    std::string load_col = quote_ident(kLoadIdColumn);
    sql += fmt::format(" ON CONFLICT ({}) DO UPDATE SET {}{} = excluded.{}", conflict, set,
                       load_col, load_col);
  }
  FERRY_ASSIGN(SqliteStmt stmt, db_.prepare(sql));
  FERRY_TRY(stmt.bind_static(n, load_->load_id));  // once per statement, kept across resets
  return &inserts_.emplace(std::move(key), std::move(stmt)).first->second;
}

// Binds one non-null cell as the column's type. Formatted text goes to buf (at least 32
// bytes), which must live until the statement is stepped.
inline Status bind_cell(SqliteStmt& stmt, int index, const Column& col, const Cell& c, Type type,
                        char* buf) {
  switch (type) {
    case Type::kInt:
    case Type::kBool:
      if (c.type == Type::kInt || c.type == Type::kBool) return stmt.bind(index, c.i);
      break;
    case Type::kDouble:
      if (c.type == Type::kDouble) return stmt.bind(index, c.d);
      if (c.type == Type::kInt) return stmt.bind(index, static_cast<double>(c.i));
      break;
    case Type::kDecimal:
      if (c.type == Type::kInt) return stmt.bind(index, c.i);
      if (c.type == Type::kDouble) return stmt.bind(index, c.d);
      break;
    case Type::kNull:
    case Type::kText:
    case Type::kDate:
    case Type::kTimestamp:
    case Type::kJson:
      break;
  }
  // Anything else is text: the source's own (text columns, decimals, canonical dates and
  // timestamps, values of another type), or the canonical form of a date or timestamp.
  std::string_view text = col.text(c);
  if (type == Type::kDate && c.type == Type::kDate) {
    if (!sqlite_dst::is_canonical_date(text)) text = std::string_view(buf, format_date(c.i, buf));
  } else if (type == Type::kTimestamp && c.type == Type::kTimestamp) {
    if (!sqlite_dst::is_canonical_timestamp(text, c.i))
      text = std::string_view(buf, format_timestamp(c.i, buf));
  } else if (type == Type::kTimestamp && c.type == Type::kDate) {
    text = std::string_view(buf, format_timestamp(c.i * 86400 * 1000000, buf));
  }
  return stmt.bind_static(index, text);
}

Status SqliteDestination::insert_rows(const TableState& ts, const Batch& batch,
                                      const SchemaPlan& plan, size_t* written) {
  *written = 0;
  if (plan.rows_to_write(batch) == 0) return Status::success();
  bindings_.clear();
  for (size_t ci = 0; ci < batch.num_columns(); ++ci) {
    int f = plan.column_field[ci];
    if (f < 0) continue;
    bindings_.push_back(
        Binding{&batch.column(ci), ci, plan.table.fields[static_cast<size_t>(f)].type});
  }
  const bool upsert = load_->mode == WriteMode::kMerge && ts.name == load_->root_table;
  const size_t nb = bindings_.size();
  // Rows go in multi-row INSERTs of up to kChunk rows (fewer steps, resets and statement
  // transactions: the per-row cost of SQLite's VM), the rest one at a time.
  const size_t chunk = std::max<size_t>(1, std::min<size_t>(64, 512 / std::max<size_t>(1, nb)));
  if (text_buf_.size() < nb * chunk) text_buf_.resize(nb * chunk);
  // A failure names the table and the row's place in its source.
  auto failed = [&](const Status& st, size_t r) {
    std::string where = batch.origin_source();
    if (r < batch.row_lines().size())
      where += fmt::format("{}line {}", where.empty() ? "" : ":", batch.row_lines()[r]);
    Status out = st.with_context("writing into table " + ts.name);
    return where.empty() ? out : out.with_context(where);
  };
  bool any_nulled = false;
  for (const auto& v : plan.null_value)
    any_nulled |= !v.empty();
  auto bind_row = [&](SqliteStmt& stmt, size_t r, size_t slot) -> Status {
    for (size_t k = 0; k < nb; ++k) {
      const Binding& b = bindings_[k];
      const Cell& c = b.column->cells()[r];
      const int index = static_cast<int>(slot * nb + k + 1);
      FERRY_TRY(
          c.is_null() || (any_nulled && plan.nulled(b.batch_index, r))
              ? stmt.bind_null(index)
              : bind_cell(stmt, index, *b.column, c, b.type, text_buf_[slot * nb + k].data()));
    }
    return Status::success();
  };
  // One row at a time: the tail of the batch, and a chunk that failed (to name its row).
  auto insert_one = [&](size_t r) -> Status {
    FERRY_ASSIGN(SqliteStmt * stmt, insert_statement(ts, batch, plan, upsert, 1));
    if (Status st = bind_row(*stmt, r, 0); !st) return failed(st, r);
    Result<bool> done = stmt->step();
    stmt->reset(Bindings::kKeep);  // the load id stays bound; every other parameter is rebound
    if (!done.ok()) return failed(done.status(), r);
    ++*written;
    return Status::success();
  };

  rows_.clear();
  for (size_t r = 0; r < batch.num_rows(); ++r)
    if (!plan.skipped(r)) rows_.push_back(r);
  size_t i = 0;
  if (chunk > 1 && rows_.size() >= chunk) {
    FERRY_ASSIGN(SqliteStmt * multi, insert_statement(ts, batch, plan, upsert, chunk));
    for (; i + chunk <= rows_.size(); i += chunk) {
      Status st;
      for (size_t j = 0; j < chunk && st; ++j)
        st = bind_row(*multi, rows_[i + j], j);
      Result<bool> done = st ? multi->step() : Result<bool>(st);
      multi->reset(Bindings::kKeep);
      if (done.ok()) {
        *written += chunk;
        continue;
      }
      // The statement changed nothing: redo its rows one by one to find and name the bad one.
      for (size_t j = 0; j < chunk; ++j)
        FERRY_TRY(insert_one(rows_[i + j]));
    }
  }
  for (; i < rows_.size(); ++i)
    FERRY_TRY(insert_one(rows_[i]));
  return Status::success();
}

Status SqliteDestination::write(const Batch& batch, WriteResult* result) {
  if (!load_) return Status::internal("write(): no load in progress");
  if (batch.table().empty()) return Status::internal("write(): the batch has no table name");
  for (const Column& col : batch.columns())
    if (col.size() != batch.num_rows())
      return Status::internal("write(): column {} of table {} has {} values for {} rows",
                              col.name(), batch.table(), col.size(), batch.num_rows());
  FERRY_TRY(ensure_transaction());
  FERRY_ASSIGN(TableState * ts, table_state(batch.table()));
  const bool merge_root = load_->mode == WriteMode::kMerge && ts->name == load_->root_table;

  PlanOptions options;
  options.policy = load_->schema_policy;
  options.ignore_columns = {kLoadIdColumn};
  if (merge_root) options.primary_key = load_->primary_key;
  FERRY_ASSIGN(SchemaPlan plan, plan_schema(ts->schema ? &*ts->schema : nullptr, batch, options));
  FERRY_TRY(apply_plan(*ts, plan));
  if (merge_root) {
    FERRY_TRY(ensure_pk_index(*ts));
    FERRY_TRY(collect_root_ids(*ts, batch, plan));
  }
  size_t written = 0;
  FERRY_TRY(insert_rows(*ts, batch, plan, &written));
  if (result) {
    result->rows_written += written;
    result->changes.insert(result->changes.end(), plan.changes.begin(), plan.changes.end());
    result->rejects.insert(result->rejects.end(), std::make_move_iterator(plan.rejects.begin()),
                           std::make_move_iterator(plan.rejects.end()));
  }
  return Status::success();
}

// ---------------------------------------------------------------------------------------
// Rejects

Status SqliteDestination::insert_rejects(const LoadSpec& load, const std::vector<Reject>& rejects) {
  if (rejects.empty()) return Status::success();
  FERRY_ASSIGN(SqliteStmt stmt, db_.prepare("INSERT INTO _ferry_rejects (job_id, run_id, load_id, "
                                            "source, line, byte_offset, reason, raw, rejected_at) "
                                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  std::string now = now_iso();
  for (const Reject& r : rejects) {
    FERRY_TRY(stmt.bind_all(load.job_id, load.run_id, load.load_id, r.origin.source));
    FERRY_TRY(r.origin.line > 0 ? stmt.bind(5, r.origin.line) : stmt.bind_null(5));
    FERRY_TRY(r.origin.offset >= 0 ? stmt.bind(6, r.origin.offset) : stmt.bind_null(6));
    FERRY_TRY(stmt.bind_static(7, r.reason));
    FERRY_TRY(stmt.bind_static(8, std::string_view(r.raw).substr(0, kMaxRawBytes)));
    FERRY_TRY(stmt.bind(9, now));
    FERRY_TRY(stmt.run());
  }
  return Status::success();
}

Status SqliteDestination::write_rejects(const std::vector<Reject>& rejects) {
  if (!load_) return Status::internal("write_rejects(): no load in progress");
  if (rejects.empty()) return Status::success();
  FERRY_TRY(ensure_transaction());
  return insert_rejects(*load_, rejects);
}

Status SqliteDestination::save_failed_rejects(const LoadSpec& load,
                                              const std::vector<Reject>& rejects) {
  if (load_) return Status::internal("save_failed_rejects(): a load is in progress");
  if (rejects.empty()) return Status::success();
  return in_transaction("saving rejects", [&] { return insert_rejects(load, rejects); });
}

// ---------------------------------------------------------------------------------------
// SQL for transforms, the CLI and tests

Status SqliteDestination::execute(const std::string& sql) {
  if (load_) return Status::internal("execute(): a load is in progress");
  return in_transaction("executing SQL", [&] { return db_.exec(sql); });
}

Result<std::vector<std::vector<std::optional<std::string>>>> SqliteDestination::query(
    const std::string& sql) {
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::string_view script = sql;
  while (!script.empty()) {
    FERRY_ASSIGN(SqliteStmt stmt, db_.prepare_next(&script));
    if (stmt.empty()) continue;  // whitespace or a comment
    const int ncols = stmt.column_count();
    if (ncols > 0) {  // the rows of the last statement that has columns, after its header
      rows.clear();
      auto& header = rows.emplace_back();
      for (int i = 0; i < ncols; ++i)
        header.emplace_back(stmt.column_name(i));
    }
    for (;;) {
      FERRY_ASSIGN(bool has_row, stmt.step());
      if (!has_row) break;
      auto& row = rows.emplace_back();
      row.reserve(static_cast<size_t>(ncols));
      for (int i = 0; i < ncols; ++i) {
        if (stmt.column_is_null(i)) {
          row.emplace_back(std::nullopt);
        } else {
          row.emplace_back(stmt.column_text(i));
        }
      }
    }
  }
  return rows;
}

Result<std::vector<TableSchema>> SqliteDestination::tables() {
  FERRY_ASSIGN(SqliteStmt list, db_.prepare("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND substr(name, 1, 7) <> '_ferry_' "
                                            "AND substr(name, 1, 7) <> 'sqlite_' ORDER BY name"));
  FERRY_ASSIGN(std::vector<std::string> names, first_column(list));
  std::vector<TableSchema> out;
  for (const std::string& name : names) {
    if (name.find(kStagingInfix) != std::string::npos) continue;
    FERRY_ASSIGN(auto stored, load_table(name));
    if (!stored) continue;
    TableSchema schema = std::move(stored->schema);
    if (stored->has_load_id) schema.fields.push_back(Field{kLoadIdColumn, Type::kText, true});
    FERRY_ASSIGN(schema.primary_key, pk_columns(name));
    out.push_back(std::move(schema));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Destination>> open_sqlite_destination(
    const std::string& path, const SqliteDestinationOptions& options) {
  SqliteOptions connection;
  connection.busy_timeout = std::chrono::milliseconds(options.busy_timeout_ms);
  connection.page_size = options.page_size;
  connection.foreign_keys = false;  // SQLite's default: users' tables behave as elsewhere
  connection.serialized = false;    // used by one thread at a time (see the header)
  connection.statement_error = Code::kInvalid;  // it runs users' SQL and data
  auto db = SqliteDb::open(path, connection);
  if (!db.ok()) return db.status().with_context("opening the sqlite warehouse");
  auto dst = std::make_unique<SqliteDestination>(std::move(db).value(), options);
  Status st = dst->init();
  if (!st) return st.with_context("opening the sqlite warehouse");
  return std::unique_ptr<Destination>(std::move(dst));
}

DestinationDescriptor sqlite_destination_descriptor() {
  DestinationDescriptor d;
  d.decl.kind = "sqlite";
  d.decl.description = "Embedded SQLite warehouse: one database file";
  d.decl.is_destination = true;
  d.decl.connection_options = {
      {"path", OptionType::kString, "",
       "the database file, relative to the project folder (created when missing)", true, false},
  };
  // Target options (table, mode, primary_key, connection) are ferry's own: config/schema.cpp.
  d.create = [](const nlohmann::json& connection,
                const std::string& project_dir) -> Result<std::unique_ptr<Destination>> {
    auto it = connection.find("path");
    if (it == connection.end() || !it->is_string() || it->get<std::string>().empty())
      return Status::invalid("sqlite connection: option path (the database file) is required");
    std::filesystem::path path = it->get<std::string>();
    if (path.is_relative() && !project_dir.empty())
      path = std::filesystem::path(project_dir) / path;
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    if (ec)
      return Status::io("sqlite connection: cannot create folder {}: {}",
                        path.parent_path().string(), ec.message());
    return open_sqlite_destination(path.string());
  };
  return d;
}

}  // namespace ferry
