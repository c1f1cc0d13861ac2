// How ferry's types are stored in SQLite (private to src/destinations/sqlite/): the
// declared column type of each Type, the SQL that converts stored values when a column is
// widened, and whether a source's text of a date or timestamp is already canonical, so the
// insert path binds it as it is (core/infer.h formats it otherwise).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/types.h"

namespace ferry::sqlite_dst {

// INTEGER, REAL, NUMERIC or TEXT.
const char* sql_type(Type type);

// The SQL expression that turns the stored value of `quoted_column` (of ferry type `from`)
// into its form for type `to`, e.g. CAST("a" AS TEXT), or bools as 'true'/'false'.
std::string convert_expr(const std::string& quoted_column, Type from, Type to);

// True when widening `from` to `to` changes how values are stored (declared type or
// representation), i.e. the table must be rebuilt rather than only re-labelled.
bool needs_rebuild(Type from, Type to);

// True when `text` is already the canonical form (core/infer.h format_timestamp /
// format_date) of `micros` / of a date, so the source's own spelling can be bound without
// formatting. REQUIRES: text parsed to that value.
bool is_canonical_timestamp(std::string_view text, int64_t micros);
bool is_canonical_date(std::string_view text);

}  // namespace ferry::sqlite_dst
