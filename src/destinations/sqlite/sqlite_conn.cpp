#include "destinations/sqlite/sqlite_conn.h"

namespace ferry::sqlite_dst {

Result<Connection> Connection::open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Connection conn;
  conn.db_.reset(raw);  // closed on every path, also when open failed
  if (rc != SQLITE_OK)
    return Status::io("cannot open sqlite database {}: {}", path,
                      raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
  sqlite3_extended_result_codes(raw, 1);
  return conn;
}

Status Connection::error(int rc, std::string_view what) const {
  std::string message =
      fmt::format("{}: {}", what, db_ ? sqlite3_errmsg(db_.get()) : "no database");
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status(Code::kRetry, std::move(message));
    case SQLITE_ERROR:
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
      return Status(Code::kInvalid, std::move(message));
    default:
      return Status(Code::kIo, std::move(message));
  }
}

Status Connection::exec(std::string_view sql, std::string_view what) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::ok();
  std::string label(what);
  if (label.empty()) label = text.size() > 80 ? text.substr(0, 80) + "..." : text;
  Status st = error(rc, label);
  if (err) {
    // sqlite3_exec's message is the precise one (the connection's may be reset by then).
    st = Status(st.code(), fmt::format("{}: {}", label, err));
    sqlite3_free(err);
  }
  return st;
}

Result<Stmt> Connection::prepare(std::string_view sql) const {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) {
    std::string label(sql.substr(0, 80));
    if (sql.size() > 80) label += "...";
    return error(rc, fmt::format("preparing {}", label));
  }
  return stmt;
}

Status Connection::run(sqlite3_stmt* stmt, std::string_view what) const {
  int rc = sqlite3_step(stmt);
  Status st = rc == SQLITE_DONE || rc == SQLITE_ROW ? Status::ok() : error(rc, what);
  sqlite3_reset(stmt);
  return st;
}

}  // namespace ferry::sqlite_dst
