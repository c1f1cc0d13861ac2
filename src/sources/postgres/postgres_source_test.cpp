// The postgres source against a real PostgreSQL (tests/pg_server.h).
#include "sources/postgres/postgres_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "core/infer.h"
#include "pg_server.h"

namespace ferry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::PgServer;

// Collects what a source pushes: every row as text ("NULL" for null), the declared column
// types of the first batch and the largest batch.
class CollectingSink final : public SourceSink {
 public:
  Status rows(Batch& batch) override {
    ++batches;
    max_rows = std::max(max_rows, batch.num_rows());
    if (columns.empty()) {
      for (const Column& c : batch.columns()) {
        columns.push_back(c.name());
        types.push_back(c.type());
      }
    }
    for (size_t r = 0; r < batch.num_rows(); ++r) {
      auto& row = rows_.emplace_back();
      for (const Column& c : batch.columns()) {
        const Cell& cell = c[r];
        row.push_back(cell.is_null() ? "NULL" : std::string(c.text(cell)));
        cell_types.push_back(cell.type);
      }
    }
    return Status::success();
  }
  // JSON Lines chunks (normalize:) are kept, one string per line, with each chunk's first
  // line number; without normalize: a source pushes none.
  Status json(std::string_view bytes, JsonLayout layout, std::string_view pointer,
              const Origin& origin) override {
    if (fields.empty()) return Status::internal("unexpected json");
    if (layout != JsonLayout::kLines || !pointer.empty()) return Status::internal("not lines");
    chunk_lines.push_back(origin.line);
    size_t start = 0;
    while (start < bytes.size()) {
      size_t end = bytes.find('\n', start);
      if (end == std::string_view::npos) return Status::internal("a chunk ends mid-line");
      lines.emplace_back(bytes.substr(start, end - start));
      start = end + 1;
    }
    return Status::success();
  }
  Status records(simdjson::dom::element, const Origin&) override {
    return Status::internal("unexpected parsed JSON");
  }
  Status declare_fields(std::vector<Field> declared) override {
    fields = std::move(declared);
    return Status::success();
  }
  Status reject(Reject r) override {
    if (fields.empty()) return Status::internal("unexpected reject");
    rejects.push_back(std::move(r));
    return Status::success();
  }
  Status set_constant(const std::string&, std::optional<std::string>) override {
    return Status::success();
  }
  void set_state(const std::string&, nlohmann::json) override {}
  void unchanged(std::string) override {}
  bool cancelled() const override { return false; }

  std::vector<std::vector<std::string>> rows_;
  std::vector<std::string> columns;
  std::vector<Type> types;
  std::vector<Type> cell_types;
  size_t batches = 0;
  size_t max_rows = 0;
  std::vector<Field> fields;  // declare_fields()
  std::vector<std::string> lines;
  std::vector<int64_t> chunk_lines;
  std::vector<Reject> rejects;
};

class PostgresSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PgServer* server = PgServer::shared();
    ASSERT_NE(server, nullptr) << PgServer::shared_error();
    url_ = server->create_database("src");
    ASSERT_FALSE(url_.empty());
  }
  void sql(const std::string& s) { ASSERT_EQ(PgServer::exec(url_, s), "") << s; }

  // Opens and reads; returns the status of read() (or of open()).
  // `cursor` is the job's incremental.cursor_field ("" = not incremental).
  Status read(const nlohmann::json& options, CollectingSink& sink, const std::string& cursor = "",
              const std::string& wm = "", bool full_refresh = false) {
    auto src = postgres_source_descriptor().create();
    SourceContext ctx;
    ctx.job_id = "j";
    ctx.connection = {{"type", "postgres"}, {"url", url_}};
    ctx.options = options;
    ctx.cursor_field = cursor;
    ctx.watermark = wm;
    ctx.full_refresh = full_refresh;
    FERRY_TRY(src->open(ctx));
    return src->read(sink);
  }

  std::string url_;
};

