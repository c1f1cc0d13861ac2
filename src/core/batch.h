// Columnar batches: the unit that flows from readers through the normaliser to destinations.
//
// A Batch holds up to a few thousand rows of one table as columns. Each column is a vector of
// fixed-size Cells plus one text arena, so appending a row allocates nothing once the
// vectors have grown, and destinations read a column without per-row virtual calls.
//
// A Cell keeps the parsed value (int64/double/bool/date/timestamp) and, for every non-null
// cell, its original text in the column's arena. The text is the value for kText, kDecimal
// and kJson cells; for the others it lets a writer fall back to the source's spelling when
// a column has been widened to text.
//
// Column::type is the widened type of all cells appended so far (kNull while all are null).
//
// Thread-safety: none; a Batch is owned by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/types.h"

namespace ferry {

struct Cell {
  union {
    int64_t i;  // kBool (0/1), kInt, kDate (days), kTimestamp (micros UTC)
    double d;   // kDouble
  };
  uint32_t off;  // original text: arena[off, off + len)
  uint32_t len;
  Type type;  // kNull for a null cell

  Cell() : i(0), off(0), len(0), type(Type::kNull) {}
  bool is_null() const { return type == Type::kNull; }
};

class Column {
 public:
  Column() = default;
  explicit Column(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }
  Type type() const { return type_; }
  size_t size() const { return cells_.size(); }
  size_t text_bytes() const { return arena_.size(); }
  const Cell& operator[](size_t row) const { return cells_[row]; }
  const std::vector<Cell>& cells() const { return cells_; }

  // The original text of a cell (empty for null).
  std::string_view text(const Cell& c) const {
    return std::string_view(arena_).substr(c.off, c.len);
  }
  std::string_view text(size_t row) const { return text(cells_[row]); }

  void append_null() { cells_.emplace_back(); }
  void append_bool(bool v, std::string_view raw) { push(Type::kBool, raw).i = v ? 1 : 0; }
  void append_int(int64_t v, std::string_view raw) { push(Type::kInt, raw).i = v; }
  void append_double(double v, std::string_view raw) { push(Type::kDouble, raw).d = v; }
  void append_date(int64_t days, std::string_view raw) { push(Type::kDate, raw).i = days; }
  void append_timestamp(int64_t micros, std::string_view raw) {
    push(Type::kTimestamp, raw).i = micros;
  }
  // kText, kDecimal or kJson: the text is the value.
  void append_text(Type type, std::string_view text) { push(type, text); }
  // Appends a cell copied from another column (text re-homed into this arena).
  void append_cell(const Column& from, const Cell& c);

  // Forces the column type (used when a schema is declared, e.g. by schema_rows or a
  // database source). Cells keep their own types.
  void set_type(Type type) { type_ = type; }
  void clear();  // keeps capacity
  void reserve(size_t rows, size_t text_bytes);

 private:
  Cell& push(Type t, std::string_view raw) {  // inline: the hot path of every reader
    Cell& c = cells_.emplace_back();
    c.type = t;
    c.off = static_cast<uint32_t>(arena_.size());
    c.len = static_cast<uint32_t>(raw.size());
    arena_.append(raw);
    if (t != type_) type_ = widen(type_, t);
    return c;
  }

  std::string name_;
  Type type_ = Type::kNull;
  std::vector<Cell> cells_;
  std::string arena_;
};

// Where a row came from, for rejects and error messages: a file and line, a URL and
// record index, a table and row number.
struct Origin {
  std::string source;   // file path, URL or table; never contains secrets
  int64_t line = 0;     // 1-based line (CSV, JSONL) or record index; 0 if unknown
  int64_t offset = -1;  // byte offset in the source, -1 if unknown
};

class Batch {
 public:
  Batch() = default;
  explicit Batch(std::string table) : table_(std::move(table)) {}

  const std::string& table() const { return table_; }
  void set_table(std::string table) { table_ = std::move(table); }
  size_t num_rows() const { return rows_; }
  size_t num_columns() const { return columns_.size(); }
  Column& column(size_t i) { return columns_[i]; }
  const Column& column(size_t i) const { return columns_[i]; }
  const std::vector<Column>& columns() const { return columns_; }

  // Index of the column, or -1.
  int find(std::string_view name) const;
  // Index of the column, added (filled with nulls for earlier rows) when missing.
  size_t column_index(std::string_view name);

  // Row building: append one cell to each column you set, then end_row() pads the
  // columns that were not set with a null. REQUIRES: at most one cell per column per row.
  void end_row() {
    ++rows_;
    for (Column& c : columns_)
      if (c.size() < rows_) c.append_null();
  }
  size_t approx_bytes() const;

  // Per-row origin line numbers (optional; empty when the source does not know them).
  std::vector<int64_t>& row_lines() { return row_lines_; }
  const std::vector<int64_t>& row_lines() const { return row_lines_; }
  const std::string& origin_source() const { return origin_source_; }
  void set_origin_source(std::string s) { origin_source_ = std::move(s); }

  // Empties rows, keeping columns (names) and capacity.
  void clear();
  // Schema of this batch: column names and widened types.
  TableSchema schema() const;

 private:
  std::string table_;
  std::vector<Column> columns_;
  std::unordered_map<std::string, size_t> index_;
  size_t rows_ = 0;
  std::vector<int64_t> row_lines_;
  std::string origin_source_;
};

}  // namespace ferry
