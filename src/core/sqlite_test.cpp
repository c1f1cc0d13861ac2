// Tests of core/sqlite.h.
#include "core/sqlite.h"

#include <gtest/gtest.h>

#include "testing.h"

namespace ferry {
namespace {

SqliteDb open_or_die(const std::string& path, const SqliteOptions& options = {}) {
  auto db = SqliteDb::open(path, options);
  EXPECT_TRUE(db.ok()) << db.status().to_string();
  return std::move(db).value();
}

int64_t count(SqliteDb& db, const std::string& table) {
  auto stmt = db.prepare("SELECT count(*) FROM " + table);
  EXPECT_TRUE(stmt.ok()) << stmt.status().to_string();
  auto row = stmt->step();
  EXPECT_TRUE(row.ok() && row.value());
  return stmt->column_int64(0);
}

TEST(SqliteDb, OpensInWalModeWithBindAndColumnRoundTrip) {
  testing::TempDir dir;
  SqliteDb db = open_or_die((dir.path() / "a.db").string());
  auto mode = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(mode->step().value());
  EXPECT_EQ(mode->column_text(0), "wal");

  ASSERT_TRUE(db.exec("CREATE TABLE t (i INTEGER, d REAL, s TEXT, n TEXT)").is_ok());
  auto insert = db.prepare("INSERT INTO t VALUES (?, ?, ?, ?)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(
      insert->bind_all(int64_t{1} << 40, 2.5, std::string("h\xC3\xA9llo"), nullptr).is_ok());
  ASSERT_TRUE(insert->run().is_ok());
  EXPECT_EQ(db.changes(), 1);
  EXPECT_EQ(db.last_insert_rowid(), 1);
  // After run() the statement is reset with cleared bindings: it inserts all NULLs now.
  ASSERT_TRUE(insert->run().is_ok());

  auto select = db.prepare("SELECT i, d, s, n FROM t ORDER BY rowid");
  ASSERT_TRUE(select.ok());
  EXPECT_EQ(select->column_count(), 4);
  EXPECT_EQ(select->column_name(2), "s");
  ASSERT_TRUE(select->step().value());
  EXPECT_EQ(select->column_int64(0), int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(select->column_double(1), 2.5);
  EXPECT_EQ(select->column_text(2), "h\xC3\xA9llo");
  EXPECT_TRUE(select->column_is_null(3));
  EXPECT_EQ(select->column_text(3), "");
  ASSERT_TRUE(select->step().value());
  EXPECT_TRUE(select->column_is_null(0));
  EXPECT_FALSE(select->step().value());
  select->reset();
  EXPECT_TRUE(select->step().value());  // runs again after reset
}

TEST(SqliteDb, ErrorsNameTheSqlAndSqliteMessage) {
  SqliteDb db = open_or_die(":memory:");
  auto bad = db.prepare("SELECT * FROM no_such_table WHERE x = 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kIo);
  EXPECT_NE(bad.status().message().find("no such table: no_such_table"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("SELECT * FROM no_such_table WHERE x = 1"),
            std::string::npos);

  Status exec = db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO nope VALUES (1)");
  ASSERT_FALSE(exec.is_ok());
  EXPECT_NE(exec.message().find("no such table: nope"), std::string::npos) << exec.message();

  auto two = db.prepare("SELECT 1; SELECT 2");
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("more than one statement"), std::string::npos);
  EXPECT_TRUE(db.prepare("SELECT 1;  \n").ok());

  auto insert = db.prepare("INSERT INTO t (id) VALUES (?)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->bind(1, 7).is_ok());
  ASSERT_TRUE(insert->run().is_ok());
  ASSERT_TRUE(insert->bind(1, 7).is_ok());
  Status dup = insert->run();
  EXPECT_EQ(dup.code(), Code::kInvalid) << dup.to_string();
  EXPECT_NE(dup.message().find("UNIQUE constraint failed: t.id"), std::string::npos);

  Status range = insert->bind(2, 1);
  EXPECT_EQ(range.code(), Code::kInternal) << range.to_string();
}

TEST(SqliteStmt, KeptBindingsOutliveResetAndRun) {
  SqliteDb db = open_or_die(":memory:");
  ASSERT_TRUE(db.exec("CREATE TABLE t (batch TEXT, n INTEGER)").is_ok());
  auto insert = db.prepare("INSERT INTO t VALUES (?1, ?2)");
  ASSERT_TRUE(insert.ok());
  const std::string batch = "b1";
  ASSERT_TRUE(insert->bind_static(1, batch).is_ok());  // once, for every row
  for (int n = 1; n <= 2; ++n) {
    ASSERT_TRUE(insert->bind(2, n).is_ok());
    ASSERT_TRUE(insert->step().ok());
    insert->reset(SqliteStmt::Bindings::kKeep);
  }
  ASSERT_TRUE(insert->bind(2, 3).is_ok());
  ASSERT_TRUE(insert->run(SqliteStmt::Bindings::kKeep).is_ok());
  ASSERT_TRUE(insert->run().is_ok());  // still kept; this run clears them
  ASSERT_TRUE(insert->run().is_ok());  // all NULL

  auto select = db.prepare("SELECT batch, n FROM t ORDER BY rowid");
  ASSERT_TRUE(select.ok());
  std::vector<std::string> rows;
  while (select->step().value())
    rows.push_back(select->column_text(0) + "/" + select->column_text(1));
  EXPECT_EQ(rows, (std::vector<std::string>{"b1/1", "b1/2", "b1/3", "b1/3", "/"}));
}

TEST(SqliteDb, PrepareNextRunsAScriptOneStatementAtATime) {
  SqliteDb db = open_or_die(":memory:");
  std::string_view script =
      "CREATE TABLE t (x);  INSERT INTO t VALUES (1), (2);\n-- done\nSELECT x FROM t ORDER BY x; ";
  std::vector<std::string> seen;
  int64_t sum = 0;
  while (!script.empty()) {
    auto stmt = db.prepare_next(&script);
    ASSERT_TRUE(stmt.ok()) << stmt.status().to_string();
    if (stmt->empty()) continue;  // the comment and the trailing blank
    seen.push_back(sql_excerpt(stmt->sql()));
    while (stmt->step().value())
      sum += stmt->column_int64(0);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"CREATE TABLE t (x);", "INSERT INTO t VALUES (1), (2);",
                                            "-- done SELECT x FROM t ORDER BY x;"}));
  EXPECT_EQ(sum, 3);

  std::string_view bad = "SELECT 1; SELEC 2; SELECT 3";
  ASSERT_TRUE(db.prepare_next(&bad).ok());
  auto error = db.prepare_next(&bad);
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), Code::kIo);
  EXPECT_NE(error.status().message().find("SELEC 2"), std::string::npos)
      << error.status().message();
}

TEST(SqliteDb, StatementErrorsTakeTheCodeOfTheOptions) {
  // A database that runs users' SQL reports bad SQL and misfit values as invalid input.
  SqliteDb db = open_or_die(":memory:", {.statement_error = Code::kInvalid});
  EXPECT_EQ(db.exec("INSERT INTO nope VALUES (1)").code(), Code::kInvalid);
  auto bad = db.prepare("SELECT nope FROM sqlite_schema");
  EXPECT_EQ(bad.status().code(), Code::kInvalid);
  ASSERT_TRUE(db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)").is_ok());
  auto insert = db.prepare("INSERT INTO t VALUES (?)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->bind(1, "not a rowid").is_ok());
  Status mismatch = insert->run();
  EXPECT_EQ(mismatch.code(), Code::kInvalid) << mismatch.to_string();
  EXPECT_NE(mismatch.message().find("datatype mismatch"), std::string::npos);
  // Still kInternal: a parameter that does not exist is a bug.
  EXPECT_EQ(insert->bind(2, 1).code(), Code::kInternal);
}

TEST(SqliteDb, PageSizeAppliesToANewFileOnly) {
  testing::TempDir dir;
  std::string path = (dir.path() / "p.db").string();
  auto page_size = [](SqliteDb& db) {
    auto stmt = db.prepare("PRAGMA page_size");
    EXPECT_TRUE(stmt.ok() && stmt->step().value());
    return stmt->column_int64(0);
  };
  {
    SqliteDb db = open_or_die(path, {.page_size = 32768, .serialized = false});
    ASSERT_TRUE(db.exec("CREATE TABLE t (x)").is_ok());
    EXPECT_EQ(page_size(db), 32768);
    db.release_memory();
  }
  SqliteDb again = open_or_die(path, {.page_size = 8192});
  EXPECT_EQ(page_size(again), 32768);
  auto mode = again.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok() && mode->step().value());
  EXPECT_EQ(mode->column_text(0), "wal");
}

TEST(SqliteDb, LongSqlIsCutToOneLineOfAHundredCharacters) {
  std::string sql = "SELECT\n  1,\t2 FROM " + std::string(200, 'x');
  std::string excerpt = sql_excerpt(sql);
  EXPECT_EQ(excerpt.substr(0, 20), "SELECT 1, 2 FROM xxx");
  EXPECT_EQ(excerpt.size(), 103u);
  EXPECT_EQ(excerpt.substr(100), "...");
  // A cut never splits a UTF-8 sequence: 5 characters of 2 bytes each, cut at 3.
  EXPECT_EQ(sql_excerpt("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 3),
            "\xC3\xA9\xC3\xA9\xC3\xA9...");
  EXPECT_EQ(sql_excerpt("short"), "short");
}

TEST(SqliteDb, OpeningAFileThatIsNotADatabaseFails) {
  testing::TempDir dir;
  auto path = dir.write("junk.db", std::string(4096, 'j'));
  auto db = SqliteDb::open(path.string());
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("not a database"), std::string::npos)
      << db.status().message();
  auto missing = SqliteDb::open((dir.path() / "missing.db").string(), {.create = false});
  EXPECT_FALSE(missing.ok());
}

TEST(SqliteTransaction, RollsBackUnlessCommitted) {
  SqliteDb db = open_or_die(":memory:");
  ASSERT_TRUE(db.exec("CREATE TABLE t (x)").is_ok());
  {
    auto txn = SqliteTransaction::begin(db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db.exec("INSERT INTO t VALUES (1)").is_ok());
    EXPECT_FALSE(db.autocommit());
  }  // destroyed without commit
  EXPECT_TRUE(db.autocommit());
  EXPECT_EQ(count(db, "t"), 0);
  {
    auto txn = SqliteTransaction::begin(db);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db.exec("INSERT INTO t VALUES (1)").is_ok());
    SqliteTransaction moved = std::move(txn).value();  // ownership moves, no early rollback
    ASSERT_TRUE(moved.commit().is_ok());
    EXPECT_FALSE(moved.commit().is_ok());  // already finished
  }
  EXPECT_EQ(count(db, "t"), 1);
}

