// The ferry binary with a PostgreSQL warehouse (tests/pg_server.h): files loaded, merged and
// transformed in PostgreSQL; a run killed with SIGKILL at any point leaves all or nothing, and
// the next run loads exactly what is missing.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>

#include "integration/ferry_process.h"
#include "pg_server.h"
#include "testing.h"

namespace ferry::testing {
namespace {

constexpr int kRowsPerFile = 20000;  // about 3 batches of 8192 rows per file
constexpr int kFiles = 2;
constexpr int kOrders = 9000;

// CSV files (append) and a JSONL file of nested orders (merge + incremental cursor) into a
// postgres warehouse in schema `ods`, and a transform.
void write_project(const TempDir& dir, const std::string& url) {
  dir.write("ferry.yml",
            "project: pg\nwarehouse: wh\nconnections:\n  wh: {type: postgres, url: \"" + url +
                R"(", schema: ods}
  files: {type: file, path: data}
jobs:
  - id: csv_job
    source: {connection: files, path: csv, pattern: "*.csv"}
    target: {table: events, mode: append}
  - id: json_job
    source: {connection: files, path: orders.jsonl}
    target: {table: orders, mode: merge, primary_key: [id]}
    incremental: {cursor_field: updated_at}
transforms:
  - {id: totals, sql: transforms/totals.sql, after: [csv_job, json_job]}
)");
  dir.write(
      "transforms/totals.sql",
      "DROP TABLE IF EXISTS totals;\n"
      "CREATE TABLE totals AS SELECT (SELECT count(*) FROM events) AS events, "
      "(SELECT sum(amount) FROM events) AS amount, (SELECT count(*) FROM orders) AS orders;\n");
  for (int f = 0; f < kFiles; ++f) {
    std::string csv = "id,name,amount,updated_at\n";
    for (int i = 0; i < kRowsPerFile; ++i) {
      int id = f * kRowsPerFile + i;
      csv += std::to_string(id) + ",\"name \"\"" + std::to_string(id) + "\"\"\t\\\"," +
             std::to_string(id % 997) + ".25,2026-01-01T00:00:00Z\n";
    }
    dir.write("data/csv/part_" + std::to_string(f) + ".csv", csv);
  }
  std::string jsonl;
  for (int i = 0; i < kOrders; ++i) {
    char ts[64];
    std::snprintf(ts, sizeof ts, "2026-01-%02dT%02d:%02d:00Z", 1 + i / 1440 % 28, i / 60 % 24,
                  i % 60);
    jsonl += "{\"id\":" + std::to_string(i) + ",\"updated_at\":\"" + ts +
             "\",\"items\":[{\"sku\":\"a\",\"tags\":[\"x\",\"y\"]},{\"sku\":\"b\",\"tags\":[]}]}\n";
  }
  dir.write("data/orders.jsonl", jsonl);
}

class PostgresWarehouseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PgServer* server = PgServer::shared();
    ASSERT_NE(server, nullptr) << PgServer::shared_error();
    url_ = server->create_database("wh");
    ASSERT_FALSE(url_.empty());
    write_project(dir_, url_);
  }
  std::string value(const std::string& sql) { return query_value(dir_.str(), sql); }

  // Every job complete, exactly once.
  void expect_complete() {
    EXPECT_EQ(value("SELECT count(*) FROM events"), std::to_string(kRowsPerFile * kFiles));
    EXPECT_EQ(value("SELECT count(DISTINCT id) FROM events"),
              std::to_string(kRowsPerFile * kFiles));
    EXPECT_EQ(value("SELECT count(*) FROM orders"), std::to_string(kOrders));
    EXPECT_EQ(value("SELECT count(*) FROM orders__items"), std::to_string(2 * kOrders));
    EXPECT_EQ(value("SELECT count(*) FROM orders__items__tags"), std::to_string(2 * kOrders));
    EXPECT_EQ(value("SELECT state->>'watermark' FROM _ferry_state WHERE job_id = 'json_job'"),
              "2026-01-07T05:59:00Z");
  }

  TempDir dir_;
  std::string url_;
};

