#include "core/batch.h"

namespace ferry {

void Column::append_cell(const Column& from, const Cell& c) {
  if (c.is_null()) {
    append_null();
    return;
  }
  Cell& n = push(c.type, from.text(c));
  n.i = c.i;
}

void Column::clear() {
  cells_.clear();
  arena_.clear();
  type_ = Type::kNull;
}

void Column::reserve(size_t rows, size_t text_bytes) {
  cells_.reserve(rows);
  arena_.reserve(text_bytes);
}

int Batch::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? -1 : static_cast<int>(it->second);
}

size_t Batch::column_index(std::string_view name) {
  auto it = index_.find(std::string(name));
  if (it != index_.end()) return it->second;
  size_t idx = columns_.size();
  Column& col = columns_.emplace_back(std::string(name));
  col.reserve(rows_ + 1, 0);
  for (size_t r = 0; r < rows_; ++r)
    col.append_null();
  index_.emplace(std::string(name), idx);
  return idx;
}

size_t Batch::approx_bytes() const {
  size_t n = 0;
  for (const Column& c : columns_)
    n += c.size() * sizeof(Cell) + c.text_bytes();
  return n;
}

void Batch::clear() {
  for (Column& c : columns_)
    c.clear();
  rows_ = 0;
  row_lines_.clear();
}

TableSchema Batch::schema() const {
  TableSchema s;
  s.name = table_;
  for (const Column& c : columns_)
    s.fields.push_back(Field{c.name(), c.type(), true});
  return s;
}

}  // namespace ferry
