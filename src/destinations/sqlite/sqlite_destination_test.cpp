#include "destinations/sqlite/sqlite_destination.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "core/infer.h"
#include "destinations/sqlite/sqlite_values.h"
#include "destinations/test_batch.h"
#include "testing.h"

namespace ferry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::make_batch;
using testing::Row;
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

class SqliteDestinationTest : public ::testing::Test {
 protected:
  void SetUp() override { dst_ = open(); }

  std::unique_ptr<Destination> open(SqliteDestinationOptions options = {}) {
    auto d = open_sqlite_destination(path(), options);
    EXPECT_TRUE(d.ok()) << d.status().to_string();
    return d.ok() ? std::move(d).value() : nullptr;
  }
  std::string path() const { return (dir_.path() / "wh.db").string(); }

  // Rows as text, "NULL" for null, without the header row.
  Rows q(const std::string& sql, Destination* d = nullptr) {
    auto r = (d ? d : dst_.get())->query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().to_string();
    Rows out;
    if (!r.ok() || r->empty()) return out;
    for (size_t i = 1; i < r->size(); ++i) {
      const auto& row = (*r)[i];
      auto& o = out.emplace_back();
      for (const auto& v : row)
        o.push_back(v ? *v : "NULL");
    }
    return out;
  }

  // One whole load; returns the combined WriteResult.
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

  testing::TempDir dir_;
  std::unique_ptr<Destination> dst_;
};

// A plain second connection, as another reader of the warehouse would have.
class Reader {
 public:
  explicit Reader(const std::string& path) { sqlite3_open(path.c_str(), &db_); }
  ~Reader() { sqlite3_close(db_); }
  std::string scalar(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      return std::string("error: ") + sqlite3_errmsg(db_);
    std::string out = "none";
    if (sqlite3_step(s) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(s, 0);
      out = t ? reinterpret_cast<const char*>(t) : "NULL";
    }
    sqlite3_finalize(s);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST_F(SqliteDestinationTest, CreatesAppendsAndTagsRowsWithTheLoadId) {
  auto r1 = load(spec("L1", "t"), {make_batch("t", {"id", "name"}, {{"1", "a"}, {"2", "b"}})});
  EXPECT_EQ(r1.rows_written, 2u);
  ASSERT_EQ(r1.changes.size(), 1u);
  EXPECT_EQ(r1.changes[0].kind, SchemaChange::Kind::kCreateTable);
  load(spec("L2", "t"), {make_batch("t", {"id", "name"}, {{"3", "c"}})});
  EXPECT_EQ(q("SELECT id, name, _ferry_load_id FROM t ORDER BY id"),
            (Rows{{"1", "a", "L1"}, {"2", "b", "L1"}, {"3", "c", "L2"}}));
  EXPECT_EQ(q("SELECT typeof(id), typeof(name) FROM t LIMIT 1"), (Rows{{"integer", "text"}}));
  EXPECT_EQ(q("SELECT load_id, job_id, run_id, rows_loaded FROM _ferry_loads ORDER BY load_id"),
            (Rows{{"L1", "job_t", "run_L1", "2"}, {"L2", "job_t", "run_L2", "1"}}));
}

TEST_F(SqliteDestinationTest, StoresEveryTypeInItsDocumentedForm) {
  Batch b("t");
  b.column_index("i");
  b.column_index("d");
  b.column_index("b");
  b.column_index("day");
  b.column_index("at");
  b.column_index("at2");
  b.column_index("j");
  b.column_index("dec");
  append_inferred(b.column(0), "42");
  append_inferred(b.column(1), "2.5");
  append_inferred(b.column(2), "true");
  append_inferred(b.column(3), "2024-02-29");
  append_inferred(b.column(4), "2024-01-02 05:04:05.25+02:00");
  append_inferred(b.column(5), "2024-01-02T03:04:05Z");
  b.column(6).append_text(Type::kJson, R"({"a":1})");
  b.column(7).append_text(Type::kDecimal, "12.5");
  b.end_row();
  load(spec("L1", "t"), {b});
  EXPECT_EQ(q("SELECT i, typeof(i), d, typeof(d), b, typeof(b), day, at, at2, j, dec FROM t"),
            (Rows{{"42", "integer", "2.5", "real", "1", "integer", "2024-02-29",
                   "2024-01-02T03:04:05.250000Z", "2024-01-02T03:04:05Z", R"({"a":1})", "12.5"}}));
  EXPECT_EQ(q("SELECT column_name, ferry_type FROM _ferry_columns WHERE table_name = 't' "
              "ORDER BY column_name"),
            (Rows{{"_ferry_load_id", "text"},
                  {"at", "timestamp"},
                  {"at2", "timestamp"},
                  {"b", "bool"},
                  {"d", "double"},
                  {"day", "date"},
                  {"dec", "decimal"},
                  {"i", "int"},
                  {"j", "json"}}));
  EXPECT_EQ(q("SELECT name, type FROM pragma_table_info('t') ORDER BY cid"),
            (Rows{{"i", "INTEGER"},
                  {"d", "REAL"},
                  {"b", "INTEGER"},
                  {"day", "TEXT"},
                  {"at", "TEXT"},
                  {"at2", "TEXT"},
                  {"j", "TEXT"},
                  {"dec", "NUMERIC"},
                  {"_ferry_load_id", "TEXT"}}));
}

TEST_F(SqliteDestinationTest, NewColumnInALaterBatchIsAddedAndReported) {
  auto r = load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}}),
                                  make_batch("t", {"id", "coupon"}, {{"2", "X"}})});
  ASSERT_EQ(r.changes.size(), 2u);
  EXPECT_EQ(r.changes[1].kind, SchemaChange::Kind::kAddColumn);
  EXPECT_EQ(r.changes[1].describe(), "added column t.coupon (text)");
  EXPECT_EQ(q("SELECT id, coupon FROM t ORDER BY id"), (Rows{{"1", "NULL"}, {"2", "X"}}));
}

