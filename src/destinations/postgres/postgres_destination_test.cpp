// The postgres warehouse against a real PostgreSQL (tests/pg_server.h): the behaviours the
// sqlite destination's tests check, in PostgreSQL's terms, plus what only a server has
// (a reader on another connection during a replace, credentials, a dropped connection).
#include "destinations/postgres/postgres_destination.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "core/infer.h"
#include "core/redact.h"
#include "destinations/test_batch.h"
#include "pg_server.h"

namespace ferry {
namespace {

using ::testing::HasSubstr;
using testing::make_batch;
using ::testing::Not;
using testing::PgServer;
using Rows = std::vector<std::vector<std::string>>;

LoadSpec spec(const std::string& load_id, const std::string& table,
              WriteMode mode = WriteMode::kAppend, std::vector<std::string> pk = {},
              SchemaPolicy policy = SchemaPolicy::kEvolve) {
  LoadSpec s;
  s.job_id = "job_" + table;
  s.run_id = "run_" + load_id;
  s.load_id = load_id;
  s.root_table = table;
  s.mode = mode;
  s.primary_key = std::move(pk);
  s.schema_policy = policy;
  return s;
}

class PostgresDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PgServer* server = PgServer::shared();
    ASSERT_NE(server, nullptr) << PgServer::shared_error();
    url_ = server->create_database("dst");
    ASSERT_FALSE(url_.empty());
    dst_ = open();
    ASSERT_NE(dst_, nullptr);
  }

  std::unique_ptr<Destination> open(const std::string& schema = "public") {
    PostgresDestinationOptions o;
    o.connect.url = url_;
    o.schema = schema;
    auto d = open_postgres_destination(o);
    EXPECT_TRUE(d.ok()) << d.status().to_string();
    return d.ok() ? std::move(d).value() : nullptr;
  }

  // Rows as text, "NULL" for null, without the header row.
  Rows q(const std::string& sql, Destination* d = nullptr) {
    auto r = (d ? d : dst_.get())->query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().to_string();
    Rows out;
    if (!r.ok() || r->empty()) return out;
    for (size_t i = 1; i < r->size(); ++i) {
      auto& o = out.emplace_back();
      for (const auto& v : (*r)[i])
        o.push_back(v ? *v : "NULL");
    }
    return out;
  }

  WriteResult load(const LoadSpec& s, const std::vector<Batch>& batches,
                   nlohmann::json state = nlohmann::json::object()) {
    WriteResult result;
    Status st = dst_->begin(s);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    for (const Batch& b : batches) {
      st = dst_->write(b, &result);
      EXPECT_TRUE(st.is_ok()) << st.to_string();
    }
    LoadStats stats;
    stats.rows_loaded = static_cast<int64_t>(result.rows_written);
    st = dst_->commit(state, stats);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return result;
  }

  std::string url_;
  std::unique_ptr<Destination> dst_;
};

TEST_F(PostgresDestinationTest, CreatesAppendsAndTagsRowsWithTheLoadId) {
  auto r1 = load(spec("L1", "t"), {make_batch("t", {"id", "name"}, {{"1", "a"}, {"2", "b"}})});
  EXPECT_EQ(r1.rows_written, 2u);
  ASSERT_EQ(r1.changes.size(), 1u);
  EXPECT_EQ(r1.changes[0].kind, SchemaChange::Kind::kCreateTable);
  load(spec("L2", "t"), {make_batch("t", {"id", "name"}, {{"3", "c"}})});
  EXPECT_EQ(q("SELECT id, name, _ferry_load_id FROM t ORDER BY id"),
            (Rows{{"1", "a", "L1"}, {"2", "b", "L1"}, {"3", "c", "L2"}}));
  EXPECT_EQ(q("SELECT load_id, job_id, run_id, rows_loaded FROM _ferry_loads ORDER BY load_id"),
            (Rows{{"L1", "job_t", "run_L1", "2"}, {"L2", "job_t", "run_L2", "1"}}));
  // Staging tables are gone once the load committed.
  EXPECT_EQ(q("SELECT count(*) FROM pg_class WHERE relname LIKE '\\_ferry\\_stage%'"),
            (Rows{{"0"}}));
}

TEST_F(PostgresDestinationTest, StoresEveryTypeAsItsPostgresType) {
  Batch b("t");
  for (const char* c : {"i", "d", "b", "day", "at", "at2", "j", "dec", "s"})
    b.column_index(c);
  append_inferred(b.column(0), "42");
  append_inferred(b.column(1), "2.5");
  append_inferred(b.column(2), "true");
  append_inferred(b.column(3), "2024-02-29");
  append_inferred(b.column(4), "2024-01-02 05:04:05.25+02:00");
  append_inferred(b.column(5), "2024-01-02T03:04:05Z");
  b.column(6).append_text(Type::kJson, R"({"a": [1, "x"]})");
  b.column(7).append_text(Type::kDecimal, "12345678901234567890.125");
  b.column(8).append_text(Type::kText, "tab\there\nnew line \\ back, ünïcode");
  b.end_row();
  b.column(8).append_text(Type::kText, "");  // an empty string is not a null
  b.end_row();
  load(spec("L1", "t"), {b});
  EXPECT_EQ(q("SELECT i, d, b, day, at, at2, j, dec, s FROM t WHERE i IS NOT NULL"),
            (Rows{{"42", "2.5", "t", "2024-02-29", "2024-01-02 03:04:05.25+00",
                   "2024-01-02 03:04:05+00", R"({"a": [1, "x"]})", "12345678901234567890.125",
                   "tab\there\nnew line \\ back, ünïcode"}}));
  EXPECT_EQ(q("SELECT s = '', i IS NULL FROM t WHERE i IS NULL"), (Rows{{"t", "t"}}));
  EXPECT_EQ(q("SELECT column_name, data_type FROM information_schema.columns WHERE "
              "table_name = 't' ORDER BY ordinal_position"),
            (Rows{{"i", "bigint"},
                  {"d", "double precision"},
                  {"b", "boolean"},
                  {"day", "date"},
                  {"at", "timestamp with time zone"},
                  {"at2", "timestamp with time zone"},
                  {"j", "jsonb"},
                  {"dec", "numeric"},
                  {"s", "text"},
                  {"_ferry_load_id", "text"}}));
}

