// How ferry's types are stored in SQLite (private to src/destinations/sqlite/): the
// declared column type of each Type, the SQL that converts stored values when a column is
// widened, and fast canonical text for dates and timestamps on the insert path.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
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

// Canonical text of a timestamp ("2024-01-02T03:04:05Z", ".ffffff" when sub-second) and a
// date ("2024-01-02"), the same as core/infer.h format_timestamp/format_date but without
// snprintf. buf holds at least 40 bytes. Returns the length.
size_t write_timestamp(int64_t micros, char* buf);
size_t write_date(int64_t days, char* buf);

// True when `text` is already the canonical form of `micros` / of a date, so the source's
// own spelling can be bound without formatting. REQUIRES: text parsed to that value.
bool is_canonical_timestamp(std::string_view text, int64_t micros);
bool is_canonical_date(std::string_view text);

}  // namespace ferry::sqlite_dst
