#include "destinations/sqlite/sqlite_values.h"

#include <fmt/format.h>

namespace ferry::sqlite_dst {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

const char* sql_type(Type type) {
  switch (type) {
    case Type::kInt:
    case Type::kBool:
      return "INTEGER";
    case Type::kDouble:
      return "REAL";
    case Type::kDecimal:
      return "NUMERIC";
    case Type::kNull:
    case Type::kText:
    case Type::kDate:
    case Type::kTimestamp:
    case Type::kJson:
      return "TEXT";
  }
  return "TEXT";
}

bool needs_rebuild(Type from, Type to) {
  return std::string_view(sql_type(from)) != sql_type(to);
}

std::string convert_expr(const std::string& c, Type from, Type to) {
  if (from == to) return c;
  if (to == Type::kText || to == Type::kJson) {
    if (from == Type::kBool)
      return fmt::format(
          "CASE {0} WHEN 1 THEN 'true' WHEN 0 THEN 'false' ELSE CAST({0} AS TEXT) END", c);
    if (std::string_view(sql_type(from)) != "TEXT") return fmt::format("CAST({} AS TEXT)", c);
    return c;
  }
  if (to == Type::kDouble) return fmt::format("CAST({} AS REAL)", c);
  if (from == Type::kDate && to == Type::kTimestamp)
    return fmt::format("CASE WHEN length({0}) = 10 THEN {0} || 'T00:00:00Z' ELSE {0} END", c);
  return c;  // int/double -> decimal: NUMERIC affinity keeps the number
}

bool is_canonical_date(std::string_view s) {
  return s.size() == 10 && s[4] == '-' && s[7] == '-' && is_digit(s[0]) && is_digit(s[1]) &&
         is_digit(s[2]) && is_digit(s[3]) && is_digit(s[5]) && is_digit(s[6]) && is_digit(s[8]) &&
         is_digit(s[9]);
}

bool is_canonical_timestamp(std::string_view s, int64_t micros) {
  const size_t n = s.size();
  if (n != 20 && n != 27) return false;
  if (!is_canonical_date(s.substr(0, 10)) || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[n - 1] != 'Z')
    return false;
  if (!is_digit(s[11]) || !is_digit(s[12]) || !is_digit(s[14]) || !is_digit(s[15]) || s[17] < '0' ||
      s[17] > '5' || !is_digit(s[18]))  // second 60 is normalised
    return false;
  if (n == 20) return true;
  if (s[19] != '.' || micros % 1000000 == 0) return false;  // canonical omits ".000000"
  for (size_t i = 20; i < 26; ++i)
    if (!is_digit(s[i])) return false;
  return true;
}

}  // namespace ferry::sqlite_dst