// Rows go in PostgreSQL's binary COPY format (core/pg_binary.h): the server reads each
// decimal as the same number, with the same scale, as it reads the decimal's text.
TEST_F(PostgresDestinationTest, DecimalsArriveAsTheServerWouldParseTheirText) {
  const std::vector<std::string> decimals = {
      "12.50",   "-0.001",   "0",           "-0.00",
      "1.5e3",   "1E-3",     "25e+4",       ".5",
      "+7.",     "NaN",      "-Infinity",   "123456789012345678901234567890.000000000000000001",
      "0.00012", "99999999", "-10000.0001", "1e20"};
  Batch b("n");
  b.column_index("i");
  b.column_index("dec");
  for (size_t i = 0; i < decimals.size(); ++i) {
    b.column(0).append_int(static_cast<int64_t>(i), std::to_string(i));
    b.column(1).append_text(Type::kDecimal, decimals[i]);
    b.end_row();
  }
  load(spec("L1", "n"), {b});
  Rows want;
  for (size_t i = 0; i < decimals.size(); ++i)
    want.push_back(q("SELECT " + std::to_string(i) + ", '" + decimals[i] + "'::numeric::text")[0]);
  EXPECT_EQ(q("SELECT i, dec::text FROM n ORDER BY i"), want);
}

// Columns of tables made outside ferry keep their types, binary or not: a value that does not
// fit (3e9 in an integer column) gets the server's own verdict, naming the table.
TEST_F(PostgresDestinationTest, TablesMadeOutsideFerryTakeRowsInTheirOwnTypes) {
  ASSERT_TRUE(dst_->execute("CREATE TABLE w (a integer, b smallint, c varchar(5), "
                            "d numeric(6,2), e timestamp, f char(3), g json, h real)")
                  .is_ok());
  Batch b("w");
  for (const char* c : {"a", "b", "c", "d", "e", "f", "g", "h"})
    b.column_index(c);
  append_inferred(b.column(0), "-2147483648");
  append_inferred(b.column(1), "32767");
  b.column(2).append_text(Type::kText, "ünï");
  b.column(3).append_text(Type::kDecimal, "1234.567");  // rounded by numeric(6,2)
  append_inferred(b.column(4), "2024-01-02T03:04:05.5Z");
  b.column(5).append_text(Type::kText, "ab");
  b.column(6).append_text(Type::kJson, R"({"b": 1,  "a": 2})");
  append_inferred(b.column(7), "0.1");
  b.end_row();
  load(spec("L1", "w"), {b});
  EXPECT_EQ(q("SELECT a, b, c, d, e, f || '|', g, h FROM w"),
            (Rows{{"-2147483648", "32767", "ünï", "1234.57", "2024-01-02 03:04:05.5", "ab|",
                   R"({"b": 1,  "a": 2})", "0.1"}}));

  // The first row fits an integer and goes in binary; the second does not, and from it on the
  // rows go as text, which the server refuses.
  ASSERT_TRUE(dst_->begin(spec("L2", "w")).is_ok());
  WriteResult r;
  Status st = dst_->write(make_batch("w", {"a"}, {{"1"}, {"3000000000"}}), &r);
  if (st.is_ok()) st = dst_->commit({}, {});
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_THAT(st.message(), HasSubstr("table w"));
  EXPECT_THAT(st.message(), HasSubstr("out of range for type integer"));
  dst_->rollback();
  EXPECT_EQ(q("SELECT count(*) FROM w"), (Rows{{"1"}}));

  // A later load of the same table that fits goes in again.
  load(spec("L3", "w"), {make_batch("w", {"a", "c"}, {{"7", "x"}, {"8", "y"}})});
  EXPECT_EQ(q("SELECT a, c FROM w WHERE _ferry_load_id = 'L3' ORDER BY a"),
            (Rows{{"7", "x"}, {"8", "y"}}));
}

// A load whose batch switches from binary to text mid-way keeps every row, in order.
TEST_F(PostgresDestinationTest, RowsAfterTheSwitchToTextAreAllThere) {
  ASSERT_TRUE(dst_->execute("CREATE TABLE s (a bigint, d numeric)").is_ok());
  Batch b("s");
  b.column_index("a");
  b.column_index("d");
  for (int i = 0; i < 5; ++i) {
    b.column(0).append_int(i, std::to_string(i));
    // " 5" is a decimal to the server (spaces around it are allowed), not to the binary writer.
    b.column(1).append_text(Type::kDecimal, i == 2 ? " 5" : std::to_string(i));
    b.end_row();
  }
  load(spec("L1", "s"), {b, make_batch("s", {"a"}, {{"9"}})});
  EXPECT_EQ(q("SELECT a, d FROM s ORDER BY a"),
            (Rows{{"0", "0"}, {"1", "1"}, {"2", "5"}, {"3", "3"}, {"4", "4"}, {"9", "NULL"}}));
}

TEST_F(PostgresDestinationTest, RowsOfNullsAreRowsToo) {
  auto r = load(spec("L1", "t"), {make_batch("t", {"a"}, {{std::nullopt}, {std::nullopt}}),
                                  make_batch("t", {"a"}, {{"1"}})});
  EXPECT_EQ(r.rows_written, 3u);
  EXPECT_EQ(q("SELECT count(*), count(a) FROM t"), (Rows{{"3", "1"}}));
}

TEST_F(PostgresDestinationTest, NewColumnInALaterBatchIsAddedAndReported) {
  auto r = load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}}),
                                  make_batch("t", {"id", "coupon"}, {{"2", "X"}})});
  ASSERT_EQ(r.changes.size(), 2u);
  EXPECT_EQ(r.changes[1].describe(), "added column t.coupon (text)");
  EXPECT_EQ(q("SELECT id, coupon FROM t ORDER BY id"), (Rows{{"1", "NULL"}, {"2", "X"}}));
  load(spec("L2", "t"), {make_batch("t", {"id", "more"}, {{"3", "2024-01-01"}})});
  EXPECT_EQ(q("SELECT data_type FROM information_schema.columns WHERE table_name = 't' AND "
              "column_name = 'more'"),
            (Rows{{"date"}}));
}

