#include <gtest/gtest.h>

#include <time.h>

#include <cstdio>
#include <random>

#include "core/batch.h"
#include "core/infer.h"
#include "core/redact.h"
#include "core/types.h"

namespace ferry {
namespace {

TEST(Types, WidenIntDoubleText) {
  EXPECT_EQ(widen(Type::kInt, Type::kDouble), Type::kDouble);
  EXPECT_EQ(widen(Type::kDouble, Type::kText), Type::kText);
  EXPECT_EQ(widen(Type::kNull, Type::kInt), Type::kInt);
  EXPECT_EQ(widen(Type::kDate, Type::kTimestamp), Type::kTimestamp);
  EXPECT_EQ(widen(Type::kBool, Type::kInt), Type::kText);
  EXPECT_TRUE(fits(Type::kInt, Type::kDouble));
  EXPECT_FALSE(fits(Type::kText, Type::kInt));
}

TEST(Types, ParseTypeNames) {
  EXPECT_EQ(parse_type_name("VARCHAR(20)"), Type::kText);
  EXPECT_EQ(parse_type_name("long"), Type::kInt);
  EXPECT_EQ(parse_type_name("numeric(10,2)"), Type::kDecimal);
  EXPECT_EQ(parse_type_name("datetime"), Type::kTimestamp);
  EXPECT_EQ(parse_type_name("object"), Type::kJson);
  EXPECT_FALSE(parse_type_name("blob").has_value());
}

TEST(Infer, Numbers) {
  Column c("x");
  append_inferred(c, "42");
  append_inferred(c, "-7");
  EXPECT_EQ(c.type(), Type::kInt);
  EXPECT_EQ(c[0].i, 42);
  append_inferred(c, "1.5");
  EXPECT_EQ(c.type(), Type::kDouble);
  append_inferred(c, "007");
  EXPECT_EQ(c[3].type, Type::kText);
  EXPECT_EQ(c.type(), Type::kText);
  EXPECT_EQ(c.text(3), "007");
}

TEST(Infer, RejectsNonNumbersThatLookNumeric) {
  for (const char* s : {"nan", "inf", ".5", "1.", "+1", "1e", "--1", "0x10"}) {
    Column c("x");
    append_inferred(c, s);
    EXPECT_EQ(c[0].type, Type::kText) << s;
  }
}

TEST(Infer, Timestamps) {
  int64_t us;
  ASSERT_TRUE(parse_timestamp("2024-01-02T03:04:05Z", &us));
  EXPECT_EQ(format_timestamp(us), "2024-01-02T03:04:05Z");
  ASSERT_TRUE(parse_timestamp("2024-01-02 05:04:05.25+02:00", &us));
  EXPECT_EQ(format_timestamp(us), "2024-01-02T03:04:05.250000Z");
  ASSERT_TRUE(parse_timestamp("2024-01-01T23:30:00-0100", &us));
  EXPECT_EQ(format_timestamp(us), "2024-01-02T00:30:00Z");
  EXPECT_FALSE(parse_timestamp("2024-02-30T00:00:00Z", &us));
  EXPECT_FALSE(parse_timestamp("2024-01-02T03:04:05Q", &us));
  int64_t days;
  ASSERT_TRUE(parse_date("1969-12-31", &days));
  EXPECT_EQ(days, -1);
  EXPECT_EQ(format_date(days), "1969-12-31");
  ASSERT_TRUE(parse_timestamp("1969-12-31T23:59:59.5Z", &us));
  EXPECT_EQ(format_timestamp(us), "1969-12-31T23:59:59.500000Z");
}

// The canonical text of a timestamp by another route: gmtime_r and printf.
std::string reference_timestamp(int64_t micros) {
  int64_t secs = micros / 1000000;
  if (micros % 1000000 < 0) --secs;
  const int64_t us = micros - secs * 1000000;
  const time_t t = static_cast<time_t>(secs);
  tm utc{};
  EXPECT_NE(gmtime_r(&t, &utc), nullptr) << micros;
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d",
                        static_cast<long long>(utc.tm_year) + 1900, utc.tm_mon + 1, utc.tm_mday,
                        utc.tm_hour, utc.tm_min, utc.tm_sec);
  if (us != 0) n += std::snprintf(buf + n, sizeof buf - n, ".%06lld", static_cast<long long>(us));
  return std::string(buf, static_cast<size_t>(n)) + "Z";
}

TEST(Infer, FormattingMatchesGmtimeAcrossYears) {
  std::mt19937_64 rng(42);
  char buf[32];
  // Around now (1906..2160), then any year of +-146,000 (negative years included).
  struct Span {
    int64_t low;
    uint64_t width;
  };
  for (Span span : {Span{-2000000000000000LL, 8000000000000000ULL},
                    Span{-(int64_t{1} << 62), uint64_t{1} << 63}}) {
    for (int i = 0; i < 20000; ++i) {
      int64_t us = span.low + static_cast<int64_t>(rng() % span.width);
      if (i % 2) us -= us % 1000000;  // whole seconds half the time
      const std::string want = reference_timestamp(us);
      ASSERT_EQ(std::string(buf, format_timestamp(us, buf)), want) << us;
      ASSERT_EQ(format_timestamp(us), want);
      const int64_t days = us / 86400000000LL;
      const std::string midnight = reference_timestamp(days * 86400000000LL);
      ASSERT_EQ(format_date(days), midnight.substr(0, midnight.find('T'))) << days;
    }
  }
  // Years outside 0..9999 as printf's "%04lld".
  EXPECT_EQ(format_date(days_from_civil(0, 1, 1)), "0000-01-01");
  EXPECT_EQ(format_date(days_from_civil(-1, 12, 31)), "-001-12-31");
  EXPECT_EQ(format_date(days_from_civil(-1000, 3, 1)), "-1000-03-01");
  EXPECT_EQ(format_date(days_from_civil(10000, 1, 1)), "10000-01-01");
  EXPECT_EQ(format_timestamp(days_from_civil(-44, 3, 15) * 86400000000LL + 1),
            "-044-03-15T00:00:00.000001Z");
}

TEST(Batch, RowsPadMissingColumnsWithNull) {
  Batch b("t");
  append_inferred(b.column(b.column_index("a")), "1");
  b.end_row();
  append_inferred(b.column(b.column_index("b")), "x");
  b.end_row();
  ASSERT_EQ(b.num_rows(), 2u);
  EXPECT_TRUE(b.column(0)[1].is_null());
  EXPECT_TRUE(b.column(1)[0].is_null());
  EXPECT_EQ(b.column(1).text(1), "x");
  b.clear();
  EXPECT_EQ(b.num_rows(), 0u);
  EXPECT_EQ(b.num_columns(), 2u);
}

TEST(Redact, ReplacesRegisteredSecrets) {
  register_secret("s3cr3t-value");
  EXPECT_EQ(redact("token=s3cr3t-value; again s3cr3t-value"), "token=***; again ***");
  register_secret("abc");  // too short to register
  EXPECT_EQ(redact("abc"), "abc");
}

}  // namespace
}  // namespace ferry