TEST_F(PostgresWarehouseTest, LoadsMergesAndTransformsAndASecondRunLoadsNothingTwice) {
  ProcessResult r = run_ferry(dir_.str(), {"run", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_complete();
  // Typed columns, text with tabs, quotes and backslashes intact.
  EXPECT_EQ(value("SELECT data_type FROM information_schema.columns WHERE table_schema = 'ods' "
                  "AND table_name = 'events' AND column_name = 'updated_at'"),
            "timestamp with time zone");
  EXPECT_EQ(value("SELECT name FROM events WHERE id = 7"), "name \"7\"\t\\");
  EXPECT_EQ(value("SELECT events || '/' || orders FROM totals"),
            std::to_string(kRowsPerFile * kFiles) + "/" + std::to_string(kOrders));
  EXPECT_EQ(value("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0");

  ProcessResult again = run_ferry(dir_.str(), {"run", "--all"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  expect_complete();

  // A changed order comes again: its row and children are replaced, not added.
  dir_.write("data/orders.jsonl",
             "{\"id\":3,\"updated_at\":\"2026-02-01T00:00:00Z\",\"items\":[{\"sku\":\"z\"}]}\n");
  ProcessResult third = run_ferry(dir_.str(), {"run", "json_job"});
  ASSERT_EQ(third.exit_code, 0) << third.out << third.err;
  EXPECT_EQ(value("SELECT count(*) FROM orders"), std::to_string(kOrders));
  EXPECT_EQ(value("SELECT string_agg(i.sku, ',') FROM orders__items i JOIN orders o ON "
                  "i._ferry_root_id = o._ferry_id WHERE o.id = 3"),
            "z");
  EXPECT_EQ(value("SELECT count(*) FROM orders__items"), std::to_string(2 * kOrders - 1));
}

class PostgresCrashTest : public PostgresWarehouseTest,
                          public ::testing::WithParamInterface<std::map<std::string, std::string>> {
};

TEST_P(PostgresCrashTest, KilledRunLeavesAllOrNothingAndNextRunCompletesExactlyOnce) {
  ProcessResult killed =
      run_ferry(dir_.str(), {"run", "csv_job", "json_job", "-n", "1"}, GetParam());
  ASSERT_EQ(killed.signal, SIGKILL) << killed.out << killed.err;
  auto events = value("SELECT count(*) FROM events");
  if (events.find("does not exist") == std::string::npos && events != "<no rows>") {
    EXPECT_TRUE(events == "0" || events == std::to_string(kRowsPerFile * kFiles)) << events;
  }
  auto orders = value("SELECT count(*) FROM orders");
  if (orders.find("does not exist") == std::string::npos && orders != "<no rows>") {
    EXPECT_TRUE(orders == "0" || orders == std::to_string(kOrders)) << orders;
  }
  // Nothing of the killed load is left behind: its session's staging tables went with it.
  EXPECT_EQ(PgServer::query_value(url_,
                                  "SELECT count(*) FROM pg_class WHERE relname LIKE "
                                  "'\\_ferry\\_stage%' OR relname LIKE '%ferry_new%'"),
            "0");

  ProcessResult again = run_ferry(dir_.str(), {"run", "csv_job", "json_job"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  expect_complete();
  ProcessResult third = run_ferry(dir_.str(), {"run", "csv_job", "json_job"});
  ASSERT_EQ(third.exit_code, 0) << third.out << third.err;
  expect_complete();
}

std::vector<std::map<std::string, std::string>> kill_points() {
  std::vector<std::map<std::string, std::string>> points;
  for (int n : {1, 4, 7})
    points.push_back({{"FERRY_FAULT_KILL_AFTER_BATCHES", std::to_string(n)}});
  points.push_back({{"FERRY_FAULT_KILL_AT", "before_commit"}});
  points.push_back({{"FERRY_FAULT_KILL_AT", "after_commit"}});
  return points;
}

INSTANTIATE_TEST_SUITE_P(KillPoints, PostgresCrashTest, ::testing::ValuesIn(kill_points()));

// A PostgreSQL table read by the postgres source into SQLite and into PostgreSQL: every mapped
// type exact, then an incremental run picks up an update and a row tied with the watermark.
TEST(PostgresSource, TableToSqliteAndToPostgresIncrementally) {
  PgServer* server = PgServer::shared();
  ASSERT_NE(server, nullptr) << PgServer::shared_error();
  std::string src = server->create_database("src");
  std::string dst = server->create_database("dst");
  ASSERT_EQ(PgServer::exec(src, R"(CREATE SCHEMA shop;
CREATE TABLE shop.orders (id bigint PRIMARY KEY, name text, amount numeric(12,2),
  updated_at timestamptz, tags text[], payload jsonb, flag boolean, day date, ref uuid);
INSERT INTO shop.orders VALUES
  (1, 'Åsa "q" tab	x', 1234567890.10, '2026-01-01 10:00:00+00', '{a,b}', '{"k": [1, 2.5]}',
   true, '2026-01-01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
  (2, '', 0.05, '2026-01-02 10:00:00.5+02', '{}', 'null', false, NULL, NULL),
  (3, NULL, NULL, '2026-01-03 00:00:00+00', NULL, NULL, NULL, '1999-12-31', NULL);)"),
            "");
  TempDir dir;
  dir.write("ferry.yml",
            "project: pgsrc\nwarehouse: wh\nconnections:\n"
            "  wh: {type: sqlite, path: wh.db}\n"
            "  pg: {type: postgres, url: \"" +
                src +
                "\"}\n"
                "  pgwh: {type: postgres, url: \"" +
                dst + "\", schema: ods}\n" +
                R"(jobs:
  - id: to_sqlite
    source: {connection: pg, table: shop.orders}
    target: {table: orders, mode: merge, primary_key: [id]}
    incremental: {cursor_field: updated_at}
  - id: to_pg
    source: {connection: pg, table: shop.orders}
    target: {connection: pgwh, table: orders, mode: merge, primary_key: [id]}
    incremental: {cursor_field: updated_at}
)");
  ProcessResult r = run_ferry(dir.str(), {"run", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // SQLite: ferry's documented forms (core/types.h).
  EXPECT_EQ(
      query(dir.str(),
            "SELECT id, quote(name), amount, updated_at, tags, payload, flag, day, ref "
            "FROM orders ORDER BY id"),
      (std::vector<std::vector<std::string>>{
          {"1", "'Åsa \"q\" tab\tx'", "1234567890.1", "2026-01-01T10:00:00Z", "[\"a\",\"b\"]",
           "{\"k\": [1, 2.5]}", "1", "2026-01-01", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
          {"2", "''", "0.05", "2026-01-02T08:00:00.500000Z", "[]", "null", "0", "NULL", "NULL"},
          {"3", "NULL", "NULL", "2026-01-03T00:00:00Z", "NULL", "NULL", "NULL", "1999-12-31",
           "NULL"}}));
  // PostgreSQL: the same values, in the mapped types.
  std::string same =
      "SELECT count(*) FROM (SELECT id, name, amount, updated_at, {tags}, payload, flag, day, "
      "ref::text FROM {t} EXCEPT SELECT id, name, amount, updated_at, {tags2}, payload, flag, "
      "day, ref::text FROM {t2}) x";
  auto differing = [&](const std::string& a, const std::string& b, bool a_is_source) {
    std::string q = same;
    auto put = [&](const std::string& key, const std::string& v) {
      q.replace(q.find(key), key.size(), v);
    };
    put("{tags}", a_is_source ? "to_jsonb(tags)" : "tags");
    put("{t}", a);
    put("{tags2}", a_is_source ? "tags" : "to_jsonb(tags)");
    put("{t2}", b);
    return q;
  };
  EXPECT_EQ(PgServer::query_value(dst,
                                  "SELECT string_agg(column_name || ' ' || data_type, ', ' "
                                  "ORDER BY ordinal_position) FROM information_schema.columns "
                                  "WHERE table_schema = 'ods' AND table_name = 'orders'"),
            "id bigint, name text, amount numeric, updated_at timestamp with time zone, tags "
            "jsonb, payload jsonb, flag boolean, day date, ref text, _ferry_load_id text");
  EXPECT_EQ(PgServer::query_value(dst, "SELECT count(*) FROM ods.orders"), "3");
  // Compare through a copy of the source table in the destination database.
  ASSERT_EQ(PgServer::exec(dst, "CREATE TABLE public.src_copy (LIKE ods.orders)"), "");
  {
    // Copy the source rows over with the source's own text (no ferry in between).
    std::string rows = PgServer::query_value(
        src,
        "SELECT string_agg(format('(%s,%L,%L,%L,%L,%L,%L,%L,%L)', id, name, amount, "
        "updated_at, to_jsonb(tags), payload, flag, day, ref), ',') FROM shop.orders");
    ASSERT_EQ(PgServer::exec(dst,
                             "INSERT INTO public.src_copy (id, name, amount, updated_at, "
                             "tags, payload, flag, day, ref) VALUES " +
                                 rows),
              "");
  }
  EXPECT_EQ(PgServer::query_value(dst, differing("public.src_copy", "ods.orders", false)), "0");
  EXPECT_EQ(PgServer::query_value(dst, differing("ods.orders", "public.src_copy", false)), "0");

  // An update, and a new row whose cursor equals the watermark (a tie).
  ASSERT_EQ(PgServer::exec(src,
                           "UPDATE shop.orders SET name = 'changed', updated_at = "
                           "'2026-01-04 00:00:00+00' WHERE id = 2;"
                           "INSERT INTO shop.orders (id, name, updated_at) VALUES "
                           "(4, 'tie', '2026-01-03 00:00:00+00');"),
            "");
  ProcessResult again = run_ferry(dir.str(), {"run", "--all"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(query(dir.str(), "SELECT id, name FROM orders ORDER BY id"),
            (std::vector<std::vector<std::string>>{
                {"1", "Åsa \"q\" tab\tx"}, {"2", "changed"}, {"3", "NULL"}, {"4", "tie"}}));
  EXPECT_EQ(PgServer::query_value(dst,
                                  "SELECT string_agg(id || ':' || coalesce(name, '-'), ',' "
                                  "ORDER BY id) FROM ods.orders"),
            "1:Åsa \"q\" tab\tx,2:changed,3:-,4:tie");
  // Only the rows at or after the watermark were read again.
  EXPECT_EQ(PgServer::query_value(dst,
                                  "SELECT string_agg(id::text, ',' ORDER BY id) FROM "
                                  "ods.orders WHERE _ferry_load_id = (SELECT load_id FROM "
                                  "ods._ferry_loads ORDER BY committed_at DESC LIMIT 1)"),
            "2,3,4");
  EXPECT_EQ(query_value(dir.str(),
                        "SELECT json_extract(state, '$.watermark') FROM _ferry_state "
                        "WHERE job_id = 'to_sqlite'"),
            "2026-01-04T00:00:00Z");
}

// incremental.lookback: each run re-reads the window before the watermark, so a row committed
// late with an older cursor is still loaded, and the merge keeps one row per key however
// often the window is read again. Rows older than the window are not read.
TEST(PostgresSource, LookbackRereadsTheWindowAndMergeKeepsNoDuplicates) {
  PgServer* server = PgServer::shared();
  ASSERT_NE(server, nullptr) << PgServer::shared_error();
  std::string src = server->create_database("src");
  ASSERT_EQ(PgServer::exec(src, R"(CREATE TABLE ev (id bigint PRIMARY KEY, name text,
  updated_at timestamptz);
INSERT INTO ev VALUES (1, 'a', '2026-01-01 10:00:00+00'), (2, 'b', '2026-01-01 11:00:00+00'),
  (3, 'c', '2026-01-01 12:00:00+00');)"),
            "");
  TempDir dir;
  dir.write("ferry.yml",
            "project: lookback\nwarehouse: wh\nconnections:\n"
            "  wh: {type: sqlite, path: wh.db}\n"
            "  pg: {type: postgres, url: \"" +
                src + "\"}\n" + R"(jobs:
  - id: ev
    source: {connection: pg, table: ev}
    target: {table: ev, mode: merge, primary_key: [id]}
    incremental: {cursor_field: updated_at, lookback: 90m}
)");
  ProcessResult r = run_ferry(dir.str(), {"run", "ev"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(query_value(dir.str(), "SELECT count(*) FROM ev"), "3");

  // Committed late, behind the watermark (12:00) but inside the window (from 10:30): a new
  // row and an update that kept its cursor. Row 5 is older than the window.
  ASSERT_EQ(PgServer::exec(src,
                           "INSERT INTO ev VALUES (4, 'late', '2026-01-01 11:30:00+00'), "
                           "(5, 'too late', '2026-01-01 09:00:00+00');"
                           "UPDATE ev SET name = 'b2' WHERE id = 2;"),
            "");
  for (int run = 0; run < 2; ++run) {
    ProcessResult again = run_ferry(dir.str(), {"run", "ev"});
    ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
    EXPECT_EQ(
        query(dir.str(), "SELECT id, name FROM ev ORDER BY id"),
        (std::vector<std::vector<std::string>>{{"1", "a"}, {"2", "b2"}, {"3", "c"}, {"4", "late"}}))
        << "run " << run;
    // The window (10:30 to now) was read: rows 2, 3 and 4, in this run's load.
    EXPECT_EQ(query_value(dir.str(),
                          "SELECT group_concat(id, ',') FROM (SELECT id FROM ev WHERE "
                          "_ferry_load_id = (SELECT _ferry_load_id FROM ev WHERE id = 3) "
                          "ORDER BY id)"),
              "2,3,4");
    // The committed watermark is the newest cursor, not the start of the window.
    EXPECT_EQ(query_value(dir.str(),
                          "SELECT json_extract(state, '$.watermark') FROM _ferry_state "
                          "WHERE job_id = 'ev'"),
              "2026-01-01T12:00:00Z");
  }
}

// normalize: [payload, doc]: jsonb (and text holding JSON) columns normalised like API
// documents, into SQLite and into PostgreSQL: the object's fields are columns of the row, its
// arrays child tables linked by _ferry_root_id, the other columns keep their catalog types; a
// merge re-run replaces a row's children; a value that is no JSON object is a reject naming
// the column; a NULL adds nothing; an unknown column fails the job before anything loads.
TEST(PostgresSource, NormalizeLoadsJsonbColumnsAsColumnsAndChildTables) {
  PgServer* server = PgServer::shared();
  ASSERT_NE(server, nullptr) << PgServer::shared_error();
  std::string src = server->create_database("src");
  std::string dst = server->create_database("dst");
  ASSERT_EQ(PgServer::exec(src, R"(CREATE TABLE orders (id bigint PRIMARY KEY,
  amount numeric(12,2), payload jsonb, doc text, at timestamptz);
INSERT INTO orders VALUES
  (1, 1234567890.10,
   '{"customer":{"name":"A"},"items":[{"sku":"x","qty":1},{"sku":"y","qty":2}]}',
   '{"k": "v"}', '2026-01-01 10:00:00+02'),
  (2, 0.05, NULL, NULL, NULL),
  (3, 1.00, '[1, 2]', NULL, NULL),
  (4, 2.00, '{"customer":{"name":"D"}}', 'not json', NULL);)"),
            "");
  TempDir dir;
  std::string job = R"(    source: {connection: pg, table: orders, normalize: [payload, doc]}
    max_rejects: 10
    incremental: {cursor_field: at}
)";
  dir.write("ferry.yml",
            "project: pgnorm\nwarehouse: wh\nconnections:\n"
            "  wh: {type: sqlite, path: wh.db}\n"
            "  pg: {type: postgres, url: \"" +
                src + "\"}\n  pgwh: {type: postgres, url: \"" + dst +
                "\", schema: ods}\njobs:\n"
                "  - id: to_sqlite\n" +
                job +
                "    target: {table: orders, mode: merge, primary_key: [id]}\n"
                "  - id: to_pg\n" +
                job +
                "    target: {connection: pgwh, table: orders, mode: merge, "
                "primary_key: [id]}\n"
                "  - id: unknown\n"
                "    source: {connection: pg, table: orders, normalize: [paylod]}\n"
                "    target: {table: unknown_orders}\n");
  ProcessResult r = run_ferry(dir.str(), {"run", "to_sqlite", "to_pg"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  using Rows = std::vector<std::vector<std::string>>;
  // SQLite: the parent rows with their typed columns and payload's fields; no payload column.
  EXPECT_EQ(query(dir.str(),
                  "SELECT id, amount, typeof(amount), payload__customer__name, doc__k, at "
                  "FROM orders ORDER BY id"),
            (Rows{{"1", "1234567890.1", "real", "A", "v", "2026-01-01T08:00:00Z"},
                  {"2", "0.05", "real", "NULL", "NULL", "NULL"}}));
  EXPECT_EQ(query_value(dir.str(),
                        "SELECT count(*) FROM pragma_table_info('orders') WHERE "
                        "name IN ('payload', 'doc')"),
            "0");
  const std::string children =
      "SELECT i.sku, i.qty FROM orders__payload__items i JOIN orders o ON i._ferry_root_id = "
      "o._ferry_id AND i._ferry_parent_id = o._ferry_id WHERE o.id = 1 ORDER BY i._ferry_idx";
  EXPECT_EQ(query(dir.str(), children), (Rows{{"x", "1"}, {"y", "2"}}));
  EXPECT_EQ(query_value(dir.str(), "SELECT count(*) FROM orders__payload__items"), "2");
  EXPECT_EQ(query(dir.str(),
                  "SELECT line, iif(line = 4, substr(reason, 1, 26), reason) FROM "
                  "_ferry_rejects WHERE job_id = 'to_sqlite' ORDER BY line"),
            (Rows{{"3", "column payload: a JSON array, not an object (normalize:)"},
                  {"4", "column doc: not valid JSON"}}));

  // PostgreSQL: the catalog types kept, the amount exact, the same children.
  EXPECT_EQ(PgServer::query_value(dst,
                                  "SELECT string_agg(column_name || ' ' || data_type, ', ' "
                                  "ORDER BY ordinal_position) FROM information_schema.columns "
                                  "WHERE table_schema = 'ods' AND table_name = 'orders'"),
            "_ferry_id bigint, id bigint, amount numeric, at timestamp with time zone, "
            "payload__customer__name text, doc__k text, _ferry_load_id text");
  EXPECT_EQ(PgServer::query_value(dst,
                                  "SELECT string_agg(id || ':' || amount || ':' || "
                                  "coalesce(payload__customer__name, '-'), ',' ORDER BY "
                                  "id) FROM ods.orders"),
            "1:1234567890.10:A,2:0.05:-");
  EXPECT_EQ(PgServer::query_value(
                dst,
                "SELECT string_agg(i.sku || '=' || i.qty, ',' ORDER BY i._ferry_idx) FROM "
                "ods.orders__payload__items i JOIN ods.orders o ON i._ferry_root_id = "
                "o._ferry_id WHERE o.id = 1"),
            "x=1,y=2");
  EXPECT_EQ(PgServer::query_value(dst, "SELECT count(*) FROM ods._ferry_rejects"), "2");

  // A merge re-run with one item removed: the row's children are replaced.
  ASSERT_EQ(PgServer::exec(src, "UPDATE orders SET payload = payload #- '{items,1}' WHERE id = 1"),
            "");
  ProcessResult again = run_ferry(dir.str(), {"run", "to_sqlite", "to_pg"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(query(dir.str(), children), (Rows{{"x", "1"}}));
  EXPECT_EQ(query_value(dir.str(), "SELECT count(*) FROM orders__payload__items"), "1");
  EXPECT_EQ(query_value(dir.str(), "SELECT count(*) FROM orders"), "2");
  EXPECT_EQ(PgServer::query_value(dst,
                                  "SELECT string_agg(sku, ',') FROM "
                                  "ods.orders__payload__items"),
            "x");
  EXPECT_EQ(PgServer::query_value(dst, "SELECT count(*) FROM ods.orders"), "2");
  EXPECT_EQ(query_value(dir.str(),
                        "SELECT json_extract(state, '$.watermark') FROM _ferry_state "
                        "WHERE job_id = 'to_sqlite'"),
            "2026-01-01T08:00:00Z");

  // An unknown column fails the job, naming the option and the column; nothing is loaded.
  ProcessResult bad = run_ferry(dir.str(), {"run", "unknown"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE((bad.out + bad.err).find("normalize: paylod is not a column of table orders"),
            std::string::npos)
      << bad.out << bad.err;
  EXPECT_EQ(query_value(dir.str(),
                        "SELECT count(*) FROM sqlite_master WHERE name LIKE "
                        "'unknown_orders%'"),
            "0");
}

}  // namespace
}  // namespace ferry::testing