TEST_F(PostgresDestinationTest, WideningIntToDoubleToTextAltersTheColumnAndKeepsValues) {
  load(spec("L1", "t"), {make_batch("t", {"id", "v"}, {{"1", "10"}})});
  ASSERT_TRUE(dst_->execute("CREATE INDEX t_by_id ON t (id)").is_ok());
  auto r2 = load(spec("L2", "t"), {make_batch("t", {"id", "v"}, {{"2", "2.5"}})});
  ASSERT_EQ(r2.changes.size(), 1u);
  EXPECT_EQ(r2.changes[0].describe(), "widened column t.v from int to double");
  EXPECT_EQ(q("SELECT v, pg_typeof(v)::text FROM t ORDER BY id"),
            (Rows{{"10", "double precision"}, {"2.5", "double precision"}}));
  auto r3 = load(spec("L3", "t"), {make_batch("t", {"id", "v"}, {{"3", "n/a"}})});
  ASSERT_EQ(r3.changes.size(), 1u);
  EXPECT_EQ(r3.changes[0].describe(), "widened column t.v from double to text");
  EXPECT_EQ(
      q("SELECT id, v, pg_typeof(v)::text, _ferry_load_id FROM t ORDER BY id"),
      (Rows{{"1", "10", "text", "L1"}, {"2", "2.5", "text", "L2"}, {"3", "n/a", "text", "L3"}}));
  EXPECT_EQ(q("SELECT indexname FROM pg_indexes WHERE tablename = 't'"), (Rows{{"t_by_id"}}));
}

TEST_F(PostgresDestinationTest, WideningWithinOneLoadConvertsTheStagedRows) {
  auto r =
      load(spec("L1", "t"), {make_batch("t", {"v"}, {{"1"}}), make_batch("t", {"v"}, {{"1.5"}}),
                             make_batch("t", {"v"}, {{"x"}})});
  EXPECT_EQ(r.rows_written, 3u);
  EXPECT_EQ(q("SELECT v FROM t ORDER BY v"), (Rows{{"1"}, {"1.5"}, {"x"}}));
}

TEST_F(PostgresDestinationTest, WideningKeepsCanonicalSpellings) {
  load(spec("L1", "t"), {make_batch("t", {"f", "at", "d"},
                                    {{"true", "2024-01-02T03:04:05Z", "2024-01-02"},
                                     {"false", "2024-01-02T03:04:05.5Z", "2024-01-03"}})});
  load(spec("L2", "t"),
       {make_batch("t", {"f", "at", "d"}, {{"maybe", "later", "2024-01-04T01:02:03Z"}})});
  EXPECT_EQ(q("SELECT f, at, d FROM t ORDER BY _ferry_load_id, f DESC"),
            (Rows{{"true", "2024-01-02T03:04:05Z", "2024-01-02 00:00:00+00"},
                  {"false", "2024-01-02T03:04:05.500000Z", "2024-01-03 00:00:00+00"},
                  {"maybe", "later", "2024-01-04 01:02:03+00"}}));
}

TEST_F(PostgresDestinationTest, FreezeFailsOnANewColumnAndRejectsMisfitValues) {
  load(spec("L1", "t"), {make_batch("t", {"id", "amount"}, {{"1", "5"}})});
  ASSERT_TRUE(dst_->begin(spec("L2", "t", WriteMode::kAppend, {}, SchemaPolicy::kFreeze)).is_ok());
  WriteResult r;
  Status st = dst_->write(make_batch("t", {"id", "coupon"}, {{"2", "X"}}), &r);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_THAT(st.message(), HasSubstr("coupon"));
  dst_->rollback();

  ASSERT_TRUE(dst_->begin(spec("L3", "t", WriteMode::kAppend, {}, SchemaPolicy::kFreeze)).is_ok());
  WriteResult r3;
  ASSERT_TRUE(
      dst_->write(make_batch("t", {"id", "amount"}, {{"3", "abc"}, {"4", "7"}}), &r3).is_ok());
  ASSERT_EQ(r3.rejects.size(), 1u);
  EXPECT_EQ(r3.rows_written, 1u);
  ASSERT_TRUE(dst_->write_rejects(r3.rejects).is_ok());
  ASSERT_TRUE(dst_->commit({}, {}).is_ok());
  EXPECT_EQ(q("SELECT id, amount FROM t ORDER BY id"), (Rows{{"1", "5"}, {"4", "7"}}));
  EXPECT_EQ(q("SELECT load_id, reason FROM _ferry_rejects"),
            (Rows{{"L3", "column amount is int, value 'abc' is text (schema: freeze)"}}));
}

TEST_F(PostgresDestinationTest, DiscardRowAndDiscardValueNeverChangeTheSchema) {
  load(spec("L1", "t"), {make_batch("t", {"id", "n"}, {{"1", "1"}})});
  auto r = load(spec("L2", "t", WriteMode::kAppend, {}, SchemaPolicy::kDiscardRow),
                {make_batch("t", {"id", "extra"}, {{"2", std::nullopt}, {"3", "x"}, {"x", "y"}})});
  EXPECT_EQ(r.rows_written, 1u);
  EXPECT_EQ(r.rejects.size(), 2u);
  auto r2 = load(spec("L3", "t", WriteMode::kAppend, {}, SchemaPolicy::kDiscardValue),
                 {make_batch("t", {"id", "n", "extra"}, {{"4", "oops", "e"}, {"5", "5", "f"}})});
  EXPECT_EQ(r2.rows_written, 2u);
  EXPECT_TRUE(r2.changes.empty());
  EXPECT_EQ(q("SELECT id, n FROM t ORDER BY id"),
            (Rows{{"1", "1"}, {"2", "NULL"}, {"4", "NULL"}, {"5", "5"}}));
  EXPECT_EQ(q("SELECT count(*) FROM information_schema.columns WHERE table_name = 't'"),
            (Rows{{"3"}}));  // id, n, _ferry_load_id
}