TEST(SqliteDb, MovedConnectionAndStatementsKeepWorking) {
  SqliteDb first = open_or_die(":memory:");
  ASSERT_TRUE(first.exec("CREATE TABLE t (x); INSERT INTO t VALUES (42)").is_ok());
  auto stmt = first.prepare("SELECT x FROM t");
  ASSERT_TRUE(stmt.ok());
  SqliteDb second = std::move(first);
  EXPECT_FALSE(first.is_open());  // NOLINT: testing the moved-from state
  SqliteStmt moved = std::move(stmt).value();
  ASSERT_TRUE(moved.step().value());
  EXPECT_EQ(moved.column_int64(0), 42);
  EXPECT_EQ(count(second, "t"), 1);
}

TEST(SqliteDb, WriterBlockedPastTheBusyTimeoutGetsRetry) {
  testing::TempDir dir;
  std::string path = (dir.path() / "busy.db").string();
  SqliteDb a = open_or_die(path);
  SqliteDb b = open_or_die(path, {.busy_timeout = std::chrono::milliseconds(50)});
  ASSERT_TRUE(a.exec("CREATE TABLE t (x)").is_ok());
  auto held = SqliteTransaction::begin(a);
  ASSERT_TRUE(held.ok());
  auto blocked = SqliteTransaction::begin(b);
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.status().code(), Code::kRetry) << blocked.status().to_string();
  // WAL: a reader is not blocked by the writer.
  EXPECT_EQ(count(b, "t"), 0);
  ASSERT_TRUE(held->commit().is_ok());
  auto now_free = SqliteTransaction::begin(b);
  EXPECT_TRUE(now_free.ok()) << now_free.status().to_string();
}

}  // namespace
}  // namespace ferry
