#include "core/infer.h"

#include <algorithm>
#include <charconv>

namespace ferry {
namespace {

bool digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// True when all of `s` is one number in std::from_chars' syntax (looser than inference's).
template <typename T>
bool from_chars_whole(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int64_t y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Parses YYYY-MM-DD at the start of s.
bool parse_ymd(std::string_view s, int64_t* days) {
  int y, m, d;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return false;
  if (!digits(s, 0, 4, &y) || !digits(s, 5, 2, &m) || !digits(s, 8, 2, &d)) return false;
  if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return false;
  *days = days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  return true;
}

void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

inline char* put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

// Writes the last `n` decimal digits of v, zero-padded.
inline char* put_digits(char* p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + n;
}

// Writes a year as printf's "%04lld" would: at least four characters, a sign included.
char* put_year(char* p, int64_t y) {
  uint64_t magnitude = y < 0 ? 0 - static_cast<uint64_t>(y) : static_cast<uint64_t>(y);
  int n = 1;
  for (uint64_t rest = magnitude; rest >= 10; rest /= 10)
    ++n;
  if (y < 0) *p++ = '-';
  return put_digits(p, magnitude, std::max(n, y < 0 ? 3 : 4));
}

// Writes YYYY-MM-DD.
char* put_date(char* p, int64_t days) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  if (y >= 0 && y <= 9999) {  // all but the rarest dates
    p = put_digits(p, static_cast<uint64_t>(y), 4);
  } else {
    p = put_year(p, y);
  }
  *p++ = '-';
  p = put2(p, m);
  *p++ = '-';
  return put2(p, d);
}

}  // namespace

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool parse_int64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  if (s[i] == '0' && s.size() > i + 1) return false;  // leading zeros stay text
  return from_chars_whole(s, out);
}

bool parse_double(std::string_view s, double* out) {
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  // Require a digit first and a digit after any '.', so "nan", "inf", ".5" and "1." stay text.
  if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
  if (s[i] == '0' && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9') return false;
  for (size_t k = i; k < s.size(); ++k) {
    if (s[k] == '.' && (k + 1 >= s.size() || s[k + 1] < '0' || s[k + 1] > '9')) return false;
  }
  return from_chars_whole(s, out);
}

bool parse_date(std::string_view s, int64_t* days) {
  return s.size() == 10 && parse_ymd(s, days);
}

bool parse_timestamp(std::string_view s, int64_t* micros) {
  int64_t days;
  if (s.size() < 16 || !parse_ymd(s, &days)) return false;
  if (s[10] != 'T' && s[10] != ' ' && s[10] != 't') return false;
  int hh, mm, ss = 0;
  if (!digits(s, 11, 2, &hh) || s[13] != ':' || !digits(s, 14, 2, &mm)) return false;
  size_t pos = 16;
  int64_t frac_us = 0;
  if (pos < s.size() && s[pos] == ':') {
    if (!digits(s, pos + 1, 2, &ss)) return false;
    pos += 3;
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      size_t start = pos;
      int64_t scale = 100000;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (scale > 0) frac_us += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start) return false;
    }
  }
  if (hh > 23 || mm > 59 || ss > 60) return false;
  int64_t offset_s = 0;
  if (pos < s.size()) {
    char z = s[pos];
    if ((z == 'Z' || z == 'z') && pos + 1 == s.size()) {
      pos++;
    } else if (z == '+' || z == '-') {
      int oh, om = 0;
      if (!digits(s, pos + 1, 2, &oh)) return false;
      size_t p = pos + 3;
      if (p < s.size()) {
        if (s[p] == ':') ++p;
        if (!digits(s, p, 2, &om)) return false;
        p += 2;
      }
      if (p != s.size() || oh > 23 || om > 59) return false;
      offset_s = (oh * 3600 + om * 60) * (z == '-' ? -1 : 1);
      pos = p;
    } else {
      return false;
    }
  }
  if (pos != s.size()) return false;
  int64_t secs = days * 86400 + hh * 3600 + mm * 60 + ss - offset_s;
  *micros = secs * 1000000 + frac_us;
  return true;
}

void append_inferred(Column& col, std::string_view t) {
  if (t.empty()) {
    col.append_text(Type::kText, t);
    return;
  }
  char c = t[0];
  if ((c >= '0' && c <= '9') || c == '-') {
    if (t.size() >= 10 && t[4] == '-' && c != '-') {  // looks like a date: skip the numbers
      int64_t v;
      if (parse_date(t, &v)) return col.append_date(v, t);
      if (parse_timestamp(t, &v)) return col.append_timestamp(v, t);
      return col.append_text(Type::kText, t);
    }
    int64_t i;
    if (parse_int64(t, &i)) return col.append_int(i, t);
    double d;
    if (parse_double(t, &d)) return col.append_double(d, t);
  } else if (t == "true") {
    return col.append_bool(true, t);
  } else if (t == "false") {
    return col.append_bool(false, t);
  }
  col.append_text(Type::kText, t);
}

bool append_as(Column& col, Type type, std::string_view t) {
  switch (type) {
    case Type::kNull:
      col.append_null();
      return true;
    case Type::kBool:
      if (t == "true" || t == "1" || t == "TRUE" || t == "True" || t == "t") {
        col.append_bool(true, t);
        return true;
      }
      if (t == "false" || t == "0" || t == "FALSE" || t == "False" || t == "f") {
        col.append_bool(false, t);
        return true;
      }
      return false;
    case Type::kInt: {
      int64_t v;
      if (!from_chars_whole(t, &v)) return false;
      col.append_int(v, t);
      return true;
    }
    case Type::kDouble: {
      double d;
      if (!from_chars_whole(t, &d)) return false;
      col.append_double(d, t);
      return true;
    }
    case Type::kDecimal: {
      double d;  // a decimal keeps its text, which must be a number
      if (!from_chars_whole(t, &d)) return false;
      col.append_text(Type::kDecimal, t);
      return true;
    }
    case Type::kDate: {
      int64_t v;
      if (!parse_date(t, &v)) return false;
      col.append_date(v, t);
      return true;
    }
    case Type::kTimestamp: {
      int64_t v;
      if (parse_timestamp(t, &v)) {
        col.append_timestamp(v, t);
        return true;
      }
      if (parse_date(t, &v)) {
        col.append_timestamp(v * 86400 * 1000000, t);
        return true;
      }
      return false;
    }
    case Type::kText:
    case Type::kJson:
      col.append_text(type, t);
      return true;
  }
  return false;
}

size_t format_date(int64_t days, char* buf) {
  return static_cast<size_t>(put_date(buf, days) - buf);
}

size_t format_timestamp(int64_t micros, char* buf) {
  int64_t secs = micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
  int64_t us = micros - secs * 1000000;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t rem = secs - days * 86400;
  char* p = put_date(buf, days);
  *p++ = 'T';
  p = put2(p, static_cast<unsigned>(rem / 3600));
  *p++ = ':';
  p = put2(p, static_cast<unsigned>(rem % 3600 / 60));
  *p++ = ':';
  p = put2(p, static_cast<unsigned>(rem % 60));
  if (us != 0) {
    *p++ = '.';
    p = put_digits(p, static_cast<uint64_t>(us), 6);
  }
  *p++ = 'Z';
  return static_cast<size_t>(p - buf);
}

std::string format_timestamp(int64_t micros) {
  char buf[64];
  return std::string(buf, format_timestamp(micros, buf));
}

std::string format_date(int64_t days) {
  char buf[64];
  return std::string(buf, format_date(days, buf));
}

}  // namespace ferry