TEST_F(PostgresDestinationTest, MergeUpsertsOnThePrimaryKey) {
  auto merge = [](const std::string& id) { return spec(id, "c", WriteMode::kMerge, {"id"}); };
  load(merge("L1"), {make_batch("c", {"id", "name", "note"}, {{"1", "a", "x"}, {"2", "b", "y"}})});
  // A re-delivered row replaces the old one whole; a key twice in one load ends as its last
  // version (across batches too); a null key is rejected.
  auto r = load(merge("L2"), {make_batch("c", {"id", "name"}, {{"2", "B"}, {"3", "c"}}),
                              make_batch("c", {"id", "name"}, {{"3", "C"}, {std::nullopt, "z"}})});
  EXPECT_EQ(r.rows_written, 3u);
  ASSERT_EQ(r.rejects.size(), 1u);
  EXPECT_EQ(r.rejects[0].reason, "primary key column id is null");
  EXPECT_EQ(q("SELECT id, name, note, _ferry_load_id FROM c ORDER BY id"),
            (Rows{{"1", "a", "x", "L1"}, {"2", "B", "NULL", "L2"}, {"3", "C", "NULL", "L2"}}));
  auto tables = dst_->tables();
  ASSERT_TRUE(tables.ok()) << tables.status().to_string();
  ASSERT_EQ(tables->size(), 1u);
  EXPECT_EQ((*tables)[0].primary_key, std::vector<std::string>{"id"});
  // Merging again and again converges.
  for (const char* id : {"L3", "L4"})
    load(merge(id), {make_batch("c", {"id", "name"}, {{"1", "a"}, {"2", "B"}, {"3", "C"}})});
  EXPECT_EQ(q("SELECT count(*), count(DISTINCT id) FROM c"), (Rows{{"3", "3"}}));
}

// The first merge into a new table inserts the rows without deduplicating them and lets the
// key's index prove them unique; a key delivered twice falls back to the deduplicating insert.
TEST_F(PostgresDestinationTest, FirstMergeIntoANewTableKeepsTheLastRowOfARepeatedKey) {
  auto merge = [](const std::string& id, const std::string& table) {
    return spec(id, table, WriteMode::kMerge, {"id"});
  };
  load(merge("L1", "n"), {make_batch("n", {"id", "name"}, {{"1", "a"}, {"2", "b"}}),
                          make_batch("n", {"id", "name"}, {{"2", "B"}, {"3", "c"}})});
  EXPECT_EQ(q("SELECT id, name, _ferry_load_id FROM n ORDER BY id"),
            (Rows{{"1", "a", "L1"}, {"2", "B", "L1"}, {"3", "c", "L1"}}));
  load(merge("M1", "u"), {make_batch("u", {"id", "name"}, {{"1", "a"}, {"2", "b"}})});
  EXPECT_EQ(q("SELECT count(*) FROM u"), (Rows{{"2"}}));
  for (const char* table : {"n", "u"}) {
    auto tables = dst_->tables();
    ASSERT_TRUE(tables.ok()) << tables.status().to_string();
    auto it = std::find_if(tables->begin(), tables->end(),
                           [&](const TableSchema& t) { return t.name == table; });
    ASSERT_NE(it, tables->end()) << table;
    EXPECT_EQ(it->primary_key, std::vector<std::string>{"id"}) << table;
  }
}

// The first merge copies its rows straight into the new table; a key delivered three times,
// across batches and across a widening that rewrites the table, keeps its last row.
TEST_F(PostgresDestinationTest, FirstMergeKeepsTheLastOfManyRowsOfAKeyAcrossAWidening) {
  Batch wide("n");
  wide.column_index("id");
  wide.column_index("v");
  append_inferred(wide.column(0), "1");
  append_inferred(wide.column(1), "not a number");  // v: int -> text, the table is rewritten
  wide.end_row();
  load(spec("L1", "n", WriteMode::kMerge, {"id"}),
       {make_batch("n", {"id", "v"}, {{"1", "10"}, {"2", "20"}, {"1", "11"}}), wide,
        make_batch("n", {"id", "v"}, {{"3", "30"}, {"1", "12"}, {"2", "21"}})});
  EXPECT_EQ(q("SELECT id, v, _ferry_load_id FROM n ORDER BY id"),
            (Rows{{"1", "12", "L1"}, {"2", "21", "L1"}, {"3", "30", "L1"}}));
  EXPECT_EQ(q("SELECT indexname FROM pg_indexes WHERE tablename = 'n'"), (Rows{{"_ferry_pk_n"}}));
}

TEST_F(PostgresDestinationTest, MergeUsesAnExistingPrimaryKeyAndNeedsUniqueRows) {
  Status st = dst_->begin(spec("L0", "m", WriteMode::kMerge, {}));
  EXPECT_EQ(st.code(), Code::kInvalid);
  load(spec("L1", "m"), {make_batch("m", {"id"}, {{"1"}, {"1"}})});
  ASSERT_TRUE(dst_->begin(spec("L2", "m", WriteMode::kMerge, {"id"})).is_ok());
  WriteResult r;
  ASSERT_TRUE(dst_->write(make_batch("m", {"id"}, {{"2"}}), &r).is_ok());
  st = dst_->commit({}, {});
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_THAT(st.message(), HasSubstr("unique"));
  EXPECT_EQ(q("SELECT count(*) FROM m"), (Rows{{"2"}}));
  // A table made outside ferry with its own primary key merges on it.
  ASSERT_TRUE(
      dst_->execute("CREATE TABLE k (a integer, b text, v text, PRIMARY KEY (b, a))").is_ok());
  auto merge = [](const std::string& id) { return spec(id, "k", WriteMode::kMerge, {"a", "b"}); };
  load(merge("L3"), {make_batch("k", {"a", "b", "v"}, {{"1", "x", "old"}})});
  load(merge("L4"), {make_batch("k", {"a", "b", "v"}, {{"1", "x", "new"}, {"2", "x", "n2"}})});
  EXPECT_EQ(q("SELECT a, b, v, pg_typeof(a)::text FROM k ORDER BY a"),
            (Rows{{"1", "x", "new", "integer"}, {"2", "x", "n2", "integer"}}));
  EXPECT_EQ(q("SELECT count(*) FROM pg_indexes WHERE tablename = 'k'"), (Rows{{"1"}}));
}