TEST_F(SqliteDestinationTest, WideningIntToDoubleToTextRebuildsAndKeepsValues) {
  load(spec("L1", "t"), {make_batch("t", {"id", "v"}, {{"1", "10"}})});
  ASSERT_TRUE(
      dst_->execute("CREATE INDEX t_by_id ON t (id); CREATE VIEW tv AS SELECT v FROM t").is_ok());
  auto r2 = load(spec("L2", "t"), {make_batch("t", {"id", "v"}, {{"2", "2.5"}})});
  ASSERT_EQ(r2.changes.size(), 1u);
  EXPECT_EQ(r2.changes[0].describe(), "widened column t.v from int to double");
  EXPECT_EQ(q("SELECT v, typeof(v) FROM t ORDER BY id"), (Rows{{"10.0", "real"}, {"2.5", "real"}}));
  auto r3 = load(spec("L3", "t"), {make_batch("t", {"id", "v"}, {{"3", "n/a"}})});
  ASSERT_EQ(r3.changes.size(), 1u);
  EXPECT_EQ(r3.changes[0].describe(), "widened column t.v from double to text");
  EXPECT_EQ(
      q("SELECT id, v, typeof(v), _ferry_load_id FROM t ORDER BY id"),
      (Rows{{"1", "10.0", "text", "L1"}, {"2", "2.5", "text", "L2"}, {"3", "n/a", "text", "L3"}}));
  EXPECT_EQ(q("SELECT type FROM pragma_table_info('t') WHERE name = 'v'"), (Rows{{"TEXT"}}));
  EXPECT_EQ(q("SELECT ferry_type FROM _ferry_columns WHERE table_name = 't' AND column_name = 'v'"),
            (Rows{{"text"}}));
  // The user's index and view survive the rebuilds.
  EXPECT_EQ(q("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 't'"),
            (Rows{{"t_by_id"}}));
  EXPECT_EQ(q("SELECT count(*) FROM tv"), (Rows{{"3"}}));
}

