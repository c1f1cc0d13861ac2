// For tests only: batches of inferred values as a CSV source with a header line delivers
// them (origin "in.csv", the first row on line 2), for the destinations' tests.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/batch.h"
#include "core/infer.h"

namespace ferry::testing {

// One row of text values; nullopt is a null.
using Row = std::vector<std::optional<std::string>>;

// A batch of table `table` whose values are inferred from `rows`' text.
inline Batch make_batch(const std::string& table, const std::vector<std::string>& columns,
                        const std::vector<Row>& rows) {
  Batch b(table);
  b.set_origin_source("in.csv");
  for (const auto& c : columns)
    b.column_index(c);
  int64_t line = 2;
  for (const Row& row : rows) {
    for (size_t i = 0; i < row.size(); ++i)
      if (row[i]) append_inferred(b.column(i), *row[i]);
    b.end_row();
    b.row_lines().push_back(line++);
  }
  return b;
}

}  // namespace ferry::testing
