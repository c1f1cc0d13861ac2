// Golden test of examples/quickstart: the project files plus the input fixtures must produce
// exactly these warehouse rows, and a second run loads nothing twice.
#include <gtest/gtest.h>

#include <filesystem>

#include "integration/ferry_process.h"
#include "testing.h"

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

void copy_example(const TempDir& dir) {
  fs::copy(source_dir() / "examples/quickstart", dir.path(),
           fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  fs::remove_all(dir.path() / ".ferry");
  fs::remove(dir.path() / "warehouse.db");
}

TEST(Quickstart, LoadsEveryTableAndTheStarSchema) {
  TempDir dir;
  copy_example(dir);
  ProcessResult r = run_ferry(dir.str(), {"run", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string d = dir.str();
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_stores"), "3");
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_products"), "5");
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_sales"), "10");
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_orders"), "3");
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_orders__items"), "5");
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_orders__items__tags"), "7");
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM fact_sales"), "15");
  // The second day's files added a column; the first day's rows have it null.
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_sales WHERE discount IS NOT NULL"), "3");
  // Constant column from the template parameter.
  EXPECT_EQ(query_value(d,
                        "SELECT group_concat(store_id) FROM "
                        "(SELECT DISTINCT store_id FROM ods_sales ORDER BY 1)"),
            "1,2");
  // Nested objects became columns; the zone was applied to the timestamp.
  EXPECT_EQ(query_value(d, "SELECT customer__address__city FROM ods_orders WHERE id = 5002"),
            "Bremen");
  EXPECT_EQ(query_value(d, "SELECT updated_at FROM ods_orders WHERE id = 5003"),
            "2026-11-02T19:10:00Z");
  // The watermark is the maximum cursor value, committed with the rows.
  EXPECT_EQ(query_value(d,
                        "SELECT json_extract(state, '$.watermark') FROM _ferry_state "
                        "WHERE job_id = 'orders'"),
            "2026-11-02T19:10:00Z");
  EXPECT_EQ(query_value(d, "SELECT ROUND(SUM(revenue), 2) FROM fact_sales WHERE channel = 'store'"),
            "218.81");
  // The REST jobs: three stores from one template, store 1 over two pages (next_url).
  EXPECT_EQ(query_value(d,
                        "SELECT group_concat(n) FROM (SELECT store_id || ':' || COUNT(*) AS n "
                        "FROM ods_store_orders GROUP BY store_id ORDER BY store_id)"),
            "1:3,2:2,3:1");
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_store_orders__lines"), "7");
  EXPECT_EQ(query_value(d, "SELECT customer__address__city FROM ods_store_orders WHERE id = 9301"),
            "Berlin");
  // The catalog's declared types, not inferred ones.
  EXPECT_EQ(query_value(d,
                        "SELECT group_concat(name || ' ' || type) FROM pragma_table_info("
                        "'ods_catalog') WHERE name IN ('list_price', 'in_stock', 'attributes')"),
            "list_price NUMERIC,in_stock INTEGER,attributes TEXT");
  EXPECT_EQ(query_value(d, "SELECT attributes FROM ods_catalog WHERE sku = 'A-100'"),
            R"({"roast":"dark"})");
  // The new column was recorded in the audit table.
  // (by whichever store job met the second day's file first).
  ProcessResult audit = run_ferry(d, {"audit", "--json", "--limit", "0"});
  ASSERT_EQ(audit.exit_code, 0);
  EXPECT_NE(audit.out.find("added column ods_sales.discount"), std::string::npos) << audit.out;
}

TEST(Quickstart, SecondRunLoadsNothingTwice) {
  TempDir dir;
  copy_example(dir);
  ASSERT_EQ(run_ferry(dir.str(), {"run", "--all"}).exit_code, 0);
  ProcessResult r = run_ferry(dir.str(), {"run", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::string d = dir.str();
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_sales"), "10");
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_orders__items"), "5");
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM fact_sales"), "15");
  // 9 loads of the first run, 8 of the second: the replace job (stores) saw no changed file
  // and kept its table instead of committing an empty load. The REST jobs read their API
  // again (an API has no change marker); merge keeps one row per order.
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM _ferry_loads"), "17");
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_store_orders"), "6");
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_catalog"), "3");
  EXPECT_EQ(query_value(d, "SELECT COUNT(*) FROM ods_stores"), "3");
}

TEST(Quickstart, NewFileDropIsPickedUpOnTheNextRun) {
  TempDir dir;
  copy_example(dir);
  ASSERT_EQ(run_ferry(dir.str(), {"run", "--all"}).exit_code, 0);
  dir.write("data/bucket/sales/store_2_2026-11-03.csv",
            "sale_id,sold_at,sku,qty,unit_price,discount,channel\n"
            "2005,2026-11-03T10:00:00Z,A-100,1,24.90,,kiosk\n");
  ProcessResult r = run_ferry(dir.str(), {"run", "sales_store_2"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM ods_sales"), "11");
  EXPECT_EQ(query_value(dir.str(), "SELECT channel FROM ods_sales WHERE sale_id = 2005"), "kiosk");
  // fact_sales was rebuilt after its input succeeded.
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM fact_sales"), "16");
}

}  // namespace
}  // namespace ferry::testing
