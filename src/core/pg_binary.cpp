#include "core/pg_binary.h"

#include <cstdint>
#include <cstring>
#include <limits>

namespace ferry {
namespace {

using namespace std::string_view_literals;

// Days and micros between 1970-01-01 (ferry's epoch) and 2000-01-01 (PostgreSQL's).
constexpr int64_t kEpochDays = 10957;
constexpr int64_t kEpochMicros = kEpochDays * 86400 * int64_t{1000000};

// numeric's limits (PostgreSQL's NUMERIC_MAX_DISPLAY_SCALE and its 131072 digits before the
// point) and sign words.
constexpr int kMaxScale = 16383;
constexpr int64_t kMaxWeightDigits = 131072;
constexpr uint16_t kNumericPos = 0x0000;
constexpr uint16_t kNumericNeg = 0x4000;
constexpr uint16_t kNumericNaN = 0xC000;
constexpr uint16_t kNumericPInf = 0xD000;
constexpr uint16_t kNumericNInf = 0xF000;

// Big-endian integers, as the COPY format has them.
inline void put16(std::string& out, uint16_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
  out.append(b, 2);
}
inline void put32(std::string& out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff),
                     static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
  out.append(b, 4);
}
inline void put64(std::string& out, uint64_t v) {
  const char b[8] = {static_cast<char>(v >> 56),          static_cast<char>((v >> 48) & 0xff),
                     static_cast<char>((v >> 40) & 0xff), static_cast<char>((v >> 32) & 0xff),
                     static_cast<char>((v >> 24) & 0xff), static_cast<char>((v >> 16) & 0xff),
                     static_cast<char>((v >> 8) & 0xff),  static_cast<char>(v & 0xff)};
  out.append(b, 8);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// A special numeric (NaN, [+-]Infinity, [+-]inf, any case) as its sign word, else 0.
uint16_t special_numeric(std::string_view t) {
  if (iequals(t, "nan")) return kNumericNaN;
  bool neg = !t.empty() && t[0] == '-';
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) t.remove_prefix(1);
  if (iequals(t, "infinity") || iequals(t, "inf")) return neg ? kNumericNInf : kNumericPInf;
  return 0;
}

void put_text(std::string& out, std::string_view text) {
  put32(out, static_cast<uint32_t>(text.size()));
  out.append(text);
}

}  // namespace

const std::string_view kPgBinaryHeader("PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
const std::string_view kPgBinaryTrailer("\377\377", 2);

std::optional<PgBinaryType> pg_binary_type(std::string_view sql_type) {
  // The name without its type modifier: "numeric(12,2)" -> "numeric", "timestamp(3) with time
  // zone" -> "timestamp with time zone".
  std::string name(sql_type);
  size_t open = name.find('(');
  if (open != std::string::npos) {
    size_t close = name.find(')', open);
    if (close == std::string::npos) return std::nullopt;
    name.erase(open, close - open + 1);
  }
  if (name == "boolean" || name == "bool") return PgBinaryType::kBool;
  if (name == "smallint" || name == "int2") return PgBinaryType::kInt2;
  if (name == "integer" || name == "int4" || name == "int") return PgBinaryType::kInt4;
  if (name == "bigint" || name == "int8") return PgBinaryType::kInt8;
  if (name == "double precision" || name == "float8") return PgBinaryType::kFloat8;
  if (name == "numeric" || name == "decimal") return PgBinaryType::kNumeric;
  if (name == "text" || name == "character varying" || name == "varchar" || name == "character" ||
      name == "char" || name == "bpchar")
    return PgBinaryType::kText;
  if (name == "date") return PgBinaryType::kDate;
  if (name == "timestamp with time zone" || name == "timestamptz" ||
      name == "timestamp without time zone" || name == "timestamp")
    return PgBinaryType::kTimestamp;
  if (name == "json") return PgBinaryType::kJson;
  if (name == "jsonb") return PgBinaryType::kJsonb;
  return std::nullopt;
}

void pg_binary_row_start(std::string& out, int fields) {
  put16(out, static_cast<uint16_t>(fields));
}

void pg_binary_null(std::string& out) {
  put32(out, 0xffffffffu);
}

bool pg_binary_numeric(std::string& out, std::string_view text) {
  if (uint16_t special = special_numeric(text)) {
    put32(out, 8);
    put16(out, 0);  // ndigits
    put16(out, 0);  // weight
    put16(out, special);
    put16(out, 0);  // dscale
    return true;
  }
  // [sign] digits [. digits] [e [sign] digits], at least one digit before the exponent.
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  thread_local std::string digits;  // reused: no allocation per value
  digits.clear();
  int64_t frac = 0;
  bool point = false;
  for (; i < text.size(); ++i) {
    char ch = text[i];
    if (ch >= '0' && ch <= '9') {
      digits.push_back(ch);
      if (point) ++frac;
    } else if (ch == '.' && !point) {
      point = true;
    } else {
      break;
    }
  }
  if (digits.empty()) return false;
  int64_t exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) exp_negative = text[i++] == '-';
    size_t start = i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > 2 * kMaxWeightDigits) return false;
    }
    if (i == start) return false;
    if (exp_negative) exponent = -exponent;
  }
  if (i != text.size()) return false;
  int64_t dscale = frac - exponent < 0 ? 0 : frac - exponent;
  if (dscale > kMaxScale) return false;

  // The decimal point sits after `point_at` digits of `digits` (may be < 0 or > size).
  int64_t point_at = static_cast<int64_t>(digits.size()) - frac + exponent;
  size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) {  // zero: no digit groups
    put32(out, 8);
    put16(out, 0);
    put16(out, 0);
    put16(out, kNumericPos);
    put16(out, static_cast<uint16_t>(dscale));
    return true;
  }
  digits.erase(0, first);
  point_at -= static_cast<int64_t>(first);
  digits.erase(digits.find_last_not_of('0') + 1);
  if (point_at > kMaxWeightDigits) return false;

  // Base-10000 digit groups aligned at the decimal point: pad on the left until the point
  // falls on a group boundary, then on the right to whole groups.
  int64_t lead = ((4 - point_at % 4) % 4 + 4) % 4;
  digits.insert(0, static_cast<size_t>(lead), '0');
  point_at += lead;
  digits.append((4 - digits.size() % 4) % 4, '0');
  size_t groups = digits.size() / 4;
  if (groups > std::numeric_limits<int16_t>::max()) return false;
  int64_t weight = point_at / 4 - 1;
  if (weight < std::numeric_limits<int16_t>::min() || weight > std::numeric_limits<int16_t>::max())
    return false;

  put32(out, static_cast<uint32_t>(8 + 2 * groups));
  put16(out, static_cast<uint16_t>(groups));
  put16(out, static_cast<uint16_t>(static_cast<int16_t>(weight)));
  put16(out, negative ? kNumericNeg : kNumericPos);
  put16(out, static_cast<uint16_t>(dscale));
  for (size_t g = 0; g < groups; ++g) {
    const char* d = digits.data() + 4 * g;
    put16(out, static_cast<uint16_t>((d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 +
                                     (d[3] - '0')));
  }
  return true;
}

