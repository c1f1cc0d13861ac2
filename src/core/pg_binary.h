// PostgreSQL's binary COPY format, for writing ferry's cells (core/batch.h) into a table.
//
// Why: the server parses binary values with its cheap receive functions instead of the text
// input functions; timestamptz_in and numeric_in dominate a text COPY's cost. 2M rows of
// (bigint, text, numeric(12,2), timestamptz, text) into a new table: ~2.8 s as text, ~1.8 s
// as binary on this project's benchmark machine.
//
// The stream is kPgBinaryHeader, then per row pg_binary_row_start(fields) and one value (or
// pg_binary_null) per field, then kPgBinaryTrailer. A value is written in the binary form of
// the column's declared type (PgBinaryType), which must be exactly the column's type: the
// server does not convert binary values. Types without a binary writer here (uuid, inet,
// arrays, real, ...) are written as text COPY instead (pg_binary_type returns nullopt).
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/batch.h"

namespace ferry {

// The column types written in binary.
enum class PgBinaryType {
  kBool,       // boolean
  kInt2,       // smallint
  kInt4,       // integer
  kInt8,       // bigint
  kFloat8,     // double precision
  kNumeric,    // numeric, numeric(p,s) (the server applies the type modifier)
  kText,       // text, varchar(n), char(n) (the server checks the length)
  kDate,       // date
  kTimestamp,  // timestamp and timestamptz (micros; the session's time zone is UTC)
  kJson,       // json
  kJsonb,      // jsonb
};

// The binary writer of a column declared `sql_type` (format_type's spelling, or ferry's own:
// "bigint", "numeric(12,2)", "timestamp with time zone", "timestamptz", "character
// varying(20)", ...), or nullopt when the type has none.
std::optional<PgBinaryType> pg_binary_type(std::string_view sql_type);

// The binary COPY stream's header (signature, flags, no extension) and trailer.
extern const std::string_view kPgBinaryHeader;
extern const std::string_view kPgBinaryTrailer;

// Starts a row of `fields` values.
void pg_binary_row_start(std::string& out, int fields);
// Appends a NULL value.
void pg_binary_null(std::string& out);

// Appends the non-null cell `c` of `col` as a value of `type`. Returns false, leaving `out` as
// it was, when the cell has no binary form of that type (an integer out of an int4's range,
// text in a numeric column, a decimal this writer does not parse): the caller writes it as
// text, whose verdict the server gives with its own message.
bool pg_binary_value(std::string& out, const Column& col, const Cell& c, PgBinaryType type);

// Appends the numeric value of decimal `text` ("-12.50", "1e-3", "NaN", "Infinity") in
// numeric's binary form (length included), keeping its display scale (12.50 stays 12.50).
// Returns false, leaving `out` as it was, when `text` is not a decimal.
bool pg_binary_numeric(std::string& out, std::string_view text);

}  // namespace ferry