#include "core/names.h"

namespace ferry {
namespace {

TEST(Names, Sanitize) {
  EXPECT_EQ(sanitize_name("\"; drop table x; --"), "drop_table_x");
  EXPECT_EQ(sanitize_name("Order ID"), "order_id");
  EXPECT_EQ(sanitize_name("_id"), "_id");
  EXPECT_EQ(sanitize_name("9lives"), "_9lives");
  EXPECT_EQ(sanitize_name("***"), "_col");
  EXPECT_EQ(sanitize_name("größe"), "größe");
  EXPECT_EQ(sanitize_name(std::string(100, 'a')).size(), 63u);
  EXPECT_EQ(quote_ident("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(quote_literal("it's"), "'it''s'");
}

}  // namespace
}  // namespace ferry

#include "core/hash.h"

namespace ferry {
namespace {

TEST(Hash64, SameBytesSameHashWhateverTheChunking) {
  std::string data;
  for (int i = 0; i < 1000; ++i)
    data += std::to_string(i * 7919);
  uint64_t whole = Hash64::of(data);
  for (size_t step : {1u, 3u, 7u, 8u, 13u, 64u}) {
    Hash64 h;
    for (size_t i = 0; i < data.size(); i += step)
      h.update(std::string_view(data).substr(i, step));
    EXPECT_EQ(h.digest(), whole) << step;
  }
  EXPECT_NE(Hash64::of("abc"), Hash64::of("abd"));
  EXPECT_NE(Hash64::of("abc"), Hash64::of("abc", 1));
  EXPECT_NE(Hash64::of(std::string(8, '\0')), Hash64::of(std::string(9, '\0')));
  EXPECT_EQ(Hash64().hex().size(), 16u);
}

}  // namespace
}  // namespace ferry