TEST_F(PostgresDestinationTest, MergeReplacesTheChildRowsOfRedeliveredRoots) {
  auto merge = [](const std::string& id) { return spec(id, "orders", WriteMode::kMerge, {"id"}); };
  load(merge("L1"), {make_batch("orders__items", {"_ferry_root_id", "_ferry_parent_id", "sku"},
                                {{"r1", "r1", "A"}, {"r1", "r1", "B"}, {"r2", "r2", "C"}}),
                     make_batch("orders", {"id", "_ferry_id"}, {{"1", "r1"}, {"2", "r2"}})});
  // Order 1 comes again with one item; the child batch is written before its root.
  load(merge("L2"), {make_batch("orders__items", {"_ferry_root_id", "_ferry_parent_id", "sku"},
                                {{"r9", "r9", "Z"}}),
                     make_batch("orders", {"id", "_ferry_id"}, {{"1", "r9"}})});
  EXPECT_EQ(q("SELECT id, _ferry_id FROM orders ORDER BY id"), (Rows{{"1", "r9"}, {"2", "r2"}}));
  EXPECT_EQ(q("SELECT _ferry_root_id, sku FROM orders__items ORDER BY sku"),
            (Rows{{"r2", "C"}, {"r9", "Z"}}));
  // The same ids as integers (as the normaliser makes them), re-delivered with the same id.
  auto merge2 = [](const std::string& id) { return spec(id, "o2", WriteMode::kMerge, {"id"}); };
  load(merge2("M1"),
       {make_batch("o2", {"id", "_ferry_id"}, {{"1", "11"}}),
        make_batch("o2__items", {"_ferry_root_id", "sku"}, {{"11", "A"}, {"11", "B"}})});
  load(merge2("M2"), {make_batch("o2", {"id", "_ferry_id"}, {{"1", "11"}}),
                      make_batch("o2__items", {"_ferry_root_id", "sku"}, {{"11", "C"}})});
  EXPECT_EQ(q("SELECT sku FROM o2__items"), (Rows{{"C"}}));
}

// An append stages its rows: until commit, other sessions neither see them nor wait for the
// table (a schema change of it goes through at once), and a schema change within the load
// keeps the rows written before it.
TEST_F(PostgresDestinationTest, AppendIsUnseenAndLocksNothingUntilCommit) {
  load(spec("L1", "t"), {make_batch("t", {"id", "v"}, {{"1", "10"}})});
  ASSERT_TRUE(dst_->begin(spec("L2", "t")).is_ok());
  WriteResult r;
  ASSERT_TRUE(dst_->write(make_batch("t", {"id", "v"}, {{"2", "20"}}), &r).is_ok());
  ASSERT_TRUE(dst_->write(make_batch("t", {"v", "id"}, {{"21", "2"}}), &r).is_ok());
  EXPECT_EQ(PgServer::query_value(url_, "SELECT count(*) FROM t"), "1");
  EXPECT_EQ(PgServer::exec(url_,
                           "SET lock_timeout = '2s'; ALTER TABLE t ADD COLUMN probe int; "
                           "ALTER TABLE t DROP COLUMN probe"),
            "");
  // A schema change within the load: the table is altered at commit, rows before it kept.
  ASSERT_TRUE(dst_->write(make_batch("t", {"id", "v", "extra"}, {{"3", "x", "e"}}), &r).is_ok());
  ASSERT_TRUE(dst_->write(make_batch("t", {"id"}, {{"4"}}), &r).is_ok());
  EXPECT_EQ(PgServer::query_value(url_, "SELECT count(*) FROM t"), "1");
  ASSERT_TRUE(dst_->commit({}, {}).is_ok());
  EXPECT_EQ(q("SELECT id, v, extra, _ferry_load_id, pg_typeof(v)::text FROM t ORDER BY id, v"),
            (Rows{{"1", "10", "NULL", "L1", "text"},
                  {"2", "20", "NULL", "L2", "text"},
                  {"2", "21", "NULL", "L2", "text"},
                  {"3", "x", "e", "L2", "text"},
                  {"4", "NULL", "NULL", "L2", "text"}}));
  // Rolled back, nothing of the load remains.
  ASSERT_TRUE(dst_->begin(spec("L3", "t")).is_ok());
  ASSERT_TRUE(dst_->write(make_batch("t", {"id", "v", "extra"}, {{"5", "50", "f"}}), &r).is_ok());
  dst_->rollback();
  EXPECT_EQ(q("SELECT count(*) FROM t"), (Rows{{"5"}}));
  EXPECT_EQ(q("SELECT count(*) FROM pg_class WHERE relname LIKE '\\_ferry\\_stage%'"),
            (Rows{{"0"}}));
}

TEST_F(PostgresDestinationTest, ReplaceSwapsAtomicallyWhileAnotherConnectionReads) {
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}, {"2"}})});
  // A reader on its own connection counts rows in a loop for the whole replace.
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<int> bad{0};
  std::string last_bad;
  std::thread reader([&] {
    while (!stop.load()) {
      std::string n = PgServer::query_value(url_, "SELECT count(*) FROM t");
      if (n != "2" && n != "3") {
        bad.fetch_add(1);
        last_bad = n;
      }
      reads.fetch_add(1);
    }
  });
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(dst_->begin(spec("R" + std::to_string(i), "t", WriteMode::kReplace)).is_ok());
    WriteResult r;
    ASSERT_TRUE(dst_->write(make_batch("t", {"id", "x"}, {{"7", "a"}, {"8", "b"}, {"9", "c"}}), &r)
                    .is_ok());
    EXPECT_EQ(PgServer::query_value(url_, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t"),
              i == 0 ? "1,2" : "7,8,9");
    ASSERT_TRUE(dst_->commit({}, {}).is_ok());
    ASSERT_TRUE(dst_->begin(spec("S" + std::to_string(i), "t", WriteMode::kReplace)).is_ok());
    ASSERT_TRUE(dst_->write(make_batch("t", {"id", "x"}, {{"1", "a"}, {"2", "b"}}), &r).is_ok());
    ASSERT_TRUE(dst_->commit({}, {}).is_ok());
    ASSERT_TRUE(dst_->begin(spec("T" + std::to_string(i), "t", WriteMode::kReplace)).is_ok());
    ASSERT_TRUE(dst_->write(make_batch("t", {"id", "x"}, {{"7", "a"}, {"8", "b"}, {"9", "c"}}), &r)
                    .is_ok());
    ASSERT_TRUE(dst_->commit({}, {}).is_ok());
  }
  while (reads.load() < 5)
    std::this_thread::yield();
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0) << last_bad;
  EXPECT_EQ(q("SELECT string_agg(x, ',' ORDER BY id), min(_ferry_load_id) FROM t"),
            (Rows{{"a,b,c", "T2"}}));
  EXPECT_EQ(q("SELECT count(*) FROM pg_tables WHERE tablename LIKE '%ferry_new%'"), (Rows{{"0"}}));
}