TEST_F(PostgresSourceTest, EveryMappedTypeArrivesTypedAndExact) {
  sql(R"(CREATE SCHEMA shop;
CREATE TABLE shop.t (
  i2 smallint, i4 integer, i8 bigint, n numeric(30,10), f4 real, f8 double precision,
  b boolean, s text, v varchar(10), d date, ts timestamp, tz timestamptz, u uuid, j json,
  jb jsonb, by bytea, arr integer[], tarr text[]);
INSERT INTO shop.t VALUES (
  -32768, 2147483647, 9223372036854775807, 12345678901234567890.0123456789, 1.5,
  0.1, true, E'tab\there\nnew \\ line ünï', '', '2024-02-29', '2024-01-02 03:04:05.123456',
  '2024-01-02 05:04:05+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}',
  '{"b": {"c": null}}', '\xdeadbeef', '{1,2,NULL}', '{"a b","c\"d"}');
INSERT INTO shop.t (i2) VALUES (NULL);
INSERT INTO shop.t (f8, d) VALUES ('NaN', 'infinity');)");
  CollectingSink sink;
  Status st = read({{"table", "shop.t"}}, sink);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(sink.columns,
            (std::vector<std::string>{"i2", "i4", "i8", "n", "f4", "f8", "b", "s", "v", "d", "ts",
                                      "tz", "u", "j", "jb", "by", "arr", "tarr"}));
  EXPECT_EQ(sink.types,
            (std::vector<Type>{Type::kInt, Type::kInt, Type::kInt, Type::kDecimal, Type::kDouble,
                               Type::kDouble, Type::kBool, Type::kText, Type::kText, Type::kText,
                               Type::kTimestamp, Type::kTimestamp, Type::kText, Type::kJson,
                               Type::kJson, Type::kText, Type::kJson, Type::kJson}));
  ASSERT_EQ(sink.rows_.size(), 3u);
  EXPECT_EQ(sink.rows_[0],
            (std::vector<std::string>{
                "-32768", "2147483647", "9223372036854775807", "12345678901234567890.0123456789",
                "1.5", "0.1", "true", "tab\there\nnew \\ line ünï", "", "2024-02-29",
                "2024-01-02 03:04:05.123456", "2024-01-02 03:04:05+00",
                "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", R"({"a": [1, 2]})", R"({"b": {"c": null}})",
                "\\xdeadbeef", "[1,2,null]", R"(["a b","c\"d"])"}));
  EXPECT_EQ(sink.rows_[1][0], "NULL");
  EXPECT_EQ(sink.rows_[1][8], "NULL");  // a null is not an empty string
  // Values ferry's types cannot hold arrive as text ('infinity' made column d text).
  EXPECT_EQ(sink.rows_[2][5], "NaN");
  EXPECT_EQ(sink.rows_[2][9], "infinity");
  // The first row's cells have their parsed types.
  EXPECT_EQ(sink.cell_types[2], Type::kInt);
  EXPECT_EQ(sink.cell_types[10], Type::kTimestamp);
}

TEST_F(PostgresSourceTest, AQueryStreamsInConstantSizeBatches) {
  CollectingSink sink;
  Status st =
      read({{"query", "SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 20000) g"}}, sink);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(sink.rows_.size(), 20000u);
  EXPECT_EQ(sink.batches, 3u);
  EXPECT_EQ(sink.max_rows, 8192u);
  EXPECT_EQ(sink.rows_.back()[0], "20000");
}

TEST_F(PostgresSourceTest, IncrementalReadsFromTheWatermarkIncludingTies) {
  sql(R"(CREATE TABLE ev (id int PRIMARY KEY, at timestamptz);
INSERT INTO ev VALUES (1, '2024-01-01T00:00:00Z'), (2, '2024-01-02T00:00:00Z'),
  (3, '2024-01-02T00:00:00Z'), (4, '2024-01-03T00:00:00Z'), (5, NULL);)");
  CollectingSink all;
  ASSERT_TRUE(read({{"table", "ev"}}, all, "at").is_ok());
  EXPECT_EQ(all.rows_.size(), 5u);  // no watermark yet: everything
  CollectingSink since;
  ASSERT_TRUE(read({{"table", "ev"}}, since, "at", "2024-01-02T00:00:00Z").is_ok());
  std::vector<std::string> ids;
  for (const auto& r : since.rows_)
    ids.push_back(r[0]);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"2", "3", "4", "5"}));  // ties and the NULL cursor
  CollectingSink refresh;
  ASSERT_TRUE(read({{"table", "ev"}}, refresh, "at", "2024-01-02T00:00:00Z", true).is_ok());
  EXPECT_EQ(refresh.rows_.size(), 5u);
  CollectingSink strict;
  Status st =
      read({{"table", "ev"}, {"null_cursor", "error"}}, strict, "at", "2024-01-02T00:00:00Z");
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_THAT(st.message(), HasSubstr("NULL at"));
  sql("DELETE FROM ev WHERE at IS NULL");
  CollectingSink ints;
  ASSERT_TRUE(read({{"table", "ev"}}, ints, "id", "4").is_ok());
  ASSERT_EQ(ints.rows_.size(), 1u);
  EXPECT_EQ(ints.rows_[0][0], "4");
}

