// Schema evolution: how a batch meets the table it is loaded into.
//
// plan_schema() compares a batch with the table's current schema (or none) under the job's
// SchemaPolicy and returns a SchemaPlan: the table's schema after the load, the DDL to get
// there (create table, add columns, widen column types) and, per row and value, what is
// written, nulled or rejected. The plan is database-neutral: every destination applies it
// with its own DDL and binds values by the plan's column types.
//
// Policies (CONFIG.md, `schema:` per job):
//   evolve         new columns are added and column types widened (core/types.h widen()).
//   freeze         a new column fails the load (kInvalid, naming table and column); a value
//                  whose type does not fit its column's type rejects its row.
//   discard_row    a row with a value in a new column, or a value that does not fit its
//                  column, is rejected with a reason; the schema never changes.
//   discard_value  such values become null (a new column is not written); nothing rejected.
// Under every policy a table that does not exist yet is created from the batch, and a new
// column whose values are all null is neither added nor a violation (its type is unknown;
// it is added when a value arrives).
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/batch.h"
#include "core/reject.h"
#include "core/status.h"
#include "core/types.h"
#include "destinations/destination.h"

namespace ferry {

// "evolve", "freeze", "discard_row", "discard_value" (as written in project files).
const char* schema_policy_name(SchemaPolicy policy);
std::optional<SchemaPolicy> parse_schema_policy(std::string_view name);

struct PlanOptions {
  SchemaPolicy policy = SchemaPolicy::kEvolve;
  // Columns that must hold a value (the merge key of a root table): a row with a null there
  // is rejected, and a batch without such a column fails (kInvalid).
  std::vector<std::string> primary_key;
  // Batch columns that are never loaded (the destination's own, e.g. _ferry_load_id). They
  // are not in `existing`, are not added and are not written.
  std::vector<std::string> ignore_columns;
};

struct SchemaPlan {
  // The table's schema once the plan is applied: existing fields in their order, then the
  // added ones. Field types are the column types every written value must be bound as.
  TableSchema table;
  bool create_table = false;
  // In order: kCreateTable (when create_table), kAddColumn, kWidenColumn. `table` is the
  // batch's table name.
  std::vector<SchemaChange> changes;
  // Per batch column: index into table.fields, or -1 when the column is not written.
  std::vector<int> column_field;
  // Per batch column: rows whose value is written as null (discard_value). Empty = none.
  std::vector<std::vector<uint8_t>> null_value;
  // Per batch row: 1 when the row is rejected and not written. Empty = no row rejected.
  std::vector<uint8_t> skip_row;
  // One per skipped row, in row order, with the batch's origin and the row as raw JSON.
  std::vector<Reject> rejects;

  size_t rows_to_write(const Batch& batch) const { return batch.num_rows() - rejects.size(); }
  bool skipped(size_t row) const { return !skip_row.empty() && skip_row[row] != 0; }
  bool nulled(size_t column, size_t row) const {
    return !null_value[column].empty() && null_value[column][row] != 0;
  }
};

// Plans loading `batch` into a table whose current schema is `existing` (nullptr when the
// table does not exist). Fails with kInvalid when the policy forbids the batch as a whole
// (freeze and a new column; a primary key column missing from the batch).
Result<SchemaPlan> plan_schema(const TableSchema* existing, const Batch& batch,
                               const PlanOptions& options);

// The row as a JSON object of its values' original text (null for null), for Reject::raw.
std::string row_as_json(const Batch& batch, size_t row);

}  // namespace ferry
