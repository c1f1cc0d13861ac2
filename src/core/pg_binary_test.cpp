// The binary COPY writer's bytes. That PostgreSQL reads them back as the same values is
// checked against a real server in destinations/postgres/postgres_destination_test.cpp.
#include "core/pg_binary.h"

#include <gtest/gtest.h>

#include <vector>

namespace ferry {
namespace {

// The big-endian 16-bit words after numeric's 4-byte length: ndigits, weight, sign, dscale,
// digits.
std::vector<int> numeric_words(std::string_view text) {
  std::string out;
  if (!pg_binary_numeric(out, text)) return {};
  auto byte = [&](size_t i) { return static_cast<unsigned char>(out[i]); };
  size_t len = (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
  EXPECT_EQ(len, out.size() - 4) << text;
  std::vector<int> words;
  for (size_t i = 4; i + 1 < out.size(); i += 2)
    words.push_back(static_cast<int16_t>((byte(i) << 8) | byte(i + 1)));
  return words;
}

TEST(PgBinaryNumeric, GroupsDigitsInBaseTenThousandAroundThePoint) {
  // ndigits, weight, sign, dscale, digits...
  EXPECT_EQ(numeric_words("12.50"), (std::vector<int>{2, 0, 0, 2, 12, 5000}));
  EXPECT_EQ(numeric_words("123456789"), (std::vector<int>{3, 2, 0, 0, 1, 2345, 6789}));
  EXPECT_EQ(numeric_words("-0.001"), (std::vector<int>{1, -1, 0x4000, 3, 10}));
  EXPECT_EQ(numeric_words("10000"), (std::vector<int>{1, 1, 0, 0, 1}));
  EXPECT_EQ(numeric_words("0.00012"), (std::vector<int>{2, -1, 0, 5, 1, 2000}));
  EXPECT_EQ(numeric_words("0.12"), (std::vector<int>{1, -1, 0, 2, 1200}));
  EXPECT_EQ(numeric_words(".5"), (std::vector<int>{1, -1, 0, 1, 5000}));
  EXPECT_EQ(numeric_words("+7."), (std::vector<int>{1, 0, 0, 0, 7}));
}

TEST(PgBinaryNumeric, ExponentsMoveThePointAndTheScale) {
  EXPECT_EQ(numeric_words("1.5e3"), (std::vector<int>{1, 0, 0, 0, 1500}));
  EXPECT_EQ(numeric_words("1E-3"), (std::vector<int>{1, -1, 0, 3, 10}));
  EXPECT_EQ(numeric_words("25e+4"), (std::vector<int>{1, 1, 0, 0, 25}));
}

TEST(PgBinaryNumeric, ZeroAndSpecialValues) {
  EXPECT_EQ(numeric_words("0"), (std::vector<int>{0, 0, 0, 0}));
  EXPECT_EQ(numeric_words("-0.00"), (std::vector<int>{0, 0, 0, 2}));
  EXPECT_EQ(numeric_words("NaN"), (std::vector<int>{0, 0, static_cast<int16_t>(0xC000), 0}));
  EXPECT_EQ(numeric_words("-Infinity"), (std::vector<int>{0, 0, static_cast<int16_t>(0xF000), 0}));
  EXPECT_EQ(numeric_words("inf"), (std::vector<int>{0, 0, static_cast<int16_t>(0xD000), 0}));
}

TEST(PgBinaryNumeric, RefusesWhatIsNotADecimalAndLeavesTheBufferAlone) {
  for (const char* bad :
       {"", "-", ".", "1.2.3", "12a", " 12", "1e", "1e+", "0x10", "true", "1e999999", "1e-99999"}) {
    std::string out = "keep";
    EXPECT_FALSE(pg_binary_numeric(out, bad)) << bad;
    EXPECT_EQ(out, "keep") << bad;
  }
}

TEST(PgBinaryType, NamesTheWriterOfEachDeclaredType) {
  EXPECT_EQ(pg_binary_type("bigint"), PgBinaryType::kInt8);
  EXPECT_EQ(pg_binary_type("integer"), PgBinaryType::kInt4);
  EXPECT_EQ(pg_binary_type("smallint"), PgBinaryType::kInt2);
  EXPECT_EQ(pg_binary_type("numeric(12,2)"), PgBinaryType::kNumeric);
  EXPECT_EQ(pg_binary_type("character varying(20)"), PgBinaryType::kText);
  EXPECT_EQ(pg_binary_type("timestamp(3) with time zone"), PgBinaryType::kTimestamp);
  EXPECT_EQ(pg_binary_type("timestamptz"), PgBinaryType::kTimestamp);
  EXPECT_EQ(pg_binary_type("jsonb"), PgBinaryType::kJsonb);
  for (const char* other : {"uuid", "real", "integer[]", "inet", "time without time zone",
                            "public.mood", "bytea", "numeric(12"})
    EXPECT_EQ(pg_binary_type(other), std::nullopt) << other;
}

TEST(PgBinaryValue, WritesCellsInTheColumnsFormat) {
  Column col("c");
  col.append_int(3000000000, "3000000000");
  col.append_timestamp(946684800000000 + 1, "2000-01-01T00:00:00.000001Z");
  col.append_date(10958, "2000-01-02");
  col.append_text(Type::kText, "x");
  std::string out;
  EXPECT_TRUE(pg_binary_value(out, col, col[0], PgBinaryType::kInt8));
  EXPECT_EQ(out, std::string("\0\0\0\x08\0\0\0\0\xb2\xd0\x5e\x00", 12));
  out.clear();
  EXPECT_FALSE(pg_binary_value(out, col, col[0], PgBinaryType::kInt4));  // out of range
  EXPECT_FALSE(pg_binary_value(out, col, col[3], PgBinaryType::kInt8));  // text
  EXPECT_EQ(out, "");
  EXPECT_TRUE(pg_binary_value(out, col, col[1], PgBinaryType::kTimestamp));
  EXPECT_EQ(out, std::string("\0\0\0\x08\0\0\0\0\0\0\0\x01", 12));  // micros since 2000
  out.clear();
  EXPECT_TRUE(pg_binary_value(out, col, col[2], PgBinaryType::kDate));
  EXPECT_EQ(out, std::string("\0\0\0\x04\0\0\0\x01", 8));  // days since 2000
  out.clear();
  EXPECT_TRUE(pg_binary_value(out, col, col[3], PgBinaryType::kJsonb));
  EXPECT_EQ(out, std::string("\0\0\0\x02\x01x", 6));  // jsonb's version byte
}

}  // namespace
}  // namespace ferry