TEST_F(PostgresSourceTest, ErrorsNameTheTableAndTheServer) {
  CollectingSink sink;
  Status st = read({{"table", "public.nope"}}, sink);
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_THAT(st.message(), HasSubstr("nope"));
  EXPECT_THAT(st.message(), HasSubstr("127.0.0.1"));
  st = read({{"table", "a"}, {"query", "SELECT 1"}}, sink);
  EXPECT_EQ(st.code(), Code::kInvalid);
  sql("CREATE TABLE t (a int)");
  st = read({{"table", "t"}}, sink, "b");
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_THAT(st.message(), HasSubstr("cursor_field b"));
  st = read({{"query", "SELEKT"}}, sink);
  EXPECT_EQ(st.code(), Code::kInvalid);

  auto src = postgres_source_descriptor().create();
  SourceContext ctx;
  ctx.connection = {{"url", "postgres://u:S3cretPassw0rd@127.0.0.1:1/db"}, {"connect_timeout", 2}};
  ctx.options = {{"table", "t"}};
  st = src->open(ctx);
  EXPECT_EQ(st.code(), Code::kRetry);
  EXPECT_THAT(st.message(), Not(HasSubstr("S3cretPassw0rd")));
}

TEST_F(PostgresSourceTest, ADroppedConnectionMidCopyIsRetryable) {
  CollectingSink sink;
  // The query's session ends itself partway through the result.
  Status st = read({{"query",
                     "SELECT g, CASE WHEN g = 15000 THEN pg_terminate_backend(pg_backend_pid()) "
                     "END FROM generate_series(1, 30000) g"}},
                   sink);
  EXPECT_EQ(st.code(), Code::kRetry) << st.to_string();
  EXPECT_LT(sink.rows_.size(), 30000u);
}

TEST_F(PostgresSourceTest, DiscoverListsColumnsWithTheirTypes) {
  sql("CREATE TABLE d (\"Id\" bigint, at timestamptz, tags text[])");
  auto src = postgres_source_descriptor().create();
  SourceContext ctx;
  ctx.connection = {{"url", url_}};
  ctx.options = {{"table", "d"}};
  ASSERT_TRUE(src->open(ctx).is_ok());
  auto streams = src->discover();
  ASSERT_TRUE(streams.ok()) << streams.status().to_string();
  ASSERT_EQ(streams->size(), 1u);
  const auto& f = (*streams)[0].fields;
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].name, "id");
  EXPECT_EQ(f[0].type, Type::kInt);
  EXPECT_EQ(f[1].type, Type::kTimestamp);
  EXPECT_EQ(f[2].type, Type::kJson);
}

