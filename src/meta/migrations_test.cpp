#include "meta/migrations.h"

#include <gtest/gtest.h>

#include "meta/metastore.h"
#include "testing.h"

namespace ferry::meta {
namespace {

std::vector<std::string> ferry_tables(SqliteDb& db) {
  auto stmt = db.prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'ferry%' ORDER BY name");
  EXPECT_TRUE(stmt.ok());
  std::vector<std::string> names;
  while (stmt->step().value())
    names.push_back(stmt->column_text(0));
  return names;
}

int64_t schema_rows(SqliteDb& db) {
  auto stmt = db.prepare("SELECT count(*) FROM ferry_schema");
  EXPECT_TRUE(stmt.ok());
  EXPECT_TRUE(stmt->step().value());
  return stmt->column_int64(0);
}

SqliteDb open_db(const std::filesystem::path& path) {
  auto db = SqliteDb::open(path.string());
  EXPECT_TRUE(db.ok()) << db.status().to_string();
  return std::move(db).value();
}

TEST(Migrations, OpenCreatesEveryTableAndReopenIsANoOp) {
  testing::TempDir dir;
  auto path = dir.path() / "sub" / "meta.db";
  {
    auto store = open_metastore("sqlite:sub/meta.db", dir.str());
    ASSERT_TRUE(store.ok()) << store.status().to_string();
  }
  SqliteDb db = open_db(path);
  EXPECT_EQ(ferry_tables(db),
            (std::vector<std::string>{"ferry_audit", "ferry_config_versions", "ferry_control",
                                      "ferry_jobs", "ferry_runs", "ferry_schema"}));
  const int latest = metastore_migrations().back().version;
  EXPECT_EQ(schema_version(db).value(), latest);
  EXPECT_EQ(schema_rows(db), latest);

  auto again = open_metastore("sqlite:sub/meta.db", dir.str());
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(schema_version(db).value(), latest);
  EXPECT_EQ(schema_rows(db), latest);  // nothing re-applied

  auto indexes = db.prepare(
      "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name "
      "IN ('ferry_runs_job', 'ferry_runs_state', 'ferry_audit_run', "
      "'ferry_audit_job', 'ferry_audit_time')");
  ASSERT_TRUE(indexes.ok());
  ASSERT_TRUE(indexes->step().value());
  EXPECT_EQ(indexes->column_int64(0), 5);
}

TEST(Migrations, AnOldDatabaseIsUpgradedOneMigrationAtATime) {
  testing::TempDir dir;
  SqliteDb db = open_db(dir.path() / "m.db");
  std::vector<Migration> v1 = {{1, {"CREATE TABLE a (x)"}}};
  ASSERT_TRUE(migrate(db, v1).is_ok());
  EXPECT_EQ(schema_version(db).value(), 1);

  std::vector<Migration> v2 = v1;
  v2.push_back({2, {"CREATE TABLE b (y)", "INSERT INTO b VALUES (1)"}});
  ASSERT_TRUE(migrate(db, v2).is_ok());
  EXPECT_EQ(schema_version(db).value(), 2);
  EXPECT_EQ(ferry_tables(db), (std::vector<std::string>{"ferry_schema"}));
  auto b = db.prepare("SELECT count(*) FROM b");
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  ASSERT_TRUE(b->step().value());
  EXPECT_EQ(b->column_int64(0), 1);
  ASSERT_TRUE(migrate(db, v2).is_ok());  // idempotent: INSERT not run twice
  b->reset();
  ASSERT_TRUE(b->step().value());
  EXPECT_EQ(b->column_int64(0), 1);
}

TEST(Migrations, AFailingMigrationIsRolledBackWhole) {
  testing::TempDir dir;
  SqliteDb db = open_db(dir.path() / "m.db");
  std::vector<Migration> migrations = {
      {1, {"CREATE TABLE a (x)"}},
      {2, {"CREATE TABLE b (y)", "INSERT INTO missing VALUES (1)"}},
  };
  Status status = migrate(db, migrations);
  ASSERT_FALSE(status.is_ok());
  EXPECT_NE(status.message().find("migration 2"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("no such table: missing"), std::string::npos);
  EXPECT_EQ(schema_version(db).value(), 1);          // migration 1 stays
  EXPECT_FALSE(db.prepare("SELECT * FROM b").ok());  // b was rolled back with migration 2
  EXPECT_TRUE(db.autocommit());
}

TEST(Migrations, ADatabaseFromANewerFerryIsRefused) {
  testing::TempDir dir;
  ASSERT_TRUE(open_metastore("sqlite:meta.db", dir.str()).ok());
  {
    SqliteDb db = open_db(dir.path() / "meta.db");
    ASSERT_TRUE(
        db.exec("INSERT INTO ferry_schema VALUES (999, '2030-01-01T00:00:00.000Z')").is_ok());
  }
  auto store = open_metastore("sqlite:meta.db", dir.str());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kInvalid);
  EXPECT_NE(store.status().message().find("schema version 999 is newer"), std::string::npos)
      << store.status().message();
}

TEST(Migrations, MisnumberedMigrationsAreAProgrammerError) {
  SqliteDb db = open_db(":memory:");
  Status status = migrate(db, {{1, {"SELECT 1"}}, {3, {"SELECT 1"}}});
  EXPECT_EQ(status.code(), Code::kInternal) << status.to_string();
  EXPECT_EQ(schema_version(db).value(), 0);
}

}  // namespace
}  // namespace ferry::meta
