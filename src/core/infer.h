// Type inference for text values, and the canonical text forms of dates and timestamps.
//
// Inference is deliberately conservative so that it never loses information:
//   ""/null string      -> null (decided by the reader, not here)
//   true / false        -> bool (lower case only)
//   -?[1-9][0-9]* | 0   -> int (fits in int64; "007" and "+1" stay text)
//   decimal / exponent  -> double ("1.5", "-2e10"; not "nan", "inf", ".5", "1.")
//   YYYY-MM-DD          -> date
//   ISO 8601 date-time  -> timestamp ("2024-01-02T03:04:05Z", "2024-01-02 03:04:05.123+02:00",
//                          no zone = UTC)
//   anything else       -> text
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/batch.h"

namespace ferry {

bool parse_int64(std::string_view s, int64_t* out);
bool parse_double(std::string_view s, double* out);
bool parse_date(std::string_view s, int64_t* days);
// Accepts ISO 8601 / RFC 3339 date-times; a bare date is not a timestamp here.
bool parse_timestamp(std::string_view s, int64_t* micros);

// Appends `text` to `col` as the narrowest type that holds it (see above).
void append_inferred(Column& col, std::string_view text);
// Appends `text` to `col` converted to `type`; returns false (appending nothing) when the
// text is not a valid value of that type. kText/kJson/kDecimal accept any text
// (kDecimal requires a number).
bool append_as(Column& col, Type type, std::string_view text);

// "2024-01-02T03:04:05Z" or with ".ffffff" when there are sub-second digits.
std::string format_timestamp(int64_t micros);
// "2024-01-02".
std::string format_date(int64_t days);
// Writes the canonical form into buf (at least 32 bytes); returns the length.
size_t format_timestamp(int64_t micros, char* buf);
size_t format_date(int64_t days, char* buf);

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

}  // namespace ferry
