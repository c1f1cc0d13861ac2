// schema_rows: JSON that carries its own schema, e.g.
//
//   {"schema": {"fields": [{"name": "sku", "type": "string"}, {"name": "price", "type":
//   "decimal"}]},
//    "rows": [["A-1", 9.5], ["A-2", 12]]}
//
// The declared types (core/types.h parse_type_name; unknown names load as text) become the
// columns' types; rows may be arrays (positional) or objects (by field name). A field that a
// later page adds becomes a new column (the warehouse evolves). A row whose arity does not
// match the fields, or whose value does not convert to its field's type, is a reject naming
// the field; the other rows of the page load.
//
// Thread-safety: one instance per run.
#pragma once

#include <string>
#include <vector>

#include <simdjson.h>

#include "core/batch.h"
#include "core/reject.h"
#include "core/status.h"

namespace ferry::rest {

class SchemaRowsReader {
 public:
  SchemaRowsReader(std::string fields_pointer, std::string rows_pointer)
      : fields_pointer_(std::move(fields_pointer)), rows_pointer_(std::move(rows_pointer)) {}

  // Appends the rows of one page to `batch` and bad rows to `rejects`; returns the number of
  // rows on the page. kInvalid when the page has no field list or rows at the pointers.
  // origin.line of each reject is the row's 1-based index on the page.
  Result<size_t> read(simdjson::dom::element page, const Origin& origin, Batch& batch,
                      std::vector<Reject>& rejects);

  // Every field seen so far, in first-seen order, with its declared type.
  const std::vector<Field>& fields() const { return fields_; }

 private:
  Status read_fields(simdjson::dom::element page, const Origin& origin);

  std::string fields_pointer_, rows_pointer_;
  std::vector<Field> fields_;      // all pages
  std::vector<size_t> page_cols_;  // this page's field i -> index into fields_
  Column scratch_;                 // one row's converted values before they are committed
};

}  // namespace ferry::rest