TEST_F(SqliteDestinationTest, WideningBoolToTextKeepsTheirSpelling) {
  load(spec("L1", "t"), {make_batch("t", {"f"}, {{"true"}, {"false"}})});
  load(spec("L2", "t"), {make_batch("t", {"f"}, {{"maybe"}})});
  EXPECT_EQ(q("SELECT f FROM t ORDER BY rowid"), (Rows{{"true"}, {"false"}, {"maybe"}}));
}

TEST_F(SqliteDestinationTest, WideningDateToTimestampConvertsStoredDates) {
  load(spec("L1", "t"), {make_batch("t", {"at"}, {{"2024-01-02"}})});
  auto r = load(spec("L2", "t"), {make_batch("t", {"at"}, {{"2024-01-03T04:05:06Z"}})});
  ASSERT_EQ(r.changes.size(), 1u);
  EXPECT_EQ(q("SELECT at FROM t ORDER BY rowid"),
            (Rows{{"2024-01-02T00:00:00Z"}, {"2024-01-03T04:05:06Z"}}));
}

TEST_F(SqliteDestinationTest, FreezeFailsOnANewColumnAndRejectsMisfitValues) {
  load(spec("L1", "t"), {make_batch("t", {"id", "amount"}, {{"1", "5"}})});

  ASSERT_TRUE(dst_->begin(spec("L2", "t", WriteMode::kAppend, {}, SchemaPolicy::kFreeze)).is_ok());
  WriteResult r;
  Status st = dst_->write(make_batch("t", {"id", "coupon"}, {{"2", "X"}}), &r);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_THAT(st.message(), HasSubstr("coupon"));
  EXPECT_THAT(st.message(), HasSubstr("t"));
  dst_->rollback();

  ASSERT_TRUE(dst_->begin(spec("L3", "t", WriteMode::kAppend, {}, SchemaPolicy::kFreeze)).is_ok());
  WriteResult r3;
  ASSERT_TRUE(
      dst_->write(make_batch("t", {"id", "amount"}, {{"3", "abc"}, {"4", "7"}}), &r3).is_ok());
  ASSERT_EQ(r3.rejects.size(), 1u);
  EXPECT_EQ(r3.rejects[0].reason, "column amount is int, value 'abc' is text (schema: freeze)");
  EXPECT_EQ(r3.rows_written, 1u);
  EXPECT_TRUE(r3.changes.empty());
  ASSERT_TRUE(dst_->write_rejects(r3.rejects).is_ok());
  ASSERT_TRUE(dst_->commit({}, {}).is_ok());
  EXPECT_EQ(q("SELECT id, amount FROM t ORDER BY id"), (Rows{{"1", "5"}, {"4", "7"}}));
  EXPECT_EQ(q("SELECT type FROM pragma_table_info('t') WHERE name = 'amount'"),
            (Rows{{"INTEGER"}}));
  EXPECT_EQ(q("SELECT load_id, reason FROM _ferry_rejects"),
            (Rows{{"L3", "column amount is int, value 'abc' is text (schema: freeze)"}}));
}

TEST_F(SqliteDestinationTest, DiscardRowNeverChangesTheSchema) {
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}})});
  auto r = load(spec("L2", "t", WriteMode::kAppend, {}, SchemaPolicy::kDiscardRow),
                {make_batch("t", {"id", "extra"}, {{"2", std::nullopt}, {"3", "x"}, {"x", "y"}})});
  EXPECT_EQ(r.rows_written, 1u);
  ASSERT_EQ(r.rejects.size(), 2u);
  EXPECT_THAT(r.rejects[0].reason, HasSubstr("extra"));
  EXPECT_TRUE(r.changes.empty());
  EXPECT_EQ(q("SELECT id FROM t ORDER BY id"), (Rows{{"1"}, {"2"}}));
  EXPECT_EQ(q("SELECT count(*) FROM pragma_table_info('t')"), (Rows{{"2"}}));  // id, load id
}