TEST_F(PostgresDestinationTest, RolledBackReplaceLeavesTheOldTable) {
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}, {"2"}})});
  ASSERT_TRUE(dst_->begin(spec("L2", "t", WriteMode::kReplace)).is_ok());
  WriteResult r;
  ASSERT_TRUE(dst_->write(make_batch("t", {"id"}, {{"9"}}), &r).is_ok());
  dst_->rollback();
  EXPECT_EQ(q("SELECT id FROM t ORDER BY id"), (Rows{{"1"}, {"2"}}));
  EXPECT_EQ(q("SELECT count(*) FROM pg_tables WHERE tablename LIKE '%ferry_new%'"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_loads WHERE load_id = 'L2'"), (Rows{{"0"}}));
}

TEST_F(PostgresDestinationTest, ReplaceWithoutRowsLeavesEmptyTablesWithTheirSchema) {
  load(spec("L1", "p"), {make_batch("p", {"id", "name"}, {{"1", "a"}}),
                         make_batch("p__tags", {"_ferry_parent_id", "value"}, {{"r1", "x"}})});
  load(spec("L2", "p", WriteMode::kReplace), {});
  EXPECT_EQ(q("SELECT count(*) FROM p"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT count(*) FROM p__tags"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM "
              "information_schema.columns WHERE table_name = 'p'"),
            (Rows{{"id,name,_ferry_load_id"}}));
  load(spec("L3", "p"), {make_batch("p__tags", {"_ferry_parent_id", "value"}, {{"r1", "x"}})});
  load(spec("L4", "p", WriteMode::kReplace), {make_batch("p", {"id", "name"}, {{"2", "b"}})});
  EXPECT_EQ(q("SELECT id, name FROM p"), (Rows{{"2", "b"}}));
  EXPECT_EQ(q("SELECT count(*) FROM p__tags"), (Rows{{"0"}}));
}

TEST_F(PostgresDestinationTest, ReplaceKeepsKnownColumnsAndWidensInStaging) {
  load(spec("L1", "t"), {make_batch("t", {"id", "old"}, {{"1", "o"}})});
  auto r = load(spec("L2", "t", WriteMode::kReplace),
                {make_batch("t", {"id"}, {{"2"}}), make_batch("t", {"id"}, {{"x"}})});
  ASSERT_EQ(r.changes.size(), 1u);
  EXPECT_EQ(r.changes[0].describe(), "widened column t.id from int to text");
  EXPECT_EQ(q("SELECT id, old, pg_typeof(id)::text FROM t ORDER BY id"),
            (Rows{{"2", "NULL", "text"}, {"x", "NULL", "text"}}));
}

TEST_F(PostgresDestinationTest, ACommittedLoadIdIsANoOp) {
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}})});
  Status st = dst_->begin(spec("L1", "t"));
  EXPECT_EQ(st.code(), Code::kCancelled);
  EXPECT_EQ(st.message(), "already committed");
  // A second instance that began before the first committed finds out at its commit, and
  // leaves nothing of its own.
  auto other = open();
  ASSERT_TRUE(other->begin(spec("L2", "t")).is_ok());
  WriteResult r;
  ASSERT_TRUE(other->write(make_batch("t", {"id"}, {{"3"}}), &r).is_ok());
  load(spec("L2", "t"), {make_batch("t", {"id"}, {{"2"}})});
  st = other->commit({{"watermark", "other"}}, {});
  EXPECT_EQ(st.code(), Code::kCancelled);
  EXPECT_EQ(st.message(), "already committed");
  EXPECT_EQ(q("SELECT id FROM t ORDER BY id"), (Rows{{"1"}, {"2"}}));
  EXPECT_EQ((*dst_->read_state("job_t")), nlohmann::json::object());
}

TEST_F(PostgresDestinationTest, RollbackLeavesNoRowsNoStateNoTables) {
  ASSERT_TRUE(dst_->begin(spec("L1", "t")).is_ok());
  WriteResult r;
  ASSERT_TRUE(dst_->write(make_batch("t", {"id"}, {{"1"}}), &r).is_ok());
  ASSERT_TRUE(dst_->write_rejects({Reject{{"f.csv", 3, 10}, "bad", "x"}}).is_ok());
  dst_->rollback();
  dst_->rollback();  // safe twice
  EXPECT_EQ(q("SELECT count(*) FROM pg_tables WHERE tablename = 't'"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_loads"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_rejects"), (Rows{{"0"}}));
  EXPECT_EQ(*dst_->read_state("job_t"), nlohmann::json::object());
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"5"}})});
  EXPECT_EQ(q("SELECT id FROM t"), (Rows{{"5"}}));
}

