#include "core/sqlite.h"

#include <chrono>
#include <thread>

#include <sqlite3.h>

#include <mutex>
#include <utility>

namespace ferry {
namespace {

Code code_for(int rc, Code statement_error) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Code::kRetry;
    case SQLITE_CONSTRAINT:
      return Code::kInvalid;
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
      return Code::kInternal;
    case SQLITE_ERROR:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
      return statement_error;
    default:
      return Code::kIo;
  }
}

// Every failure message has one shape: "FILE: ERRMSG (in `SQL`)".
Status make_error(int rc, Code statement_error, std::string_view file, std::string_view errmsg,
                  std::string_view sql) {
  std::string message = fmt::format("{}: {}", file.empty() ? "sqlite" : file, errmsg);
  if (!sql.empty()) message += fmt::format(" (in `{}`)", sql_excerpt(sql));
  return Status(code_for(rc, statement_error), std::move(message));
}

std::string_view file_of(sqlite3* db) {
  const char* name = db ? sqlite3_db_filename(db, "main") : nullptr;
  return name && *name ? std::string_view(name) : std::string_view(":memory:");
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

}  // namespace

std::string sql_excerpt(std::string_view sql, size_t max_chars) {
  std::string out;
  size_t chars = 0;
  bool pending_space = false;
  size_t i = 0;
  while (i < sql.size() && is_space(sql[i]))
    ++i;
  for (; i < sql.size(); ++i) {
    char c = sql[i];
    if (is_space(c)) {
      pending_space = true;
      continue;
    }
    bool starts_char = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (starts_char) {
      if (chars + (pending_space ? 1 : 0) >= max_chars) {
        out += "...";
        return out;
      }
      if (pending_space) {
        out += ' ';
        ++chars;
        pending_space = false;
      }
      ++chars;
    }
    out += c;
  }
  return out;
}

// ---- SqliteStmt ----

SqliteStmt::~SqliteStmt() {
  sqlite3_finalize(stmt_);
}

SqliteStmt::SqliteStmt(SqliteStmt&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      sql_(std::move(other.sql_)),
      statement_error_(other.statement_error_) {}

SqliteStmt& SqliteStmt::operator=(SqliteStmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    sql_ = std::move(other.sql_);
    statement_error_ = other.statement_error_;
  }
  return *this;
}

Status SqliteStmt::error(int rc) const {
  return make_error(rc, statement_error_, file_of(db_),
                    db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc), sql_);
}

Result<bool> SqliteStmt::step_error(int rc) const {
  return error(rc);
}

Status SqliteStmt::run(Bindings bindings) {
  for (;;) {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) continue;
    Status status = rc == SQLITE_DONE ? Status::success() : error(rc);
    reset(bindings);
    return status;
  }
}

int SqliteStmt::parameter_index(const char* name) const {
  return sqlite3_bind_parameter_index(stmt_, name);
}

int SqliteStmt::column_count() const {
  return sqlite3_column_count(stmt_);
}

std::string SqliteStmt::column_name(int column) const {
  const char* name = sqlite3_column_name(stmt_, column);
  return name ? name : "";
}

