#include "destinations/sqlite/sqlite_values.h"

#include <fmt/format.h>

#include "core/infer.h"

namespace ferry::sqlite_dst {
namespace {

void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

inline char* put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

inline char* put_digits(char* p, int64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + n;
}

inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Writes YYYY-MM-DD; returns nullptr when the year is outside 0..9999.
char* put_date(char* p, int64_t days) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  if (y < 0 || y > 9999) return nullptr;
  p = put_digits(p, y, 4);
  *p++ = '-';
  p = put2(p, m);
  *p++ = '-';
  return put2(p, d);
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

size_t write_date(int64_t days, char* buf) {
  char* end = put_date(buf, days);
  return end ? static_cast<size_t>(end - buf) : format_date(days, buf);
}

size_t write_timestamp(int64_t micros, char* buf) {
  int64_t secs = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  int64_t us = micros - secs * 1000000;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  char* p = put_date(buf, days);
  if (p == nullptr) return format_timestamp(micros, buf);
  *p++ = 'T';
  p = put2(p, static_cast<unsigned>(rem / 3600));
  *p++ = ':';
  p = put2(p, static_cast<unsigned>(rem % 3600 / 60));
  *p++ = ':';
  p = put2(p, static_cast<unsigned>(rem % 60));
  if (us != 0) {
    *p++ = '.';
    p = put_digits(p, us, 6);
  }
  *p++ = 'Z';
  return static_cast<size_t>(p - buf);
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