TEST_F(PostgresDestinationTest, AFailedCommitLeavesNothing) {
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}})});
  // A view on the table makes widening it fail inside the commit's transaction.
  ASSERT_TRUE(dst_->execute("CREATE VIEW tv AS SELECT id FROM t").is_ok());
  ASSERT_TRUE(dst_->begin(spec("L2", "t")).is_ok());
  WriteResult r;
  ASSERT_TRUE(dst_->write(make_batch("t", {"id", "n"}, {{"x", "1"}}), &r).is_ok());
  Status st = dst_->commit({{"watermark", "w"}}, {});
  EXPECT_FALSE(st.is_ok());
  EXPECT_THAT(st.message(), HasSubstr("t"));
  EXPECT_EQ(q("SELECT id FROM t"), (Rows{{"1"}}));
  EXPECT_EQ(q("SELECT count(*) FROM information_schema.columns WHERE table_name = 't'"),
            (Rows{{"2"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_loads WHERE load_id = 'L2'"), (Rows{{"0"}}));
  EXPECT_EQ(*dst_->read_state("job_t"), nlohmann::json::object());
  // The instance is usable again.
  load(spec("L3", "t"), {make_batch("t", {"id"}, {{"2"}})});
  EXPECT_EQ(q("SELECT count(*) FROM t"), (Rows{{"2"}}));
}

TEST_F(PostgresDestinationTest, StateCommitsWithTheRowsAndReadsBack) {
  nlohmann::json state = {{"watermark", "2024-01-02T00:00:00Z"}, {"files", {"a.csv"}}};
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}})}, state);
  auto other = open();
  auto got = other->read_state("job_t");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, state);
  load(spec("L2", "t"), {}, {{"watermark", "later"}});
  EXPECT_EQ((*dst_->read_state("job_t"))["watermark"], "later");
  EXPECT_EQ(q("SELECT count(*), max(state->>'watermark') FROM _ferry_state"),
            (Rows{{"1", "later"}}));
}

TEST_F(PostgresDestinationTest, HostileNamesAreQuoted) {
  const std::string evil = "\"; drop table x; --";
  ASSERT_TRUE(dst_->execute("CREATE TABLE x (a int)").is_ok());
  auto r = load(spec("L1", "we\"ird"), {make_batch("we\"ird", {"id", evil}, {{"1", "v"}})});
  EXPECT_EQ(r.rows_written, 1u);
  load(spec("L2", "we\"ird", WriteMode::kMerge, {evil}),
       {make_batch("we\"ird", {"id", evil}, {{"2", "w"}})});
  EXPECT_EQ(q("SELECT id, \"\"\"; drop table x; --\" FROM \"we\"\"ird\" ORDER BY id"),
            (Rows{{"1", "v"}, {"2", "w"}}));
  EXPECT_EQ(q("SELECT count(*) FROM pg_tables WHERE tablename = 'x'"), (Rows{{"1"}}));
}

TEST_F(PostgresDestinationTest, RejectsAreStoredWithTheLoadOrSavedAfterAFailure) {
  ASSERT_TRUE(dst_->begin(spec("L1", "t")).is_ok());
  Reject rej{{"s3://b/k.csv", 12, 345}, "expected 3 fields, found 4", "a,b,\tc\nd\\"};
  ASSERT_TRUE(dst_->write_rejects({rej}).is_ok());
  ASSERT_TRUE(dst_->commit({}, {}).is_ok());
  EXPECT_EQ(q("SELECT job_id, run_id, load_id, source, line, byte_offset, reason, raw FROM "
              "_ferry_rejects"),
            (Rows{{"job_t", "run_L1", "L1", "s3://b/k.csv", "12", "345",
                   "expected 3 fields, found 4", "a,b,\tc\nd\\"}}));
  ASSERT_TRUE(
      dst_->save_failed_rejects(spec("L2", "t"), {Reject{{"f", 0, -1}, "why", ""}}).is_ok());
  EXPECT_EQ(q("SELECT load_id, line, byte_offset FROM _ferry_rejects WHERE load_id = 'L2'"),
            (Rows{{"L2", "NULL", "NULL"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_loads WHERE load_id = 'L2'"), (Rows{{"0"}}));
}

TEST_F(PostgresDestinationTest, ExecuteRunsInOneTransactionAndQueryReturnsText) {
  ASSERT_TRUE(
      dst_->execute("CREATE TABLE a (x int, y text); INSERT INTO a VALUES (1, NULL);").is_ok());
  Status st = dst_->execute("INSERT INTO a VALUES (2, 'b'); INSERT INTO nope VALUES (1);");
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_THAT(st.message(), HasSubstr("\"nope\" does not exist"));
  EXPECT_EQ(q("SELECT x, y FROM a"), (Rows{{"1", "NULL"}}));
  auto rows = dst_->query("SELECT x AS first, y FROM a");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, (std::vector<std::vector<std::optional<std::string>>>{{"first", "y"},
                                                                         {"1", std::nullopt}}));
  auto bad = dst_->query("SELECT * FROM missing");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kNotFound);
  EXPECT_THAT(bad.status().message(), HasSubstr("\"missing\" does not exist"));
  auto syntax = dst_->query("SELEKT 1");
  EXPECT_EQ(syntax.status().code(), Code::kInvalid);
}

TEST_F(PostgresDestinationTest, TablesListsLoadedTablesWithFerryTypes) {
  load(spec("L1", "t"), {make_batch("t", {"id", "at"}, {{"1", "2024-01-02T00:00:00Z"}})});
  auto tables = dst_->tables();
  ASSERT_TRUE(tables.ok());
  ASSERT_EQ(tables->size(), 1u);
  const TableSchema& t = (*tables)[0];
  EXPECT_EQ(t.name, "t");
  ASSERT_EQ(t.fields.size(), 3u);
  EXPECT_EQ(t.fields[0].type, Type::kInt);
  EXPECT_EQ(t.fields[1].type, Type::kTimestamp);
  EXPECT_EQ(t.fields[2].name, "_ferry_load_id");
}

TEST_F(PostgresDestinationTest, AnotherSchemaIsCreatedAndUsed) {
  auto other = open("wh two");
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->begin(spec("L1", "t")).is_ok());
  WriteResult r;
  ASSERT_TRUE(other->write(make_batch("t", {"id"}, {{"1"}}), &r).is_ok());
  ASSERT_TRUE(other->commit({}, {}).is_ok());
  EXPECT_EQ(q("SELECT count(*) FROM \"wh two\".t"), (Rows{{"1"}}));
  EXPECT_EQ(q("SELECT count(*) FROM \"wh two\"._ferry_loads"), (Rows{{"1"}}));
  EXPECT_EQ(q("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 't'"),
            (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT id FROM t", other.get()), (Rows{{"1"}}));  // its search path
}

TEST_F(PostgresDestinationTest, ABadValueFailsTheLoadNamingTheTable) {
  ASSERT_TRUE(dst_->execute("CREATE TABLE u (id uuid)").is_ok());
  ASSERT_TRUE(dst_->begin(spec("L1", "u")).is_ok());
  WriteResult r;
  Status st = dst_->write(make_batch("u", {"id"}, {{"not-a-uuid"}}), &r);
  // The COPY stays open across batches: the server's verdict on a batch comes with a later
  // write or with the commit.
  if (st.is_ok()) st = dst_->commit({}, {});
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_THAT(st.message(), HasSubstr("table u"));
  EXPECT_THAT(st.message(), HasSubstr("uuid"));
  dst_->rollback();
  load(spec("L2", "u"), {make_batch("u", {"id"}, {{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}})});
  EXPECT_EQ(q("SELECT id FROM u"), (Rows{{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}}));
}

TEST_F(PostgresDestinationTest, ADroppedConnectionFailsTheLoadAsRetryable) {
  ASSERT_TRUE(dst_->begin(spec("L1", "t")).is_ok());
  WriteResult r;
  ASSERT_TRUE(dst_->write(make_batch("t", {"id"}, {{"1"}}), &r).is_ok());
  ASSERT_EQ(PgServer::exec(url_,
                           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                           "application_name = 'ferry' AND pid <> pg_backend_pid()"),
            "");
  Status st = dst_->write(make_batch("t", {"id"}, {{"2"}}), &r);
  if (st.is_ok()) st = dst_->commit({}, {});
  EXPECT_EQ(st.code(), Code::kRetry) << st.to_string();
  dst_->rollback();
  auto fresh = open();
  EXPECT_EQ(q("SELECT count(*) FROM pg_tables WHERE tablename = 't'", fresh.get()), (Rows{{"0"}}));
}

TEST(PostgresConnection, BadCredentialsAreInvalidAndThePasswordIsNeverShown) {
  PgServer* server = PgServer::shared();
  ASSERT_NE(server, nullptr) << PgServer::shared_error();
  // The test server trusts every local role, so bad credentials are a role that does not
  // exist, given with a password in the URL.
  PgConnectOptions o;
  o.url = "postgres://nobody:Hunter2Secret@127.0.0.1:" + std::to_string(server->port()) + "/x";
  auto c = PgConn::connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalid) << c.status().to_string();
  EXPECT_THAT(c.status().message(), Not(HasSubstr("Hunter2Secret")));
  EXPECT_THAT(c.status().message(), HasSubstr("127.0.0.1"));
  EXPECT_EQ(redact("pw Hunter2Secret"), "pw ***");
}

TEST(PostgresConnection, UnreachableServerIsRetryableAndNamesHostAndDatabase) {
  PgConnectOptions o;
  o.url = "host=127.0.0.1 port=1 dbname=shop user=u password=Pa55word_x";
  o.connect_timeout_s = 2;
  auto c = PgConn::connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kRetry);
  EXPECT_THAT(c.status().message(), HasSubstr("shop@127.0.0.1:1"));
  EXPECT_THAT(c.status().message(), Not(HasSubstr("Pa55word_x")));
  auto bad = PgConn::connect(PgConnectOptions{"postgres://u:pw@host:notaport/db", "", "", 2});
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), Not(HasSubstr(":pw@")));
}