TEST_F(SqliteDestinationTest, DiscardValueNullsMisfitsAndDropsNewColumns) {
  load(spec("L1", "t"), {make_batch("t", {"id", "n"}, {{"1", "1"}})});
  auto r = load(spec("L2", "t", WriteMode::kAppend, {}, SchemaPolicy::kDiscardValue),
                {make_batch("t", {"id", "n", "extra"}, {{"2", "oops", "e"}, {"3", "3", "f"}})});
  EXPECT_EQ(r.rows_written, 2u);
  EXPECT_TRUE(r.rejects.empty());
  EXPECT_TRUE(r.changes.empty());
  EXPECT_EQ(q("SELECT id, n FROM t ORDER BY id"), (Rows{{"1", "1"}, {"2", "NULL"}, {"3", "3"}}));
  EXPECT_EQ(q("SELECT count(*) FROM pragma_table_info('t') WHERE name = 'extra'"), (Rows{{"0"}}));
}

TEST_F(SqliteDestinationTest, MergeUpsertsOnThePrimaryKey) {
  auto merge = [](const std::string& id) { return spec(id, "c", WriteMode::kMerge, {"id"}); };
  load(merge("L1"), {make_batch("c", {"id", "name", "note"}, {{"1", "a", "x"}, {"2", "b", "y"}})});
  // A re-delivered row replaces the old one whole (columns it lacks become null); a row
  // twice in one batch ends as its last version; a null key is rejected.
  auto r = load(
      merge("L2"),
      {make_batch("c", {"id", "name"}, {{"2", "B"}, {"3", "c"}, {"3", "C"}, {std::nullopt, "z"}})});
  EXPECT_EQ(r.rows_written, 3u);
  ASSERT_EQ(r.rejects.size(), 1u);
  EXPECT_EQ(r.rejects[0].reason, "primary key column id is null");
  EXPECT_EQ(q("SELECT id, name, note, _ferry_load_id FROM c ORDER BY id"),
            (Rows{{"1", "a", "x", "L1"}, {"2", "B", "NULL", "L2"}, {"3", "C", "NULL", "L2"}}));
  auto tables = dst_->tables();
  ASSERT_TRUE(tables.ok());
  ASSERT_EQ(tables->size(), 1u);
  EXPECT_EQ((*tables)[0].primary_key, std::vector<std::string>{"id"});
}

TEST_F(SqliteDestinationTest, MergeNeedsAPrimaryKeyAndUniqueExistingRows) {
  Status st = dst_->begin(spec("L0", "m", WriteMode::kMerge, {}));
  EXPECT_EQ(st.code(), Code::kInvalid);
  load(spec("L1", "m"), {make_batch("m", {"id"}, {{"1"}, {"1"}})});
  ASSERT_TRUE(dst_->begin(spec("L2", "m", WriteMode::kMerge, {"id"})).is_ok());
  WriteResult r;
  st = dst_->write(make_batch("m", {"id"}, {{"2"}}), &r);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_THAT(st.message(), HasSubstr("unique"));
  dst_->rollback();
}

TEST_F(SqliteDestinationTest, MergeReplacesTheChildRowsOfRedeliveredRoots) {
  auto merge = [](const std::string& id) { return spec(id, "orders", WriteMode::kMerge, {"id"}); };
  // Root ids differ per delivery (as a generated id would); children follow the root.
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
}