// normalize: rows become JSON documents: the other columns as their PostgreSQL text with
// their catalog types declared, the normalised column's object nested; rows whose value is
// not a JSON object are rejects naming the column, and their lines stay empty.
TEST_F(PostgresSourceTest, NormalizeTurnsRowsIntoDocumentsWithDeclaredTypes) {
  sql(R"(CREATE TABLE o ("Id" bigint PRIMARY KEY, amount numeric(12,2), payload jsonb, note text,
  raw json);
INSERT INTO o VALUES
  (1, 12.50, '{"customer": {"name": "A\"b"}, "items": [{"sku": "x", "qty": 1}]}', E'a\tb', '{"x":
 1}'),
  (2, NULL, NULL, NULL, NULL),
  (3, 1.00, '[1, 2]', 'n', '{}'),
  (4, 2.00, '"s"', 'n', '{}');)");
  CollectingSink sink;
  Status st =
      read({{"query", "SELECT * FROM o ORDER BY 1"}, {"normalize", {"payload", "raw"}}}, sink);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_TRUE(sink.rows_.empty());
  ASSERT_EQ(sink.fields.size(), 3u);
  EXPECT_EQ(sink.fields[0].name, "id");
  EXPECT_EQ(sink.fields[0].type, Type::kInt);
  EXPECT_EQ(sink.fields[1].name, "amount");
  EXPECT_EQ(sink.fields[1].type, Type::kDecimal);
  EXPECT_EQ(sink.fields[2].name, "note");
  EXPECT_EQ(sink.chunk_lines, (std::vector<int64_t>{1}));
  EXPECT_EQ(sink.lines,
            (std::vector<std::string>{
                R"({"Id":"1","amount":"12.50","payload":{"items": [{"qty": 1, "sku": "x"}], )"
                R"("customer": {"name": "A\"b"}},"note":"a\tb","raw":{"x":  1}})",
                R"({"Id":"2","amount":null,"payload":null,"note":null,"raw":null})", "", ""}));
  ASSERT_EQ(sink.rejects.size(), 2u);
  EXPECT_EQ(sink.rejects[0].origin.line, 3);
  EXPECT_THAT(sink.rejects[0].reason, HasSubstr("column payload: a JSON array, not an object"));
  EXPECT_THAT(sink.rejects[0].raw, HasSubstr(R"("payload":"[1, 2]")"));
  EXPECT_THAT(sink.rejects[1].reason, HasSubstr("column payload: a JSON string"));

  sql("CREATE TABLE bad (id int, doc text); INSERT INTO bad VALUES (1, 'not json')");
  CollectingSink text;
  ASSERT_TRUE(read({{"table", "bad"}, {"normalize", {"doc"}}}, text).is_ok());
  ASSERT_EQ(text.rejects.size(), 1u);
  EXPECT_THAT(text.rejects[0].reason, HasSubstr("column doc: not valid JSON"));
}

TEST_F(PostgresSourceTest, NormalizeNamesAnUnknownOrNonJsonColumn) {
  sql("CREATE TABLE t (id int, payload jsonb)");
  CollectingSink sink;
  Status st = read({{"table", "t"}, {"normalize", {"paylod"}}}, sink);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_THAT(st.message(), HasSubstr("normalize: paylod is not a column of table t"));
  EXPECT_THAT(st.message(), HasSubstr("id, payload"));
  st = read({{"table", "t"}, {"normalize", {"id"}}}, sink);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_THAT(st.message(), HasSubstr("normalize: column id of table t is int4"));
  st = read({{"table", "t"}, {"normalize", "payload"}}, sink);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_THAT(st.message(), HasSubstr("normalize must be a list"));
  EXPECT_TRUE(sink.lines.empty());
  EXPECT_TRUE(sink.rows_.empty());

  auto src = postgres_source_descriptor().create();
  SourceContext ctx;
  ctx.connection = {{"url", url_}};
  ctx.options = {{"table", "t"}, {"normalize", {"nope"}}};
  ASSERT_TRUE(src->open(ctx).is_ok());
  EXPECT_THAT(src->discover().status().message(), HasSubstr("nope"));
  ctx.options = {{"table", "t"}, {"normalize", {"payload"}}};
  ASSERT_TRUE(src->open(ctx).is_ok());
  auto streams = src->discover();
  ASSERT_TRUE(streams.ok());
  ASSERT_EQ((*streams)[0].fields.size(), 1u);  // payload's columns are known only from values
}

}  // namespace
}  // namespace ferry
