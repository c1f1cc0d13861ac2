// Throughput of SqliteDestination::write against sqlite3's own `.import --csv` (the baseline
// a user would otherwise reach for), on the same typed table and data. Disabled: run with
//   FERRY_BENCH_ROWS=2000000 destinations_test --gtest_also_run_disabled_tests
//       --gtest_filter='*Bench*'
// FERRY_BENCH_TS=space writes timestamps as "2024-01-02 03:04:05" (the formatting path)
// instead of the canonical "2024-01-02T03:04:05Z".
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <sys/resource.h>

#include "core/infer.h"
#include "destinations/sqlite/sqlite_destination.h"
#include "testing.h"

namespace ferry {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU seconds (user + system) of this process, or of its finished children.
double cpu_seconds(int who) {
  rusage ru{};
  getrusage(who, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

TEST(SqliteDestinationBench, DISABLED_WriteVersusSqliteImport) {
  const char* env_rows = std::getenv("FERRY_BENCH_ROWS");
  const size_t rows = env_rows ? std::strtoull(env_rows, nullptr, 10) : 2000000;
  const bool space =
      std::getenv("FERRY_BENCH_TS") && std::string(std::getenv("FERRY_BENCH_TS")) == "space";
  constexpr size_t kBatchRows = 8192;
  testing::TempDir dir;

  // The data: a CSV for sqlite3 and the same rows as inferred batches for ferry.
  const auto csv_path = dir.path() / "data.csv";
  std::vector<Batch> batches;
  {
    std::ofstream csv(csv_path, std::ios::binary);
    csv << "id,name,amount,updated_at,payload\n";
    const char* cols[] = {"id", "name", "amount", "updated_at", "payload"};
    std::string line, fields[5];
    for (size_t r = 0; r < rows; ++r) {
      if (r % kBatchRows == 0) {
        Batch& b = batches.emplace_back("t");
        for (const char* c : cols)
          b.column_index(c);
      }
      int64_t ts = (1704067200LL + static_cast<int64_t>(r) * 7) * 1000000;
      fields[0] = std::to_string(r + 1);
      fields[1] = "customer_" + std::to_string(r % 100000);
      fields[2] = std::to_string(r % 100000) + "." + std::to_string(r % 89 + 10);
      fields[3] = format_timestamp(ts);
      if (space) {
        fields[3][10] = ' ';
        fields[3].pop_back();
      }
      fields[4] = "payload text for row " + std::to_string(r) + " lorem ipsum dolor sit amet xyz";
      line.clear();
      Batch& b = batches.back();
      for (size_t i = 0; i < 5; ++i) {
        append_inferred(b.column(i), fields[i]);
        line += fields[i];
        line += i == 4 ? '\n' : ',';
      }
      b.end_row();
      csv << line;
    }
  }
  const double mb = static_cast<double>(std::filesystem::file_size(csv_path)) / 1e6;
  ASSERT_EQ(batches[0].column(3).type(), Type::kTimestamp);
  ASSERT_EQ(batches[0].column(2).type(), Type::kDouble);

  // ferry
  // FERRY_BENCH_DB=:memory: measures the insert path's CPU without any I/O.
  const char* env_db = std::getenv("FERRY_BENCH_DB");
  const auto ferry_db = env_db ? std::string(env_db) : (dir.path() / "ferry.db").string();
  double ferry_s, ferry_cpu;
  {
    SqliteDestinationOptions options;
    if (const char* kib = std::getenv("FERRY_BENCH_CACHE_KIB"))
      options.load_cache_kib = std::atoi(kib);
    if (const char* ps = std::getenv("FERRY_BENCH_PAGE_SIZE")) options.page_size = std::atoi(ps);
    auto dst = open_sqlite_destination(ferry_db, options);
    ASSERT_TRUE(dst.ok());
    LoadSpec spec;
    spec.job_id = "bench";
    spec.run_id = "r1";
    spec.load_id = "bench-load-1";
    spec.root_table = "t";
    const double cpu0 = cpu_seconds(RUSAGE_SELF);
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE((*dst)->begin(spec).is_ok());
    WriteResult result;
    for (const Batch& b : batches)
      ASSERT_TRUE((*dst)->write(b, &result).is_ok());
    const double write_s = seconds_since(t0);
    ASSERT_TRUE((*dst)->commit({}, {}).is_ok());
    ferry_s = seconds_since(t0);
    ferry_cpu = cpu_seconds(RUSAGE_SELF) - cpu0;
    std::printf("ferry: writes %.2f s, commit %.2f s, cpu %.2f s\n", write_s, ferry_s - write_s,
                ferry_cpu);
    ASSERT_EQ(result.rows_written, rows);
    auto first = (*dst)->query("SELECT updated_at, typeof(amount) FROM t WHERE id = 1");
    ASSERT_TRUE(first.ok());
    ASSERT_EQ(first->size(), 2u);  // header, row
    EXPECT_EQ((*first)[1][0], format_timestamp(1704067200LL * 1000000));
    EXPECT_EQ((*first)[1][1], "real");
  }

  if (std::getenv("FERRY_BENCH_NO_IMPORT")) {  // for profiling the write path alone
    std::printf("ferry sqlite destination: %.2f s  %.0f rows/s\n", ferry_s,
                static_cast<double>(rows) / ferry_s);
    return;
  }

  // sqlite3 .import into the same typed table.
  const auto import_db = (dir.path() / "import.db").string();
  std::string create =
      "sqlite3 " + import_db +
      " 'CREATE TABLE t (id INTEGER, name TEXT, amount REAL, updated_at TEXT, payload TEXT)'";
  ASSERT_EQ(std::system(create.c_str()), 0);
  std::string import =
      "sqlite3 " + import_db + " \".import --csv --skip 1 " + csv_path.string() + " t\"";
  const double child_cpu0 = cpu_seconds(RUSAGE_CHILDREN);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(std::system(import.c_str()), 0);
  const double import_s = seconds_since(t0);
  const double import_cpu = cpu_seconds(RUSAGE_CHILDREN) - child_cpu0;

  std::printf("rows %zu (%.0f MB CSV, timestamps %s)\n", rows, mb, space ? "space" : "canonical");
  std::printf("ferry sqlite destination: %.2f s  %.0f rows/s  (cpu %.2f s)\n", ferry_s,
              static_cast<double>(rows) / ferry_s, ferry_cpu);
  std::printf("sqlite3 .import --csv:    %.2f s  %.0f rows/s  (cpu %.2f s)\n", import_s,
              static_cast<double>(rows) / import_s, import_cpu);
  std::printf("ratio (import / ferry):   %.2fx wall, %.2fx cpu\n", import_s / ferry_s,
              import_cpu / ferry_cpu);
}

}  // namespace
}  // namespace ferry