bool pg_binary_value(std::string& out, const Column& col, const Cell& c, PgBinaryType type) {
  const bool integral = c.type == Type::kInt || c.type == Type::kBool;
  switch (type) {
    case PgBinaryType::kBool:
      if (!integral) return false;
      put32(out, 1);
      out.push_back(c.i ? 1 : 0);
      return true;
    case PgBinaryType::kInt2:
      if (!integral || c.i < std::numeric_limits<int16_t>::min() ||
          c.i > std::numeric_limits<int16_t>::max())
        return false;
      put32(out, 2);
      put16(out, static_cast<uint16_t>(static_cast<int16_t>(c.i)));
      return true;
    case PgBinaryType::kInt4:
      if (!integral || c.i < std::numeric_limits<int32_t>::min() ||
          c.i > std::numeric_limits<int32_t>::max())
        return false;
      put32(out, 4);
      put32(out, static_cast<uint32_t>(static_cast<int32_t>(c.i)));
      return true;
    case PgBinaryType::kInt8:
      if (!integral) return false;
      put32(out, 8);
      put64(out, static_cast<uint64_t>(c.i));
      return true;
    case PgBinaryType::kFloat8: {
      double d;
      if (c.type == Type::kDouble) {
        d = c.d;
      } else if (c.type == Type::kInt) {
        d = static_cast<double>(c.i);
      } else {
        return false;
      }
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      put32(out, 8);
      put64(out, bits);
      return true;
    }
    case PgBinaryType::kNumeric:
      if (c.type == Type::kBool) return false;  // its text is true/false, not a number
      return pg_binary_numeric(out, col.text(c));
    case PgBinaryType::kText:
    case PgBinaryType::kJson:
      put_text(out, col.text(c));
      return true;
    case PgBinaryType::kJsonb: {
      std::string_view text = col.text(c);
      put32(out, static_cast<uint32_t>(text.size() + 1));
      out.push_back(1);  // jsonb's binary format version
      out.append(text);
      return true;
    }
    case PgBinaryType::kDate:
      if (c.type != Type::kDate) return false;
      put32(out, 4);
      put32(out, static_cast<uint32_t>(static_cast<int32_t>(c.i - kEpochDays)));
      return true;
    case PgBinaryType::kTimestamp:
      if (c.type == Type::kTimestamp) {
        put32(out, 8);
        put64(out, static_cast<uint64_t>(c.i - kEpochMicros));
        return true;
      }
      if (c.type == Type::kDate) {
        put32(out, 8);
        put64(out, static_cast<uint64_t>(c.i * 86400 * int64_t{1000000} - kEpochMicros));
        return true;
      }
      return false;
  }
  return false;
}

}  // namespace ferry
