// The ferry command as users drive it: config errors, the config table by hand, apply and
// rollback, rejects, and secrets kept out of everything ferry prints or stores.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "integration/ferry_process.h"
#include "testing.h"

namespace ferry::testing {
namespace {

const char* kProject = R"(project: cli
warehouse: wh
connections:
  wh: {type: sqlite, path: wh.db}
  files: {type: file, path: data}
templates:
  store:
    source: {connection: files, path: "store_{{store_id}}.csv"}
    target: {table: sales, mode: append}
    columns: {store_id: "{{store_id}}"}
jobs:
  - {id: store_1, template: store, params: {store_id: 1}}
)";

void write_stores(const TempDir& dir) {
  dir.write("ferry.yml", kProject);
  dir.write("data/store_1.csv", "sale,amount\n1,10.5\n2,3\n");
  dir.write("data/store_2.csv", "sale,amount\n3,7\n");
}

TEST(Cli, UnknownKeyIsAUsageErrorNamingFileLineAndSuggestion) {
  TempDir dir;
  write_stores(dir);
  std::string yml = kProject;
  yml.replace(yml.find("mode: append"), 12, "mdoe: append");
  dir.write("ferry.yml", yml);
  ProcessResult r = run_ferry(dir.str(), {"validate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("ferry.yml:9:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'mode'"), std::string::npos) << r.err;
}

TEST(Cli, JobAddedByHandRunsAndSurvivesApply) {
  TempDir dir;
  write_stores(dir);
  ASSERT_EQ(run_ferry(dir.str(), {"apply"}).exit_code, 0);
  ProcessResult add = run_ferry(
      dir.str(), {"jobs", "add", "store_2", "--template", "store", "--param", "store_id=2"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  ProcessResult run = run_ferry(dir.str(), {"run", "--all"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM sales"), "3");
  EXPECT_EQ(query_value(dir.str(), "SELECT store_id FROM sales WHERE sale = 3"), "2");
  // Re-applying the files keeps the hand-added job.
  ASSERT_EQ(run_ferry(dir.str(), {"apply"}).exit_code, 0);
  ProcessResult list = run_ferry(dir.str(), {"jobs", "list", "--json"});
  EXPECT_NE(list.out.find("\"store_2\""), std::string::npos) << list.out;
  // A missing template parameter is refused.
  ProcessResult bad = run_ferry(dir.str(), {"jobs", "add", "store_3", "--template", "store"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("store_id"), std::string::npos) << bad.err;
}

TEST(Cli, DisabledJobsAreNotRunByAll) {
  TempDir dir;
  write_stores(dir);
  ASSERT_EQ(run_ferry(dir.str(), {"apply"}).exit_code, 0);
  ASSERT_EQ(run_ferry(dir.str(), {"jobs", "disable", "store_1"}).exit_code, 0);
  ProcessResult run = run_ferry(dir.str(), {"run", "--all"});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("no enabled jobs"), std::string::npos) << run.out;
}

TEST(Cli, RollbackRestoresTheJobsOfAVersion) {
  TempDir dir;
  write_stores(dir);
  ASSERT_EQ(run_ferry(dir.str(), {"apply"}).exit_code, 0);  // version 1: store_1
  std::string two =
      std::string(kProject) + "  - {id: store_2, template: store, params: {store_id: 2}}\n";
  dir.write("ferry.yml", two);
  ASSERT_EQ(run_ferry(dir.str(), {"apply"}).exit_code, 0);  // version 2: store_1, store_2
  EXPECT_NE(run_ferry(dir.str(), {"jobs", "list", "--json"}).out.find("store_2"),
            std::string::npos);
  ProcessResult rb = run_ferry(dir.str(), {"rollback", "1"});
  ASSERT_EQ(rb.exit_code, 0) << rb.err;
  EXPECT_EQ(run_ferry(dir.str(), {"jobs", "list", "--json"}).out.find("store_2"),
            std::string::npos);
  ProcessResult versions = run_ferry(dir.str(), {"versions"});
  EXPECT_NE(versions.out.find("rollback to 1"), std::string::npos) << versions.out;
}

TEST(Cli, UnknownJobSuggestsTheClosestAndExitsTwo) {
  TempDir dir;
  write_stores(dir);
  ProcessResult r = run_ferry(dir.str(), {"run", "store1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("did you mean 'store_1'"), std::string::npos) << r.err;
}

TEST(Cli, BadRowsGoToRejectsAndFailTheRunPastMaxRejects) {
  TempDir dir;
  dir.write("ferry.yml", R"(project: rej
warehouse: wh
connections:
  wh: {type: sqlite, path: wh.db}
  files: {type: file, path: data}
jobs:
  - id: strict
    source: {connection: files, path: a.csv}
    target: {table: a, mode: append}
  - id: tolerant
    source: {connection: files, path: a.csv}
    target: {table: b, mode: append}
    max_rejects: 5
)");
  dir.write("data/a.csv", "id,name\n1,x\n2,y,extra\n3,z\n");
  ProcessResult strict = run_ferry(dir.str(), {"run", "strict"});
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_NE(strict.err.find("a.csv:3"), std::string::npos) << strict.err;
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM a"), "<no rows>");  // nothing committed
  // The failed run's reject is kept.
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM _ferry_rejects WHERE job_id = 'strict'"),
            "1");
  ProcessResult tolerant = run_ferry(dir.str(), {"run", "tolerant"});
  EXPECT_EQ(tolerant.exit_code, 0) << tolerant.err;
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM b"), "2");
  EXPECT_EQ(query_value(dir.str(), "SELECT line FROM _ferry_rejects WHERE job_id = 'tolerant'"),
            "3");
  ProcessResult runs = run_ferry(dir.str(), {"runs", "--job", "tolerant", "--json"});
  EXPECT_NE(runs.out.find("\"rows_rejected\": 1"), std::string::npos) << runs.out;
}

TEST(Cli, SecretsNeverReachOutputRunsOrAudit) {
  TempDir dir;
  dir.write("ferry.yml", R"(project: sec
warehouse: wh
connections:
  wh: {type: sqlite, path: wh.db}
  files: {type: file, path: "${DATA_DIR_SECRET}"}
jobs:
  - id: j
    source: {connection: files, path: a.csv}
    target: {table: a, mode: append}
)");
  std::map<std::string, std::string> env = {{"DATA_DIR_SECRET", "hunter2-very-secret"}};
  ProcessResult r = run_ferry(dir.str(), {"run", "j"}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("hunter2"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("***"), std::string::npos) << r.err;
  ProcessResult audit = run_ferry(dir.str(), {"audit", "--json"}, env);
  EXPECT_EQ(audit.out.find("hunter2"), std::string::npos);
  ProcessResult runs = run_ferry(dir.str(), {"runs", "--json"}, env);
  EXPECT_EQ(runs.out.find("hunter2"), std::string::npos);
  EXPECT_NE(runs.out.find("failed"), std::string::npos) << runs.out;
  // A missing variable is an error naming it.
  ProcessResult missing = run_ferry(dir.str(), {"run", "j"});
  EXPECT_NE(missing.err.find("DATA_DIR_SECRET"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

TEST(Cli, DocsConfigMdIsGeneratedFromTheDeclarations) {
  TempDir dir;
  ProcessResult docs = run_ferry(dir.str(), {"docs"});
  ASSERT_EQ(docs.exit_code, 0);
  EXPECT_EQ(docs.out, read_file(source_dir() / "docs/config.md"))
      << "docs/config.md is stale: run `build/ferry docs > docs/config.md`";
}

TEST(Cli, HelpSourceListsTheKindsOptionsAndSuggestsOnTypos) {
  TempDir dir;
  ProcessResult help = run_ferry(dir.str(), {"help", "source", "file"});
  ASSERT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("pattern"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("null_string"), std::string::npos) << help.out;
  ProcessResult typo = run_ferry(dir.str(), {"help", "source", "flie"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("did you mean 'file'"), std::string::npos) << typo.err;
}

TEST(Cli, InitWritesAProjectThatValidatesAndRuns) {
  TempDir dir;
  std::string project = dir.str() + "/new";
  ProcessResult init = run_ferry(dir.str(), {"init", project});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  ProcessResult validate = run_ferry(project, {"validate"});
  ASSERT_EQ(validate.exit_code, 0) << validate.err;
  ProcessResult run = run_ferry(project, {"run", "--all"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("succeeded"), std::string::npos) << run.out;
  ProcessResult again = run_ferry(dir.str(), {"init", project});
  EXPECT_EQ(again.exit_code, 2);
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

// A file whose mtime changed but whose content did not is not loaded again; one whose content
// changed is (an append job then holds both versions, as the audit says).
TEST(Cli, TouchedFileWithSameContentIsNotReloaded) {
  TempDir dir;
  write_stores(dir);
  ASSERT_EQ(run_ferry(dir.str(), {"run", "store_1"}).exit_code, 0);
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM sales"), "2");
  auto csv = dir.path() / "data/store_1.csv";
  std::filesystem::last_write_time(csv,
                                   std::filesystem::last_write_time(csv) + std::chrono::seconds(5));
  ASSERT_EQ(run_ferry(dir.str(), {"run", "store_1"}).exit_code, 0);
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM sales"), "2");
  dir.write("data/store_1.csv", "sale,amount\n1,10.5\n2,3\n9,1\n");
  ASSERT_EQ(run_ferry(dir.str(), {"run", "store_1"}).exit_code, 0);
  EXPECT_EQ(query_value(dir.str(), "SELECT COUNT(*) FROM sales"), "5");
}

}  // namespace
}  // namespace ferry::testing