TEST(PostgresConnection, MissingDatabaseIsNotFound) {
  PgServer* server = PgServer::shared();
  ASSERT_NE(server, nullptr) << PgServer::shared_error();
  auto c = PgConn::connect(PgConnectOptions{server->url("no_such_db"), "", "", 5});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("no_such_db"));
}

TEST(PostgresConnection, DescriptorReadsTheConnectionOptions) {
  PgServer* server = PgServer::shared();
  ASSERT_NE(server, nullptr) << PgServer::shared_error();
  std::string url = server->create_database("desc");
  auto d = postgres_destination_descriptor();
  EXPECT_EQ(d.decl.kind, "postgres");
  auto missing = d.create(nlohmann::json::object(), "");
  EXPECT_EQ(missing.status().code(), Code::kInvalid);
  auto dst = d.create({{"url", url}, {"schema", "s1"}, {"connect_timeout", 5}}, "");
  ASSERT_TRUE(dst.ok()) << dst.status().to_string();
  EXPECT_EQ(PgServer::query_value(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 's1'"),
            "3");
}

TEST(PgCopyText, EscapesAndUnescapesTheSpecialCharacters) {
  std::string out;
  pg_copy_escape("a\tb\nc\rd\\e", out);
  EXPECT_EQ(out, "a\\tb\\nc\\rd\\\\e");
  std::string back;
  pg_copy_unescape(out, back);
  EXPECT_EQ(back, "a\tb\nc\rd\\e");
}

// pg_copy_escape skips 8 bytes at a time: a special character at every position of a long
// value, next to non-ASCII bytes and other control characters, is found.
TEST(PgCopyText, FindsTheSpecialCharacterAtEveryPosition) {
  const std::string base =
      "0123456789abcdef\xc3\xa9\x01\x7f"
      "0123456789";
  for (char special : {'\t', '\n', '\r', '\\'}) {
    for (size_t pos = 0; pos <= base.size(); ++pos) {
      std::string value = base;
      value.insert(pos, 1, special);
      std::string expected;
      for (char c : value) {
        if (c == '\t')
          expected += "\\t";
        else if (c == '\n')
          expected += "\\n";
        else if (c == '\r')
          expected += "\\r";
        else if (c == '\\')
          expected += "\\\\";
        else
          expected.push_back(c);
      }
      std::string out = "x";
      pg_copy_escape(value, out);
      EXPECT_EQ(out, "x" + expected) << "special " << int(special) << " at " << pos;
    }
  }
}

}  // namespace
}  // namespace ferry