TEST_F(SqliteDestinationTest, ReplaceIsAtomicForOtherReaders) {
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}, {"2"}})});
  ASSERT_TRUE(dst_->execute("CREATE VIEW tv AS SELECT id FROM t").is_ok());
  Reader reader(path());
  ASSERT_EQ(reader.scalar("SELECT count(*) FROM t"), "2");

  ASSERT_TRUE(dst_->begin(spec("L2", "t", WriteMode::kReplace)).is_ok());
  WriteResult r;
  ASSERT_TRUE(
      dst_->write(make_batch("t", {"id", "x"}, {{"7", "a"}, {"8", "b"}, {"9", "c"}}), &r).is_ok());
  EXPECT_EQ(reader.scalar("SELECT group_concat(id) FROM t"), "1,2");
  EXPECT_EQ(reader.scalar("SELECT count(*) FROM sqlite_master WHERE name LIKE '%ferry_new%'"), "0");
  ASSERT_TRUE(dst_->commit({}, {}).is_ok());
  EXPECT_EQ(reader.scalar("SELECT group_concat(id) FROM t"), "7,8,9");
  EXPECT_EQ(reader.scalar("SELECT group_concat(x) FROM tv JOIN t USING (id)"), "a,b,c");
  EXPECT_EQ(q("SELECT count(*) FROM sqlite_master WHERE name LIKE '%ferry_new%'"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT DISTINCT _ferry_load_id FROM t"), (Rows{{"L2"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_columns WHERE table_name LIKE '%ferry_new%'"),
            (Rows{{"0"}}));
}

TEST_F(SqliteDestinationTest, RolledBackReplaceLeavesTheOldTable) {
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}, {"2"}})});
  ASSERT_TRUE(dst_->begin(spec("L2", "t", WriteMode::kReplace)).is_ok());
  WriteResult r;
  ASSERT_TRUE(dst_->write(make_batch("t", {"id"}, {{"9"}}), &r).is_ok());
  dst_->rollback();
  EXPECT_EQ(q("SELECT id FROM t ORDER BY id"), (Rows{{"1"}, {"2"}}));
  EXPECT_EQ(q("SELECT count(*) FROM sqlite_master WHERE name LIKE '%ferry_new%'"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_loads WHERE load_id = 'L2'"), (Rows{{"0"}}));
}

TEST_F(SqliteDestinationTest, ReplaceWithoutRowsLeavesEmptyTablesWithTheirSchema) {
  load(spec("L1", "p"), {make_batch("p", {"id", "name"}, {{"1", "a"}}),
                         make_batch("p__tags", {"_ferry_parent_id", "value"}, {{"r1", "x"}})});
  load(spec("L2", "p", WriteMode::kReplace), {});
  EXPECT_EQ(q("SELECT count(*) FROM p"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT count(*) FROM p__tags"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT group_concat(name) FROM pragma_table_info('p')"),
            (Rows{{"id,name,_ferry_load_id"}}));
  // A replace with rows for the root only empties the root's other child tables too.
  load(spec("L3", "p"), {make_batch("p__tags", {"_ferry_parent_id", "value"}, {{"r1", "x"}})});
  load(spec("L4", "p", WriteMode::kReplace), {make_batch("p", {"id", "name"}, {{"2", "b"}})});
  EXPECT_EQ(q("SELECT id, name FROM p"), (Rows{{"2", "b"}}));
  EXPECT_EQ(q("SELECT count(*) FROM p__tags"), (Rows{{"0"}}));
}

TEST_F(SqliteDestinationTest, ReplaceKeepsKnownColumnsAndWidensInStaging) {
  load(spec("L1", "t"), {make_batch("t", {"id", "old"}, {{"1", "o"}})});
  auto r = load(spec("L2", "t", WriteMode::kReplace),
                {make_batch("t", {"id"}, {{"2"}}), make_batch("t", {"id"}, {{"x"}})});
  ASSERT_EQ(r.changes.size(), 1u);
  EXPECT_EQ(r.changes[0].describe(), "widened column t.id from int to text");
  EXPECT_EQ(q("SELECT id, old FROM t ORDER BY id"), (Rows{{"2", "NULL"}, {"x", "NULL"}}));
  EXPECT_EQ(
      q("SELECT ferry_type FROM _ferry_columns WHERE table_name = 't' AND column_name = 'id'"),
      (Rows{{"text"}}));
}

TEST_F(SqliteDestinationTest, ACommittedLoadIdIsANoOp) {
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}})});
  Status st = dst_->begin(spec("L1", "t"));
  EXPECT_EQ(st.code(), Code::kCancelled);
  EXPECT_EQ(st.message(), "already committed");
  // A second instance that began before the first committed finds out at its first write.
  auto other = open();
  ASSERT_TRUE(other->begin(spec("L2", "t")).is_ok());
  load(spec("L2", "t"), {make_batch("t", {"id"}, {{"2"}})});
  WriteResult r;
  EXPECT_EQ(other->write(make_batch("t", {"id"}, {{"3"}}), &r).code(), Code::kCancelled);
  EXPECT_EQ(q("SELECT id FROM t ORDER BY id"), (Rows{{"1"}, {"2"}}));
}

