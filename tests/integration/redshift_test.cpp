// The redshift warehouse without a Redshift cluster: the rows are staged for real in a local
// S3 server (@20minutes/s3rver, tests/servers/s3rver.js, which checks SigV4 signatures) and
// every statement but the COPY runs on a real PostgreSQL 15 (tests/pg_server.h), with
// standard_conforming_strings off so that its string literals read backslashes as Redshift's
// do. The COPY ... FROM 's3://...manifest' step is the one substitution (RedshiftHooks::copy):
// the test reads the manifest's parts back from s3rver, gunzips them and COPYs them FROM STDIN
// as CSV into the same staging table. docs/redshift.md lists what this does not verify.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "core/infer.h"
#include "core/redact.h"
#include "destinations/redshift/redshift_destination.h"
#include "destinations/test_batch.h"
#include "formats/input_stream.h"
#include "integration/s3_server.h"
#include "normalize/normalizer.h"
#include "pg_server.h"
#include "s3/s3_client.h"
#include "testing.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using Rows = std::vector<std::vector<std::string>>;

// The whole object, gunzipped when it is gzip.
std::string fetch(s3::S3Client& client, const std::string& key) {
  auto in = client.open_object(key, nullptr);
  if (!in.ok()) return "error: " + in.status().to_string();
  auto stream = maybe_gunzip(std::move(in).value());
  std::string out;
  char buf[65536];
  for (;;) {
    auto n = stream->read(buf, sizeof(buf));
    if (!n.ok()) return "error: " + n.status().to_string();
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

LoadSpec spec(const std::string& load_id, const std::string& table,
              WriteMode mode = WriteMode::kAppend, std::vector<std::string> pk = {}) {
  LoadSpec s;
  s.job_id = "job_" + table;
  s.run_id = "run_" + load_id;
  s.load_id = load_id;
  s.root_table = table;
  s.mode = mode;
  s.primary_key = std::move(pk);
  return s;
}

// The batches the normaliser makes of JSON records (one per line) for a load of `spec`.
std::vector<Batch> normalise(const LoadSpec& spec, const std::vector<std::string>& records) {
  std::vector<Batch> out;
  NormalizerOptions o;
  o.root_table = spec.root_table;
  o.primary_key = spec.primary_key;
  o.load_id = spec.load_id;
  Normalizer norm(o, [&](Batch& b) {
    out.push_back(b);
    return Status::success();
  });
  simdjson::dom::parser parser;
  int64_t line = 0;
  for (const std::string& r : records) {
    auto doc = parser.parse(simdjson::padded_string(r));
    EXPECT_FALSE(doc.error()) << r;
    if (doc.error()) return {};
    Status st = norm.add(doc.value(), Origin{"in.jsonl", ++line, 0});
    EXPECT_TRUE(st.is_ok()) << st.to_string();
  }
  Status st = norm.flush();
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return out;
}

class RedshiftWarehouse : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new S3rver(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(server_->error().empty()) << server_->error();
    PgServer* server = PgServer::shared();
    ASSERT_NE(server, nullptr) << PgServer::shared_error();
    url_ = server->create_database("rs");
    ASSERT_FALSE(url_.empty());
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    bucket_ = "rs-";
    for (char c : name)
      bucket_ +=
          static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '-');
    bucket_ = bucket_.substr(0, 60);
    client_ = std::make_unique<s3::S3Client>(s3_config());
    // PUT on the bucket itself is CreateBucket.
    ASSERT_TRUE(client_->put_object("", "").is_ok());
  }

  s3::S3Config s3_config() const {
    s3::S3Config c;
    c.bucket = bucket_;
    c.endpoint = server_->endpoint();
    c.credentials = {"S3RVER", "S3RVER", ""};
    return c;
  }

  RedshiftDestinationOptions options() {
    RedshiftDestinationOptions o;
    o.connect.url = url_;
    o.staging = s3_config();
    o.prefix = "stage/";
    o.copy_auth.iam_role = "arn:aws:iam::123456789012:role/ferry";
    o.part_bytes = part_bytes_;
    o.truncate_long_text = truncate_;
    o.hooks.dialect.json_type = "jsonb";
    o.hooks.session_setup = {"SET standard_conforming_strings = off",
                             "SET escape_string_warning = off"};
    o.hooks.read_load_errors = false;  // PostgreSQL has no stl_load_errors
    o.hooks.copy = [this](PgConn& conn, const RedshiftCopyStep& step) {
      return pg_copy(conn, step);
    };
    return o;
  }

  // The COPY step on PostgreSQL: what the manifest lists, from s3rver, FROM STDIN.
  Status pg_copy(PgConn& conn, const RedshiftCopyStep& step) {
    copies_.push_back(step.sql);
    std::vector<s3::ObjectInfo> objects;
    if (auto listed = client_->list_all("stage/"); listed.ok()) objects = *listed;
    for (const s3::ObjectInfo& o : objects)
      staged_during_copy_.push_back(o.key);
    manifests_.push_back(fetch(*client_, step.segment->manifest_key));
    if (fail_copy_) return Status::invalid("simulated COPY failure");
    std::string cols;
    for (const std::string& c : step.segment->columns)
      cols += (cols.empty() ? "\"" : ", \"") + c + "\"";
    FERRY_TRY(conn.copy_in_begin("COPY " + step.staging_table + " (" + cols +
                                 ") FROM STDIN WITH (FORMAT csv, NULL '\\\\N')"));
    for (const std::string& key : step.segment->part_keys) {
      std::string csv = fetch(*client_, key);
      parts_.push_back(csv);
      Status st = conn.copy_put(csv);
      if (!st) {
        conn.copy_abort("test");
        return st;
      }
    }
    return conn.copy_in_end();
  }

  std::unique_ptr<Destination> open() {
    auto d = open_redshift_destination(options());
    EXPECT_TRUE(d.ok()) << d.status().to_string();
    return d.ok() ? std::move(d).value() : nullptr;
  }

  Status load(Destination& d, const LoadSpec& s, const std::vector<Batch>& batches,
              WriteResult* result = nullptr) {
    WriteResult local;
    WriteResult& r = result ? *result : local;
    FERRY_TRY(d.begin(s));
    for (const Batch& b : batches) {
      Status st = d.write(b, &r);
      if (!st) {
        d.rollback();
        return st;
      }
    }
    if (!r.rejects.empty()) FERRY_TRY(d.write_rejects(r.rejects));
    return d.commit({{"seen", s.load_id}}, LoadStats{0, static_cast<int64_t>(r.rows_written),
                                                     static_cast<int64_t>(r.rejects.size())});
  }

  Rows q(const std::string& sql) {
    Rows out;
    auto d = open();
    if (!d) return out;
    auto r = d->query(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().to_string();
    if (!r.ok()) return out;
    for (size_t i = 1; i < r->size(); ++i) {
      auto& row = out.emplace_back();
      for (const auto& v : (*r)[i])
        row.push_back(v ? *v : "NULL");
    }
    return out;
  }

  std::vector<std::string> staged_now() {
    std::vector<std::string> keys;
    auto listed = client_->list_all("stage/");
    EXPECT_TRUE(listed.ok()) << listed.status().to_string();
    if (listed.ok())
      for (const auto& o : *listed)
        keys.push_back(o.key);
    return keys;
  }

  static inline S3rver* server_ = nullptr;  // one per test suite

  std::string url_;
  std::string bucket_;
  std::unique_ptr<s3::S3Client> client_;
  size_t part_bytes_ = size_t{64} << 20;
  bool truncate_ = false;
  bool fail_copy_ = false;
  std::vector<std::string> copies_, staged_during_copy_, manifests_, parts_;
};

TEST_F(RedshiftWarehouse, AppendStagesGzipCsvPartsWithAManifestAndDeletesThemAfterCommit) {
  part_bytes_ = 40;  // a few rows per part
  auto d = open();
  ASSERT_NE(d, nullptr);
  Batch b = make_batch("ods", {"id", "name", "note"},
                       {{"1", "ant", ""},
                        {"2", "bee \"b\", q", std::nullopt},
                        {"3", "cat", "x"},
                        {"4", "dog", "y"}});
  ASSERT_TRUE(load(*d, spec("L1", "ods"), {b}).is_ok());
  EXPECT_EQ(q("SELECT id, name, coalesce(note, 'NULL!'), _ferry_load_id FROM ods ORDER BY id"),
            (Rows{{"1", "ant", "", "L1"},
                  {"2", "bee \"b\", q", "NULL!", "L1"},
                  {"3", "cat", "x", "L1"},
                  {"4", "dog", "y", "L1"}}));
  // During the COPY: the parts and the manifest, with the exact content.
  ASSERT_EQ(copies_.size(), 1u);
  EXPECT_THAT(copies_[0], HasSubstr("FROM 's3://" + bucket_ +
                                    "/stage/L1/ods/1.manifest' "
                                    "IAM_ROLE 'arn:aws:iam::123456789012:role/ferry' MANIFEST"));
  EXPECT_EQ(staged_during_copy_,
            (std::vector<std::string>{"stage/L1/ods/1-1.csv.gz", "stage/L1/ods/1-2.csv.gz",
                                      "stage/L1/ods/1.manifest"}));
  EXPECT_EQ(manifests_[0], "{\"entries\":[{\"url\":\"s3://" + bucket_ +
                               "/stage/L1/ods/1-1.csv.gz\",\"mandatory\":true},{\"url\":\"s3://" +
                               bucket_ + "/stage/L1/ods/1-2.csv.gz\",\"mandatory\":true}]}");
  // A part closes at the end of the row that brings it to 40 bytes of CSV.
  EXPECT_EQ(parts_,
            (std::vector<std::string>{
                "\"1\",\"ant\",\"\",1\n\"2\",\"bee \"\"b\"\", q\",\\N,2\n\"3\",\"cat\",\"x\",3\n",
                "\"4\",\"dog\",\"y\",4\n"}));
  // After the commit: nothing staged is left.
  EXPECT_TRUE(staged_now().empty());
  EXPECT_EQ(q("SELECT job_id, rows_loaded FROM _ferry_loads"), (Rows{{"job_ods", "4"}}));
  EXPECT_EQ(q("SELECT state FROM _ferry_state"), (Rows{{"{\"seen\":\"L1\"}"}}));
}

TEST_F(RedshiftWarehouse, TypesMapAndNewColumnsAreAdded) {
  auto d = open();
  ASSERT_NE(d, nullptr);
  // A source that knows its JSON (the normaliser's nested values) delivers it as kJson.
  Batch b("t");
  const char* names[] = {"b", "i", "d", "day", "at"};
  const char* values[] = {"true", "5", "1.5", "2024-02-03", "2024-02-03T04:05:06.5Z"};
  for (size_t k = 0; k < 5; ++k)
    append_inferred(b.column(b.column_index(names[k])), values[k]);
  b.column(b.column_index("j")).append_text(Type::kJson, "{\"a\": [1, \"x\\\\y\"]}");
  b.end_row();
  ASSERT_TRUE(load(*d, spec("L1", "t"), {b}).is_ok());
  ASSERT_TRUE(load(*d, spec("L2", "t"), {make_batch("t", {"i", "extra"}, {{"6", "new"}})}).is_ok());
  EXPECT_EQ(q("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "
              "'t' ORDER BY ordinal_position"),
            (Rows{{"b", "boolean"},
                  {"i", "bigint"},
                  {"d", "double precision"},
                  {"day", "date"},
                  {"at", "timestamp with time zone"},
                  {"j", "jsonb"},
                  {"_ferry_load_id", "character varying"},
                  {"extra", "character varying"}}));
  EXPECT_EQ(q("SELECT b, i, d, day, at, j::text, coalesce(extra, '-') FROM t ORDER BY i"),
            (Rows{{"t", "5", "1.5", "2024-02-03", "2024-02-03 04:05:06.5+00",
                   "{\"a\": [1, \"x\\\\y\"]}", "-"},
                  {"NULL", "6", "NULL", "NULL", "NULL", "NULL", "new"}}));
}

TEST_F(RedshiftWarehouse, MergeKeepsTheLastDeliveredRowOfEachKeyWithinAndAcrossLoads) {
  auto d = open();
  ASSERT_NE(d, nullptr);
  auto merge = [](const std::string& id) {
    return spec(id, "orders", WriteMode::kMerge, {"store", "id"});
  };
  ASSERT_TRUE(load(*d, merge("L1"),
                   {make_batch("orders", {"store", "id", "total"},
                               {{"s1", "1", "10"}, {"s1", "2", "20"}, {"s2", "1", "30"}}),
                    make_batch("orders", {"store", "id", "total"}, {{"s1", "1", "11"}})})
                  .is_ok());
  EXPECT_EQ(q("SELECT store, id, total, _ferry_load_id FROM orders ORDER BY store, id"),
            (Rows{{"s1", "1", "11", "L1"}, {"s1", "2", "20", "L1"}, {"s2", "1", "30", "L1"}}));
  ASSERT_TRUE(load(*d, merge("L2"),
                   {make_batch("orders", {"store", "id", "total"},
                               {{"s1", "2", "21"}, {"s3", "9", "90"}, {"s1", "2", "22"}})})
                  .is_ok());
  EXPECT_EQ(q("SELECT store, id, total, _ferry_load_id FROM orders ORDER BY store, id"),
            (Rows{{"s1", "1", "11", "L1"},
                  {"s1", "2", "22", "L2"},
                  {"s2", "1", "30", "L1"},
                  {"s3", "9", "90", "L2"}}));
}

TEST_F(RedshiftWarehouse, ReplaceSwapsTheTableAndAReplayedLoadIsANoOp) {
  auto d = open();
  ASSERT_NE(d, nullptr);
  auto replace = [](const std::string& id) { return spec(id, "dim", WriteMode::kReplace); };
  ASSERT_TRUE(
      load(*d, replace("L1"), {make_batch("dim", {"k", "v"}, {{"a", "1"}, {"b", "2"}})}).is_ok());
  ASSERT_TRUE(load(*d, replace("L2"), {make_batch("dim", {"k", "v"}, {{"c", "3"}})}).is_ok());
  EXPECT_EQ(q("SELECT k, v, _ferry_load_id FROM dim"), (Rows{{"c", "3", "L2"}}));
  EXPECT_EQ(q("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE "
              "'dim\\\\_\\\\_ferry\\\\_new%'"),
            (Rows{{"0"}}));
  // The same load id again: begin() says it is done, nothing changes.
  Status st = d->begin(replace("L1"));
  EXPECT_EQ(st.code(), Code::kCancelled);
  EXPECT_EQ(st.message(), "already committed");
  EXPECT_EQ(q("SELECT k FROM dim"), (Rows{{"c"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_loads"), (Rows{{"2"}}));
}

TEST_F(RedshiftWarehouse, MergeReplacesTheChildRowsOfRedeliveredRoots) {
  auto d = open();
  ASSERT_NE(d, nullptr);
  auto merge = [](const std::string& id) { return spec(id, "orders", WriteMode::kMerge, {"id"}); };
  ASSERT_TRUE(load(*d, merge("L1"),
                   {make_batch("orders__items", {"_ferry_root_id", "_ferry_parent_id", "sku"},
                               {{"r1", "r1", "A"}, {"r1", "r1", "B"}, {"r2", "r2", "C"}}),
                    make_batch("orders", {"id", "_ferry_id"}, {{"1", "r1"}, {"2", "r2"}})})
                  .is_ok());
  // Order 1 comes again with one item and a new id; the child batch is written before its root.
  ASSERT_TRUE(load(*d, merge("L2"),
                   {make_batch("orders__items", {"_ferry_root_id", "_ferry_parent_id", "sku"},
                               {{"r9", "r9", "Z"}}),
                    make_batch("orders", {"id", "_ferry_id"}, {{"1", "r9"}})})
                  .is_ok());
  EXPECT_EQ(q("SELECT id, _ferry_id FROM orders ORDER BY id"), (Rows{{"1", "r9"}, {"2", "r2"}}));
  EXPECT_EQ(q("SELECT _ferry_root_id, sku FROM orders__items ORDER BY sku"),
            (Rows{{"r2", "C"}, {"r9", "Z"}}));
  // The same ids as integers (as the normaliser makes them), re-delivered with the same id.
  auto merge2 = [](const std::string& id) { return spec(id, "o2", WriteMode::kMerge, {"id"}); };
  ASSERT_TRUE(load(*d, merge2("M1"),
                   {make_batch("o2", {"id", "_ferry_id"}, {{"1", "11"}}),
                    make_batch("o2__items", {"_ferry_root_id", "sku"}, {{"11", "A"}, {"11", "B"}})})
                  .is_ok());
  ASSERT_TRUE(load(*d, merge2("M2"),
                   {make_batch("o2", {"id", "_ferry_id"}, {{"1", "11"}}),
                    make_batch("o2__items", {"_ferry_root_id", "sku"}, {{"11", "C"}})})
                  .is_ok());
  EXPECT_EQ(q("SELECT sku FROM o2__items"), (Rows{{"C"}}));
  // A child table whose root ids are text while the root's are integers: compared as text.
  ASSERT_TRUE(load(*d, merge2("M3"),
                   {make_batch("o2", {"id", "_ferry_id"}, {{"1", "11"}}),
                    make_batch("o2__notes", {"_ferry_root_id", "note"}, {{"x", "keep"}})})
                  .is_ok());
  ASSERT_TRUE(d->execute("INSERT INTO o2__notes VALUES ('11', 'old', 'M3')").is_ok());
  ASSERT_TRUE(
      load(*d, merge2("M4"), {make_batch("o2", {"id", "_ferry_id"}, {{"1", "11"}})}).is_ok());
  EXPECT_EQ(q("SELECT _ferry_root_id, note FROM o2__notes"), (Rows{{"x", "keep"}}));
  EXPECT_EQ(q("SELECT sku FROM o2__items"), (Rows{}));
}

// The normaliser's rows: a record with two items, re-delivered with one, has one item left.
TEST_F(RedshiftWarehouse, MergeOfARedeliveredNestedRecordLeavesOnlyItsNewChildren) {
  auto d = open();
  ASSERT_NE(d, nullptr);
  auto merge = [](const std::string& id) { return spec(id, "orders", WriteMode::kMerge, {"id"}); };
  ASSERT_TRUE(load(*d, merge("L1"),
                   normalise(merge("L1"), {R"({"id": 1, "items": [{"sku": "A"}, {"sku": "B"}]})",
                                           R"({"id": 2, "items": [{"sku": "C"}]})"}))
                  .is_ok());
  EXPECT_EQ(q("SELECT count(*) FROM orders__items"), (Rows{{"3"}}));
  ASSERT_TRUE(load(*d, merge("L2"),
                   normalise(merge("L2"), {R"({"id": 1, "items": [{"sku": "Z", "qty": 5}]})"}))
                  .is_ok());
  EXPECT_EQ(q("SELECT o.id, i.sku, i._ferry_idx, coalesce(i.qty::text, '-'), i._ferry_load_id "
              "FROM orders__items i JOIN orders o ON i._ferry_root_id = o._ferry_id ORDER BY "
              "o.id, i.sku"),
            (Rows{{"1", "Z", "0", "5", "L2"}, {"2", "C", "0", "-", "L1"}}));
  EXPECT_EQ(q("SELECT count(*) FROM orders__items"), (Rows{{"2"}}));
  EXPECT_EQ(q("SELECT id, _ferry_load_id FROM orders ORDER BY id"),
            (Rows{{"1", "L2"}, {"2", "L1"}}));
}

TEST_F(RedshiftWarehouse, ReplaceEmptiesTheKnownTablesOfTheRootThatGotNoRows) {
  auto d = open();
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(load(*d, spec("L1", "p"),
                   {make_batch("p", {"id", "name"}, {{"1", "a"}}),
                    make_batch("p__tags", {"_ferry_parent_id", "value"}, {{"r1", "x"}})})
                  .is_ok());
  // Not a child table of p: no _ferry_load_id, or no parent and root ids; another root.
  ASSERT_TRUE(d->execute("CREATE TABLE p__mine (_ferry_root_id VARCHAR(64), v VARCHAR(64)); "
                         "INSERT INTO p__mine VALUES ('r1', 'mine')")
                  .is_ok());
  ASSERT_TRUE(load(*d, spec("L0", "p__other"), {make_batch("p__other", {"v"}, {{"o"}})}).is_ok());
  ASSERT_TRUE(load(*d, spec("L0b", "px"), {make_batch("px", {"v"}, {{"o"}})}).is_ok());
  ASSERT_TRUE(load(*d, spec("L2", "p", WriteMode::kReplace), {}).is_ok());
  EXPECT_EQ(q("SELECT count(*) FROM p"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT count(*) FROM p__tags"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM "
              "information_schema.columns WHERE table_name = 'p'"),
            (Rows{{"id,name,_ferry_load_id"}}));
  EXPECT_EQ(q("SELECT (SELECT count(*) FROM p__mine), (SELECT count(*) FROM p__other), "
              "(SELECT count(*) FROM px)"),
            (Rows{{"1", "1", "1"}}));
  // New data without children: the child table is emptied in the same commit as the swap.
  ASSERT_TRUE(load(*d, spec("L3", "p"),
                   {make_batch("p__tags", {"_ferry_parent_id", "value"}, {{"r1", "x"}})})
                  .is_ok());
  ASSERT_TRUE(load(*d, spec("L4", "p", WriteMode::kReplace),
                   {make_batch("p", {"id", "name"}, {{"2", "b"}})})
                  .is_ok());
  EXPECT_EQ(q("SELECT id, name, _ferry_load_id FROM p"), (Rows{{"2", "b", "L4"}}));
  EXPECT_EQ(q("SELECT count(*) FROM p__tags"), (Rows{{"0"}}));
  // A failed replace empties nothing.
  ASSERT_TRUE(load(*d, spec("L5", "p"),
                   {make_batch("p__tags", {"_ferry_parent_id", "value"}, {{"r2", "y"}})})
                  .is_ok());
  fail_copy_ = true;
  EXPECT_FALSE(load(*d, spec("L6", "p", WriteMode::kReplace),
                    {make_batch("p", {"id", "name"}, {{"3", "c"}})})
                   .is_ok());
  EXPECT_EQ(q("SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM p__tags)"),
            (Rows{{"1", "1"}}));
}

TEST_F(RedshiftWarehouse, TextOverTheVarcharLimitIsRejectedWithTheReason) {
  auto d = open();
  ASSERT_NE(d, nullptr);
  std::string big(70000, 'x');
  WriteResult result;
  ASSERT_TRUE(load(*d, spec("L1", "notes"),
                   {make_batch("notes", {"id", "body"}, {{"1", "short"}, {"2", big}})}, &result)
                  .is_ok());
  EXPECT_EQ(q("SELECT id, body FROM notes"), (Rows{{"1", "short"}}));
  EXPECT_EQ(q("SELECT line, reason FROM _ferry_rejects"),
            (Rows{{"3",
                   "value of column body is 70000 bytes, longer than Redshift's VARCHAR limit of "
                   "65535 bytes (set long_text: truncate to cut such values)"}}));
}

TEST_F(RedshiftWarehouse, TextOverTheVarcharLimitIsCutAtACharacterWithTruncate) {
  truncate_ = true;
  auto d = open();
  ASSERT_NE(d, nullptr);
  std::string big = "ab";
  while (big.size() < 70000)
    big += "\xc3\xa9";
  ASSERT_TRUE(
      load(*d, spec("L1", "notes"), {make_batch("notes", {"id", "body"}, {{"1", big}})}).is_ok());
  // 65535 bytes would cut an é in half: 65534 are kept ("ab" and 32766 é).
  EXPECT_EQ(q("SELECT octet_length(body), right(body, 1) FROM notes"),
            (Rows{{"65534", "\xc3\xa9"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_rejects"), (Rows{{"0"}}));
}

TEST_F(RedshiftWarehouse, AFailedCopyLeavesNothingAndNamesNoSecret) {
  auto o = options();
  o.copy_auth = {};
  o.copy_auth.access_key_id = "AKIAEXAMPLE";
  o.copy_auth.secret_access_key = "copy-secret-never-shown";
  fail_copy_ = true;
  auto opened = open_redshift_destination(o);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  auto d = std::move(opened).value();
  Status st = load(*d, spec("L1", "ods"), {make_batch("ods", {"id"}, {{"1"}, {"2"}})});
  ASSERT_FALSE(st.is_ok());
  EXPECT_THAT(st.message(), HasSubstr("COPY into table ods from s3://" + bucket_ +
                                      "/stage/L1/ods/1.manifest failed: simulated COPY failure"));
  EXPECT_THAT(st.to_string(), Not(HasSubstr("copy-secret-never-shown")));
  ASSERT_EQ(copies_.size(), 1u);
  EXPECT_THAT(copies_[0], HasSubstr("aws_secret_access_key=copy-secret-never-shown"));
  EXPECT_EQ(redact(copies_[0]).find("copy-secret-never-shown"), std::string::npos);
  EXPECT_TRUE(staged_now().empty());
  EXPECT_EQ(q("SELECT count(*) FROM information_schema.tables WHERE table_name = 'ods'"),
            (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_loads"), (Rows{{"0"}}));
  EXPECT_EQ(q("SELECT count(*) FROM _ferry_state"), (Rows{{"0"}}));
  // The same load again, now working, goes through.
  fail_copy_ = false;
  ASSERT_TRUE(load(*d, spec("L1", "ods"), {make_batch("ods", {"id"}, {{"1"}, {"2"}})}).is_ok());
  EXPECT_EQ(q("SELECT count(*) FROM ods"), (Rows{{"2"}}));
}

}  // namespace
}  // namespace ferry::testing
