#include "destinations/schema_evolution.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace ferry {
namespace {

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// A value for a message: quoted, shortened, on one line.
std::string show_value(std::string_view text) {
  constexpr size_t kMax = 60;
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMax; ++i)
    out.push_back(text[i] == '\n' || text[i] == '\r' ? ' ' : text[i]);
  if (text.size() > kMax) out += "...";
  out.push_back('\'');
  return out;
}

// Rows rejected so far, with the first reason found for each.
class RowRejects {
 public:
  explicit RowRejects(size_t rows) : rows_(rows) {}
  bool rejected(size_t row) const { return !skip_.empty() && skip_[row]; }
  void reject(size_t row, std::string reason) {
    if (skip_.empty()) skip_.assign(rows_, 0);
    if (skip_[row]) return;
    skip_[row] = 1;
    reasons_.emplace_back(row, std::move(reason));
  }
  void finish(const Batch& batch, SchemaPlan* plan) {
    std::sort(reasons_.begin(), reasons_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [row, reason] : reasons_) {
      Reject r;
      r.origin.source = batch.origin_source();
      if (row < batch.row_lines().size()) r.origin.line = batch.row_lines()[row];
      r.reason = std::move(reason);
      r.raw = row_as_json(batch, row);
      plan->rejects.push_back(std::move(r));
    }
    plan->skip_row = std::move(skip_);
  }

 private:
  size_t rows_;
  std::vector<uint8_t> skip_;
  std::vector<std::pair<size_t, std::string>> reasons_;
};

}  // namespace

const char* schema_policy_name(SchemaPolicy policy) {
  switch (policy) {
    case SchemaPolicy::kEvolve:
      return "evolve";
    case SchemaPolicy::kFreeze:
      return "freeze";
    case SchemaPolicy::kDiscardRow:
      return "discard_row";
    case SchemaPolicy::kDiscardValue:
      return "discard_value";
  }
  return "?";
}

std::optional<SchemaPolicy> parse_schema_policy(std::string_view name) {
  for (SchemaPolicy p : {SchemaPolicy::kEvolve, SchemaPolicy::kFreeze, SchemaPolicy::kDiscardRow,
                         SchemaPolicy::kDiscardValue})
    if (name == schema_policy_name(p)) return p;
  return std::nullopt;
}

std::string row_as_json(const Batch& batch, size_t row) {
  nlohmann::json obj = nlohmann::json::object();
  for (const Column& col : batch.columns()) {
    if (row >= col.size()) continue;
    const Cell& c = col[row];
    if (c.is_null()) {
      obj[col.name()] = nullptr;
    } else {
      obj[col.name()] = std::string(col.text(c));
    }
  }
  return obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<SchemaPlan> plan_schema(const TableSchema* existing, const Batch& batch,
                               const PlanOptions& options) {
  SchemaPlan plan;
  const size_t rows = batch.num_rows();
  const size_t ncols = batch.num_columns();
  const std::string& table = batch.table();
  const char* policy = schema_policy_name(options.policy);

  plan.create_table = existing == nullptr;
  if (existing) {
    plan.table = *existing;
  } else {
    plan.table.name = table;
    plan.table.primary_key = options.primary_key;
    plan.changes.push_back(
        SchemaChange{SchemaChange::Kind::kCreateTable, table, "", Type::kNull, Type::kNull});
  }
  plan.column_field.assign(ncols, -1);
  plan.null_value.resize(ncols);
  RowRejects rejects(rows);

  for (const std::string& key : options.primary_key) {
    if (batch.find(key) < 0)
      return Status::invalid("primary key column {} is missing from the data for table {}", key,
                             table);
  }

  for (size_t ci = 0; ci < ncols; ++ci) {
    const Column& col = batch.column(ci);
    if (contains(options.ignore_columns, col.name())) continue;
    const Type type = col.type();
    Field* field = plan.table.find(col.name());

    if (field == nullptr) {
      if (type == Type::kNull) continue;  // no value yet: added once one arrives
      if (plan.create_table || options.policy == SchemaPolicy::kEvolve) {
        plan.table.fields.push_back(Field{col.name(), type, true});
        plan.column_field[ci] = static_cast<int>(plan.table.fields.size() - 1);
        if (!plan.create_table)
          plan.changes.push_back(
              SchemaChange{SchemaChange::Kind::kAddColumn, table, col.name(), Type::kNull, type});
        continue;
      }
      switch (options.policy) {
        case SchemaPolicy::kFreeze:
          return Status::invalid("table {} has no column {} (new column of type {}; schema: {})",
                                 table, col.name(), type_name(type), policy);
        case SchemaPolicy::kDiscardRow: {
          std::string reason =
              fmt::format("value in new column {}.{} (schema: {})", table, col.name(), policy);
          for (size_t r = 0; r < rows; ++r)
            if (!col[r].is_null()) rejects.reject(r, reason);
          break;
        }
        default:  // discard_value: the column is not written
          break;
      }
      continue;
    }

    const int field_index = static_cast<int>(field - plan.table.fields.data());
    plan.column_field[ci] = field_index;
    if (fits(type, field->type)) continue;
    if (options.policy == SchemaPolicy::kEvolve) {
      const Type to = widen(field->type, type);
      plan.changes.push_back(
          SchemaChange{SchemaChange::Kind::kWidenColumn, table, col.name(), field->type, to});
      field->type = to;
      continue;
    }
    // freeze, discard_row, discard_value: judge each value against the column's type.
    for (size_t r = 0; r < rows; ++r) {
      const Cell& c = col[r];
      if (c.is_null() || fits(c.type, field->type)) continue;
      if (options.policy == SchemaPolicy::kDiscardValue) {
        if (plan.null_value[ci].empty()) plan.null_value[ci].assign(rows, 0);
        plan.null_value[ci][r] = 1;
      } else if (!rejects.rejected(r)) {
        rejects.reject(r, fmt::format("column {} is {}, value {} is {} (schema: {})", col.name(),
                                      type_name(field->type), show_value(col.text(c)),
                                      type_name(c.type), policy));
      }
    }
  }

  for (const std::string& key : options.primary_key) {
    const Column& col = batch.column(static_cast<size_t>(batch.find(key)));
    for (size_t r = 0; r < rows; ++r)
      if (col[r].is_null() || plan.nulled(static_cast<size_t>(batch.find(key)), r))
        rejects.reject(r, fmt::format("primary key column {} is null", key));
  }

  rejects.finish(batch, &plan);
  return plan;
}

}  // namespace ferry