TEST_F(SqliteDestinationTest, RollbackLeavesNoRowsNoStateNoTables) {
  ASSERT_TRUE(dst_->begin(spec("L1", "t")).is_ok());
  WriteResult r;
  ASSERT_TRUE(dst_->write(make_batch("t", {"id"}, {{"1"}}), &r).is_ok());
  ASSERT_TRUE(dst_->write_rejects({Reject{{"f.csv", 3, 10}, "bad", "x"}}).is_ok());
  dst_->rollback();
  dst_->rollback();  // safe twice
  EXPECT_EQ(q("SELECT count(*) FROM sqlite_master WHERE name = 't'"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_loads"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_rejects"), (Rows{{"0"}}));
  auto state = dst_->read_state("job_t");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state, nlohmann::json::object());
  // The same load id can then be loaded.
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"5"}})});
  EXPECT_EQ(q("SELECT id FROM t"), (Rows{{"5"}}));
}

TEST_F(SqliteDestinationTest, StateCommitsWithTheRowsAndReadsBack) {
  nlohmann::json state = {{"watermark", "2024-01-02T00:00:00Z"}, {"files", {"a.csv"}}};
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}})}, state);
  auto other = open();  // another connection sees it
  auto got = other->read_state("job_t");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, state);
  load(spec("L2", "t"), {}, {{"watermark", "later"}});
  EXPECT_EQ((*dst_->read_state("job_t"))["watermark"], "later");
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_state"), (Rows{{"1"}}));
}

TEST_F(SqliteDestinationTest, HostileNamesAreQuoted) {
  const std::string evil = "\"; drop table x; --";
  ASSERT_TRUE(dst_->execute("CREATE TABLE x (a)").is_ok());
  auto r = load(spec("L1", "we\"ird"), {make_batch("we\"ird", {"id", evil}, {{"1", "v"}})});
  EXPECT_EQ(r.rows_written, 1u);
  load(spec("L2", "we\"ird"), {make_batch("we\"ird", {"id", evil}, {{"2", "1.5"}})});  // rebuild
  EXPECT_EQ(q("SELECT id, \"\"\"; drop table x; --\" FROM \"we\"\"ird\" ORDER BY id"),
            (Rows{{"1", "v"}, {"2", "1.5"}}));
  EXPECT_EQ(q("SELECT count(*) FROM sqlite_master WHERE name = 'x'"), (Rows{{"1"}}));
}

