// A run killed with SIGKILL at any point leaves all or none of its rows and its state; the
// next run loads exactly what is missing, never duplicates.
#include <gtest/gtest.h>

#include <fstream>

#include "integration/ferry_process.h"
#include "testing.h"

namespace ferry::testing {
namespace {

constexpr int kRowsPerFile = 20000;  // about 3 batches of 8192 rows per file
constexpr int kFiles = 3;

// A project with three CSV files (append) and a JSONL file of nested orders (merge +
// incremental cursor), so kills land in the middle of files, between files and between the
// parent and child tables of one document batch.
void write_project(const TempDir& dir) {
  dir.write("ferry.yml", R"(project: crash
warehouse: wh
connections:
  wh: {type: sqlite, path: wh.db}
  files: {type: file, path: data}
jobs:
  - id: csv_job
    source: {connection: files, path: csv, pattern: "*.csv"}
    target: {table: events, mode: append}
  - id: json_job
    source: {connection: files, path: orders.jsonl}
    target: {table: orders, mode: merge, primary_key: [id]}
    incremental: {cursor_field: updated_at}
)");
  for (int f = 0; f < kFiles; ++f) {
    std::string csv = "id,name,amount,updated_at\n";
    for (int i = 0; i < kRowsPerFile; ++i) {
      int id = f * kRowsPerFile + i;
      csv += std::to_string(id) + ",name " + std::to_string(id) + "," + std::to_string(id % 997) +
             ".25,2026-01-01T00:00:00Z\n";
    }
    dir.write("data/csv/part_" + std::to_string(f) + ".csv", csv);
  }
  std::string jsonl;
  for (int i = 0; i < 12000; ++i) {
    char ts[64];
    std::snprintf(ts, sizeof ts, "2026-01-%02dT%02d:%02d:00Z", 1 + i / 1440 % 28, i / 60 % 24,
                  i % 60);
    jsonl += "{\"id\":" + std::to_string(i) + ",\"updated_at\":\"" + ts +
             "\",\"items\":[{\"sku\":\"a\",\"tags\":[\"x\",\"y\"]},{\"sku\":\"b\",\"tags\":[]}]}\n";
  }
  dir.write("data/orders.jsonl", jsonl);
}

struct Counts {
  std::string rows, distinct, items, tags, watermark, files_in_state;
};

Counts counts(const std::string& dir) {
  Counts c;
  c.rows = query_value(dir, "SELECT COUNT(*) FROM events");
  c.distinct = query_value(dir, "SELECT COUNT(DISTINCT id) FROM events");
  c.items = query_value(dir, "SELECT COUNT(*) FROM orders__items");
  c.tags = query_value(dir, "SELECT COUNT(*) FROM orders__items__tags");
  c.watermark = query_value(dir,
                            "SELECT json_extract(state, '$.watermark') FROM _ferry_state "
                            "WHERE job_id = 'json_job'");
  c.files_in_state =
      query_value(dir,
                  "SELECT (SELECT COUNT(*) FROM json_each(json_extract(state, '$.files'))) "
                  "FROM _ferry_state WHERE job_id = 'csv_job'");
  return c;
}

class CrashTest : public ::testing::TestWithParam<std::map<std::string, std::string>> {};

TEST_P(CrashTest, KilledRunLeavesAllOrNothingAndNextRunCompletesExactlyOnce) {
  TempDir dir;
  write_project(dir);
  ProcessResult killed =
      run_ferry(dir.str(), {"run", "csv_job", "json_job", "-n", "1"}, GetParam());
  ASSERT_EQ(killed.signal, SIGKILL) << killed.out << killed.err;

  // After the kill, each job is either fully committed or absent.
  auto events = query_value(dir.str(), "SELECT COUNT(*) FROM events");
  if (events != "<no rows>") {
    EXPECT_TRUE(events == "0" || events == std::to_string(kRowsPerFile * kFiles)) << events;
  }
  auto orders = query_value(dir.str(), "SELECT COUNT(*) FROM orders");
  if (orders != "<no rows>") {
    EXPECT_TRUE(orders == "0" || orders == "12000") << orders;
  }

  ProcessResult again = run_ferry(dir.str(), {"run", "csv_job", "json_job"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  // The killed run is no longer shown as running: the next run marked it failed.
  ProcessResult runs = run_ferry(dir.str(), {"runs", "--json"});
  EXPECT_EQ(runs.out.find("\"running\""), std::string::npos) << runs.out;
  EXPECT_NE(runs.out.find("exited before the run finished"), std::string::npos) << runs.out;
  Counts c = counts(dir.str());
  EXPECT_EQ(c.rows, std::to_string(kRowsPerFile * kFiles));
  EXPECT_EQ(c.distinct, c.rows);
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM orders"), "12000");
  EXPECT_EQ(c.items, "24000");
  EXPECT_EQ(c.tags, "24000");
  EXPECT_EQ(c.watermark, "2026-01-09T07:59:00Z");
  EXPECT_EQ(c.files_in_state, std::to_string(kFiles));

  // A third run has nothing new to do and changes nothing.
  ProcessResult third = run_ferry(dir.str(), {"run", "csv_job", "json_job"});
  ASSERT_EQ(third.exit_code, 0) << third.out << third.err;
  Counts c3 = counts(dir.str());
  EXPECT_EQ(c3.rows, c.rows);
  EXPECT_EQ(c3.items, c.items);
  EXPECT_EQ(c3.watermark, c.watermark);
}

std::vector<std::map<std::string, std::string>> kill_points() {
  std::vector<std::map<std::string, std::string>> points;
  for (int n : {1, 2, 4, 7, 9, 12, 15})
    points.push_back({{"FERRY_FAULT_KILL_AFTER_BATCHES", std::to_string(n)}});
  points.push_back({{"FERRY_FAULT_KILL_AT", "before_commit"}});
  points.push_back({{"FERRY_FAULT_KILL_AT", "after_commit"}});
  return points;
}

INSTANTIATE_TEST_SUITE_P(KillPoints, CrashTest, ::testing::ValuesIn(kill_points()));

}  // namespace
}  // namespace ferry::testing