bool SqliteStmt::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t SqliteStmt::column_int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double SqliteStmt::column_double(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string_view SqliteStmt::column_text_view(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (!text) return {};
  return std::string_view(reinterpret_cast<const char*>(text),
                          static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

// ---- SqliteDb ----

SqliteDb::~SqliteDb() {
  close();
}

SqliteDb::SqliteDb(SqliteDb&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      statement_error_(other.statement_error_) {}

SqliteDb& SqliteDb::operator=(SqliteDb&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    statement_error_ = other.statement_error_;
  }
  return *this;
}

void SqliteDb::close() {
  // close_v2: statements still alive keep the connection until they are finalized.
  if (db_) sqlite3_close_v2(std::exchange(db_, nullptr));
}

Result<SqliteDb> SqliteDb::open(const std::string& path, const SqliteOptions& options) {
  // Once per process, before SQLite initialises: no memory statistics, so allocations take no
  // global lock (ferry never reads sqlite3_memory_used).
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  int flags = options.read_only
                  ? SQLITE_OPEN_READONLY
                  : (SQLITE_OPEN_READWRITE | (options.create ? SQLITE_OPEN_CREATE : 0));
  if (!options.serialized) flags |= SQLITE_OPEN_NOMUTEX;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqliteDb db(raw, path, options.statement_error);  // owns the handle even when open failed
  if (rc != SQLITE_OK) {
    return make_error(rc, options.statement_error, path,
                      raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc), "");
  }
  sqlite3_extended_result_codes(raw, 1);
  // The busy timeout first: switching to WAL takes a lock another process may hold.
  sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));
  // Before anything creates the file's first page.
  if (options.page_size > 0 && !options.read_only)
    FERRY_TRY(db.exec(fmt::format("PRAGMA page_size = {}", options.page_size)));
  // Reading the schema surfaces "file is not a database" here rather than at first use.
  FERRY_TRY(db.exec("SELECT count(*) FROM sqlite_schema"));
  if (options.foreign_keys) FERRY_TRY(db.exec("PRAGMA foreign_keys = ON"));
  if (options.wal && !options.read_only) {
    // Two connections creating the same new file at once: the switch to WAL can report
    // "database is locked" without waiting for the busy timeout (SQLite does not retry a
    // lock taken while the journal mode changes). A short bounded retry covers that race.
    Status st;
    for (int attempt = 0; attempt < 50; ++attempt) {
      st = db.exec("PRAGMA journal_mode = WAL");
      if (st.is_ok() || (sqlite3_errcode(raw) & 0xff) != SQLITE_BUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FERRY_TRY(st);
  }
  return db;
}

Status SqliteDb::exec(std::string_view sql) {
  std::string text(sql);  // sqlite3_exec needs a terminated string
  char* errmsg = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &errmsg);
  if (rc == SQLITE_OK) return Status::success();
  Status status =
      make_error(rc, statement_error_, file_of(db_), errmsg ? errmsg : sqlite3_errmsg(db_), text);
  sqlite3_free(errmsg);
  return status;
}

Result<SqliteStmt> SqliteDb::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &raw, &tail);
  SqliteStmt stmt(db_, raw, std::string(sql), statement_error_);
  if (rc != SQLITE_OK) return stmt.error(rc);
  if (raw == nullptr) {
    return Status::internal("{}: no statement in `{}`", file_of(db_), sql_excerpt(sql));
  }
  std::string_view rest(tail, static_cast<size_t>(sql.data() + sql.size() - tail));
  for (char c : rest) {
    if (!is_space(c)) {
      return Status::internal("{}: more than one statement in `{}` (use exec)", file_of(db_),
                              sql_excerpt(sql));
    }
  }
  return stmt;
}

Result<SqliteStmt> SqliteDb::prepare_next(std::string_view* script) {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc =
      sqlite3_prepare_v3(db_, script->data(), static_cast<int>(script->size()), 0, &raw, &tail);
  if (rc != SQLITE_OK)
    return SqliteStmt(db_, raw, std::string(*script), statement_error_).error(rc);
  std::string_view sql = script->substr(0, static_cast<size_t>(tail - script->data()));
  script->remove_prefix(sql.size());
  return SqliteStmt(db_, raw, std::string(sql), statement_error_);
}

int64_t SqliteDb::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

int64_t SqliteDb::changes() const {
  return sqlite3_changes64(db_);
}

bool SqliteDb::autocommit() const {
  return sqlite3_get_autocommit(db_) != 0;
}

void SqliteDb::release_memory() {
  sqlite3_db_release_memory(db_);
}

// ---- SqliteTransaction ----

Result<SqliteTransaction> SqliteTransaction::begin(SqliteDb& db, Mode mode) {
  const char* sql = mode == Mode::kImmediate   ? "BEGIN IMMEDIATE"
                    : mode == Mode::kExclusive ? "BEGIN EXCLUSIVE"
                                               : "BEGIN DEFERRED";
  FERRY_TRY(db.exec(sql));
  return SqliteTransaction(&db);
}

SqliteTransaction::~SqliteTransaction() {
  (void)rollback();
}

SqliteTransaction::SqliteTransaction(SqliteTransaction&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)) {}

SqliteTransaction& SqliteTransaction::operator=(SqliteTransaction&& other) noexcept {
  if (this != &other) {
    (void)rollback();
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

Status SqliteTransaction::commit() {
  if (!db_) return Status::internal("commit of a finished transaction");
  Status status = db_->exec("COMMIT");
  if (status.is_ok()) {
    db_ = nullptr;
    return status;
  }
  (void)rollback();
  return status;
}

Status SqliteTransaction::rollback() {
  SqliteDb* db = std::exchange(db_, nullptr);
  // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL).
  if (!db || db->autocommit()) return Status::success();
  return db->exec("ROLLBACK");
}

}  // namespace ferry