TEST_F(SqliteDestinationTest, RejectsAreStoredWithTheLoadOrSavedAfterAFailure) {
  ASSERT_TRUE(dst_->begin(spec("L1", "t")).is_ok());
  Reject rej{{"s3://b/k.csv", 12, 345}, "expected 3 fields, found 4", "a,b,c,d"};
  ASSERT_TRUE(dst_->write_rejects({rej}).is_ok());
  ASSERT_TRUE(dst_->commit({}, {}).is_ok());
  EXPECT_EQ(q("SELECT job_id, run_id, load_id, source, line, byte_offset, reason, raw FROM "
              "_ferry_rejects"),
            (Rows{{"job_t", "run_L1", "L1", "s3://b/k.csv", "12", "345",
                   "expected 3 fields, found 4", "a,b,c,d"}}));
  auto failed = spec("L2", "t");
  ASSERT_TRUE(dst_->save_failed_rejects(failed, {Reject{{"f", 0, -1}, "why", ""}}).is_ok());
  EXPECT_EQ(q("SELECT load_id, line, byte_offset FROM _ferry_rejects WHERE load_id = 'L2'"),
            (Rows{{"L2", "NULL", "NULL"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_loads WHERE load_id = 'L2'"), (Rows{{"0"}}));
}

TEST_F(SqliteDestinationTest, ExecuteRunsInOneTransactionAndQueryReturnsText) {
  ASSERT_TRUE(
      dst_->execute("CREATE TABLE a (x INTEGER, y TEXT); INSERT INTO a VALUES (1, NULL);").is_ok());
  Status st = dst_->execute("INSERT INTO a VALUES (2, 'b'); INSERT INTO nope VALUES (1);");
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_THAT(st.message(), HasSubstr("no such table: nope"));
  EXPECT_EQ(q("SELECT x, y FROM a"), (Rows{{"1", "NULL"}}));  // the first insert rolled back
  auto rows = dst_->query("SELECT x AS first, y FROM a; SELECT x AS only FROM a WHERE x > 5");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);  // the last statement's header, and no rows
  EXPECT_EQ((*rows)[0], (std::vector<std::optional<std::string>>{"only"}));
  rows = dst_->query("SELECT x AS first, y FROM a");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, (std::vector<std::vector<std::optional<std::string>>>{{"first", "y"},
                                                                         {"1", std::nullopt}}));
  auto bad = dst_->query("SELECT * FROM missing");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("no such table: missing"));
}

TEST_F(SqliteDestinationTest, TablesListsLoadedTablesWithFerryTypes) {
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

TEST_F(SqliteDestinationTest, ALockedWarehouseIsRetryable) {
  SqliteDestinationOptions fast;
  fast.busy_timeout_ms = 50;
  auto other = open(fast);
  ASSERT_TRUE(dst_->begin(spec("L1", "t")).is_ok());
  WriteResult r;
  ASSERT_TRUE(dst_->write(make_batch("t", {"id"}, {{"1"}}), &r).is_ok());
  ASSERT_TRUE(other->begin(spec("L2", "u")).is_ok());
  EXPECT_EQ(other->write(make_batch("u", {"id"}, {{"1"}}), &r).code(), Code::kRetry);
  other->rollback();
  ASSERT_TRUE(dst_->commit({}, {}).is_ok());
}

TEST_F(SqliteDestinationTest, OpeningAndReadingDoNotWaitForARunningLoad) {
  load(spec("L1", "t"), {make_batch("t", {"id"}, {{"1"}})});
  ASSERT_TRUE(dst_->begin(spec("L2", "t")).is_ok());
  WriteResult r;
  ASSERT_TRUE(dst_->write(make_batch("t", {"id"}, {{"2"}}), &r).is_ok());
  SqliteDestinationOptions fast;
  fast.busy_timeout_ms = 50;
  auto other = open_sqlite_destination(path(), fast);
  ASSERT_TRUE(other.ok()) << other.status().to_string();
  EXPECT_EQ(q("SELECT count(*) FROM t", other->get()), (Rows{{"1"}}));
  EXPECT_TRUE((*other)->read_state("job_t").ok());
  EXPECT_TRUE((*other)->tables().ok());
  ASSERT_TRUE(dst_->commit({}, {}).is_ok());
  EXPECT_EQ(q("SELECT count(*) FROM t", other->get()), (Rows{{"2"}}));
}

TEST_F(SqliteDestinationTest, TablesCreatedOutsideFerryGetALoadIdColumn) {
  ASSERT_TRUE(dst_->execute("CREATE TABLE pre (id INTEGER, name VARCHAR(10))").is_ok());
  load(spec("L1", "pre"), {make_batch("pre", {"id", "name"}, {{"1", "a"}})});
  EXPECT_EQ(q("SELECT id, name, _ferry_load_id FROM pre"), (Rows{{"1", "a", "L1"}}));
}

TEST(SqliteDescriptor, OpensThePathRelativeToTheProject) {
  testing::TempDir dir;
  auto d = sqlite_destination_descriptor();
  EXPECT_EQ(d.decl.kind, "sqlite");
  EXPECT_TRUE(d.decl.is_destination);
  ASSERT_EQ(d.decl.connection_options.size(), 1u);
  EXPECT_TRUE(d.decl.connection_options[0].required);
  auto dst = d.create({{"type", "sqlite"}, {"path", "data/wh.db"}}, dir.str());
  ASSERT_TRUE(dst.ok()) << dst.status().to_string();
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "data" / "wh.db"));
  auto missing = d.create({{"type", "sqlite"}}, dir.str());
  EXPECT_EQ(missing.status().code(), Code::kInvalid);
  EXPECT_THAT(missing.status().message(), HasSubstr("path"));
}

