// A minimal RAII layer over the SQLite C API for the sqlite destination (private to
// src/destinations/sqlite/): an owned connection, owned prepared statements, and SQLite
// result codes turned into ferry Status values. (Its own namespace, sqlite_dst, so it never
// clashes with the metastore's wrapper when both are linked into one binary.)
//
// Thread-safety: a Connection and its statements are used by one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "core/status.h"

namespace ferry::sqlite_dst {

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
// An owned prepared statement; finalized on destruction.
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

class Connection {
 public:
  // Opens (creating when missing) the database file. Fails with kIo.
  static Result<Connection> open(const std::string& path);

  Connection() = default;
  Connection(Connection&&) = default;
  Connection& operator=(Connection&&) = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* get() const { return db_.get(); }

  // Runs one or more statements without results. On failure the message includes
  // SQLite's, prefixed by `what` (or the SQL's start when `what` is empty).
  Status exec(std::string_view sql, std::string_view what = {});
  // Prepares one statement.
  Result<Stmt> prepare(std::string_view sql) const;
  // Steps a statement that returns no rows, then resets it.
  Status run(sqlite3_stmt* stmt, std::string_view what) const;
  // The Status for a failed SQLite call: BUSY/LOCKED -> kRetry; SQL and constraint errors
  // -> kInvalid; everything else -> kIo. The message is "<what>: <sqlite message>".
  Status error(int rc, std::string_view what) const;

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Closer> db_;
};

// Binds text that outlives the statement's next step (no copy).
inline int bind_static(sqlite3_stmt* stmt, int index, std::string_view text) {
  return sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}
// Binds text that SQLite copies.
inline int bind_copy(sqlite3_stmt* stmt, int index, std::string_view text) {
  return sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()),
                           SQLITE_TRANSIENT);
}
// The text of a result column ("" for null).
inline std::string_view column_text(sqlite3_stmt* stmt, int index) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, index));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt, index)))
           : std::string_view();
}

}  // namespace ferry::sqlite_dst
