// SqliteDb, SqliteStmt, SqliteTransaction: a small RAII layer over the SQLite C API, shared by
// the metastore (meta/) and the embedded warehouse (destinations/sqlite).
//
// Ownership: SqliteDb owns one connection, SqliteStmt one prepared statement, SqliteTransaction
// one open transaction; each is movable and non-copyable, and releases its resource in the
// destructor (a transaction that was not committed is rolled back). A statement may outlive
// its SqliteDb object: the connection is closed with sqlite3_close_v2, which waits for the
// last statement to be finalized.
//
// Failures are returned as ferry::Status, never thrown. The message names the database file,
// sqlite3_errmsg and the first 100 characters of the SQL. Codes: SQLITE_BUSY / SQLITE_LOCKED
// (the busy timeout expired) -> kRetry, a constraint violation -> kInvalid, API misuse ->
// kInternal, anything else -> kIo.
//
// Thread-safety: none of these objects may be used from two threads at once; callers
// serialise access to a connection and to its statements (the metastore holds a mutex per
// connection). Several connections, in one process or several, may share one file: WAL mode
// lets readers run beside one writer, and the busy timeout makes a writer wait for another
// instead of failing. Write transactions should BEGIN IMMEDIATE (SqliteTransaction's
// default), so that waiting happens at BEGIN, where the busy timeout applies.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ferry {

// A prepared statement. Parameter indexes start at 1, column indexes at 0.
class SqliteStmt {
 public:
  SqliteStmt() = default;
  ~SqliteStmt();
  SqliteStmt(SqliteStmt&& other) noexcept;
  SqliteStmt& operator=(SqliteStmt&& other) noexcept;
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;

  // Binders copy the value (text included); an out-of-range index is an error.
  Status bind(int index, int value);
  Status bind(int index, int64_t value);
  Status bind(int index, double value);
  Status bind(int index, std::string_view text);
  Status bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Status bind(int index, std::nullptr_t);
  Status bind_null(int index) { return bind(index, nullptr); }
  // Binds text without copying it. REQUIRES: `text` stays valid until the statement is
  // reset, rebound or destroyed (for hot loops that bind from a batch's own buffers).
  Status bind_static(int index, std::string_view text);
  // Binds `args` to parameters 1, 2, ... in order; stops at the first failure.
  template <typename... Args>
  Status bind_all(const Args&... args) {
    int index = 0;
    Status status;
    (void)(((status = bind(++index, args)).is_ok()) && ...);
    return status;
  }

  // The index of a named parameter (":name", "@name", "$name"), 0 when the SQL has none.
  int parameter_index(const char* name) const;

  // Runs the statement one step: true when a row is available through the column getters,
  // false when it is done. After false or an error, reset() before stepping again.
  Result<bool> step();
  // Steps until done, discarding any rows (for INSERT/UPDATE/DELETE), then resets.
  Status run();
  // Makes the statement ready to run again and clears every binding. Never fails: an error
  // of the last step was already returned by step().
  void reset();

  int column_count() const;
  std::string column_name(int column) const;
  bool column_is_null(int column) const;
  int64_t column_int64(int column) const;  // 0 for NULL
  double column_double(int column) const;  // 0.0 for NULL
  // "" for NULL. The view is valid until the next step, reset or column call on this column.
  std::string_view column_text_view(int column) const;
  std::string column_text(int column) const { return std::string(column_text_view(column)); }

  // The SQL as prepared (for messages).
  const std::string& sql() const { return sql_; }
  sqlite3_stmt* handle() const { return stmt_; }

 private:
  friend class SqliteDb;
  SqliteStmt(sqlite3* db, sqlite3_stmt* stmt, std::string sql)
      : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  Status error(int rc) const;

  sqlite3* db_ = nullptr;  // borrowed from the SqliteDb
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

struct SqliteOptions {
  bool read_only = false;
  bool create = true;  // create the file when missing (ignored when read_only)
  std::chrono::milliseconds busy_timeout{10000};
  bool wal = true;  // journal_mode=WAL (kept as the database's mode once set)
  bool foreign_keys = true;
};

// One connection to a database file.
class SqliteDb {
 public:
  SqliteDb() = default;
  ~SqliteDb();
  SqliteDb(SqliteDb&& other) noexcept;
  SqliteDb& operator=(SqliteDb&& other) noexcept;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Opens `path` (":memory:" for a private in-memory database). The parent directory must
  // exist. Fails with kIo when the file cannot be opened or is not a database.
  static Result<SqliteDb> open(const std::string& path, const SqliteOptions& options = {});

  bool is_open() const { return db_ != nullptr; }
  const std::string& path() const { return path_; }

  // Runs one or more ';'-separated statements that bind nothing and whose rows are ignored.
  Status exec(std::string_view sql);
  // Prepares exactly one statement; trailing text other than whitespace is an error (use
  // exec() for scripts).
  Result<SqliteStmt> prepare(std::string_view sql);

  int64_t last_insert_rowid() const;
  // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  int64_t changes() const;
  // True when no transaction is open.
  bool autocommit() const;

  sqlite3* handle() const { return db_; }

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  void close();

  sqlite3* db_ = nullptr;
  std::string path_;
};

// A transaction, rolled back on destruction unless commit() succeeded.
class SqliteTransaction {
 public:
  enum class Mode { kDeferred, kImmediate, kExclusive };

  // REQUIRES: `db` outlives the transaction and has no transaction open.
  static Result<SqliteTransaction> begin(SqliteDb& db, Mode mode = Mode::kImmediate);

  SqliteTransaction() = default;
  ~SqliteTransaction();
  SqliteTransaction(SqliteTransaction&& other) noexcept;
  SqliteTransaction& operator=(SqliteTransaction&& other) noexcept;
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;

  // On failure the transaction is rolled back (now or by the destructor).
  Status commit();
  Status rollback();

 private:
  explicit SqliteTransaction(SqliteDb* db) : db_(db) {}

  SqliteDb* db_ = nullptr;  // null once finished
};

// The first `max_chars` characters of `sql` on one line (runs of whitespace become one space;
// never cut inside a UTF-8 sequence), with "..." when cut: how messages name a statement.
std::string sql_excerpt(std::string_view sql, size_t max_chars = 100);

}  // namespace ferry