TEST(SqliteValues, CanonicalTextIsBoundAsItIs) {
  EXPECT_TRUE(sqlite_dst::is_canonical_timestamp("2024-01-02T03:04:05Z", 0));
  EXPECT_TRUE(sqlite_dst::is_canonical_timestamp("2024-01-02T03:04:05.000001Z", 1));
  EXPECT_FALSE(sqlite_dst::is_canonical_timestamp("2024-01-02T03:04:05.000000Z", 0));
  EXPECT_FALSE(sqlite_dst::is_canonical_timestamp("2024-01-02 03:04:05Z", 0));
  EXPECT_FALSE(sqlite_dst::is_canonical_timestamp("2024-01-02T03:04:60Z", 0));
  EXPECT_FALSE(sqlite_dst::is_canonical_timestamp("2024-01-02T03:04:05+00:00", 0));
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

// Rows go in multi-row INSERTs; every row must still land once, in order, with its values, and
// a row the warehouse refuses must be named by its own line, not its chunk's.
TEST_F(SqliteDestinationTest, ManyRowsGoInChunksAndARefusedRowIsNamedByItsLine) {
  std::vector<Row> rows;
  for (int i = 0; i < 1000; ++i)
    rows.push_back({std::to_string(i), "n" + std::to_string(i)});
  load(spec("l1", "t"), {testing::make_batch("t", {"id", "name"}, rows)});
  EXPECT_EQ(q("SELECT COUNT(*), SUM(id), MIN(rowid), MAX(rowid) FROM t"),
            (Rows{{"1000", "499500", "1", "1000"}}));
  EXPECT_EQ(q("SELECT name FROM t WHERE id = 777"), (Rows{{"n777"}}));

  // A table the user made with a constraint that row id=700 breaks (line 702 of in.csv).
  ASSERT_TRUE(dst_->execute("CREATE TABLE u (id INTEGER CHECK (id <> 700), name TEXT)").is_ok());
  ASSERT_TRUE(dst_->begin(spec("l2", "u")).is_ok());
  WriteResult result;
  Status st = dst_->write(testing::make_batch("u", {"id", "name"}, rows), &result);
  dst_->rollback();
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("in.csv:line 702"), std::string::npos) << st.message();
  EXPECT_EQ(q("SELECT COUNT(*) FROM u"), (Rows{{"0"}}));
}

}  // namespace
}  // namespace ferry
