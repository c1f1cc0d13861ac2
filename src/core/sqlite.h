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
// kInternal, a failure of the statement itself (bad SQL, a value that does not fit) ->
// SqliteOptions::statement_error, anything else -> kIo.
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

#include <sqlite3.h>

#include "core/status.h"

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

  // What reset() and run() do with the values bound: clear them (every parameter NULL
  // again), or keep them for the next run, e.g. a value bound once for a whole batch.
  enum class Bindings { kClear, kKeep };

  // Binders copy the value (text included); an out-of-range index is an error. The binders,
  // step() and reset() are inline (below): an insert path calls them once per value.
  Status bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Status bind(int index, int64_t value);
  Status bind(int index, double value);
  Status bind(int index, std::string_view text);
  Status bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Status bind(int index, std::nullptr_t);
  Status bind_null(int index) { return bind(index, nullptr); }
  // Binds text without copying it. REQUIRES: `text` stays valid until the parameter is
  // rebound or cleared, or the statement destroyed (for hot loops that bind from a batch's
  // own buffers; with Bindings::kKeep that is past the reset).
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
  Status run(Bindings bindings = Bindings::kClear);
  // Makes the statement ready to run again. Never fails: an error of the last step was
  // already returned by step().
  void reset(Bindings bindings = Bindings::kClear);

  int column_count() const;
  std::string column_name(int column) const;
  bool column_is_null(int column) const;
  int64_t column_int64(int column) const;  // 0 for NULL
  double column_double(int column) const;  // 0.0 for NULL
  // "" for NULL. The view is valid until the next step, reset or column call on this column.
  std::string_view column_text_view(int column) const;
  std::string column_text(int column) const { return std::string(column_text_view(column)); }

  // True when there is no statement: default-constructed, moved from, or prepared by
  // SqliteDb::prepare_next from text that holds only whitespace and comments.
  bool empty() const { return stmt_ == nullptr; }
  // The SQL as prepared (for messages).
  const std::string& sql() const { return sql_; }
  sqlite3_stmt* handle() const { return stmt_; }

 private:
  friend class SqliteDb;
  SqliteStmt(sqlite3* db, sqlite3_stmt* stmt, std::string sql, Code statement_error)
      : db_(db), stmt_(stmt), sql_(std::move(sql)), statement_error_(statement_error) {}
  Status error(int rc) const;
  Status check(int rc) const { return rc == SQLITE_OK ? Status() : error(rc); }
  Result<bool> step_error(int rc) const;  // out of line, so that step() inlines

  sqlite3* db_ = nullptr;  // borrowed from the SqliteDb
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
  Code statement_error_ = Code::kIo;  // SqliteOptions::statement_error of the connection
};

struct SqliteOptions {
  bool read_only = false;
  bool create = true;  // create the file when missing (ignored when read_only)
  std::chrono::milliseconds busy_timeout{10000};
  bool wal = true;  // journal_mode=WAL (kept as the database's mode once set)
  bool foreign_keys = true;
  // Page size in bytes of a database file this open creates (set before WAL, which fixes it);
  // 0 keeps SQLite's default. An existing file keeps its own.
  int page_size = 0;
  // SQLite's own mutex around every call on the connection (its "serialized" mode). Callers
  // serialise access anyway (see above); false (SQLITE_OPEN_NOMUTEX) saves taking a lock in
  // every bind and step, which shows on a hot insert path.
  bool serialized = true;
  // The code of a failure that the statement itself causes: bad SQL (a syntax error, no such
  // table or column, SQLITE_ERROR) or a value that does not fit (SQLITE_MISMATCH,
  // SQLITE_TOOBIG). kIo suits a database that runs only ferry's own SQL, where it means the
  // file is not what ferry expects; kInvalid one that runs users' SQL and data (the
  // warehouse), where the input is what is wrong.
  Code statement_error = Code::kIo;
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
  // Prepares the first statement of `*script` and removes its text from `*script`: for
  // running a script one statement at a time, rows included. The statement is empty() when
  // the text it took holds only whitespace and comments. REQUIRES: `script` non-null.
  Result<SqliteStmt> prepare_next(std::string_view* script);

  int64_t last_insert_rowid() const;
  // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  int64_t changes() const;
  // True when no transaction is open.
  bool autocommit() const;
  // Frees what memory the connection can (its page cache beyond what is in use).
  void release_memory();

  sqlite3* handle() const { return db_; }

 private:
  SqliteDb(sqlite3* db, std::string path, Code statement_error)
      : db_(db), path_(std::move(path)), statement_error_(statement_error) {}
  void close();

  sqlite3* db_ = nullptr;
  std::string path_;
  Code statement_error_ = Code::kIo;  // SqliteOptions::statement_error
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

// ---- SqliteStmt inline members ----

inline Status SqliteStmt::bind(int index, int64_t value) {
  return check(sqlite3_bind_int64(stmt_, index, value));
}

inline Status SqliteStmt::bind(int index, double value) {
  return check(sqlite3_bind_double(stmt_, index, value));
}

inline Status SqliteStmt::bind(int index, std::string_view text) {
  return check(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

inline Status SqliteStmt::bind(int index, std::nullptr_t) {
  return check(sqlite3_bind_null(stmt_, index));
}

inline Status SqliteStmt::bind_static(int index, std::string_view text) {
  return check(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
}

inline Result<bool> SqliteStmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) return rc == SQLITE_ROW;
  return step_error(rc);
}

inline void SqliteStmt::reset(Bindings bindings) {
  sqlite3_reset(stmt_);
  if (bindings == Bindings::kClear) sqlite3_clear_bindings(stmt_);
}

}  // namespace ferry
