// PgConn, PgResult: a small RAII layer over libpq, shared by the postgres source
// (sources/postgres) and warehouse (destinations/postgres).
//
// Connecting: a `postgres://` URL or a libpq conninfo string ("host=... dbname=..."), plus
// an optional password given apart (from ${ENV}), sslmode and a connect timeout. Every
// connection sets application_name "ferry", TimeZone UTC, DateStyle ISO and
// extra_float_digits 3, so values read as text are canonical (UTC timestamps, exact floats).
//
// Failures are ferry::Status values, never exceptions. Messages name the database, host and
// port ("postgres db@127.0.0.1:5432") and libpq's primary message, with the password (and
// any `password=...` or `user:password@` text a message may echo) replaced by ***; every
// password is also registered with core/redact.h. Codes: connection failures, a connection
// lost mid-statement, serialization failures, deadlocks, an administrator's termination
// (pg_terminate_backend) and too-many-connections -> kRetry; authentication failures and
// errors of the statement (syntax, types, constraints) -> kInvalid; a missing table or
// column -> kNotFound; anything else -> kIo.
//
// Ownership and thread-safety: PgConn owns one connection and PgResult one result; both are
// movable, not copyable, and release their resource in the destructor. A connection is used
// by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/plugin.h"
#include "core/status.h"

struct pg_conn;
struct pg_result;

namespace ferry {

struct PgConnectOptions {
  std::string url;       // postgres://user[:password]@host:port/db?opts or conninfo
  std::string password;  // overrides the URL's; "" = none given apart
  std::string sslmode;   // "" = libpq's default (prefer)
  int connect_timeout_s = 10;
};

// The options of a `postgres` connection (url, password, sslmode, connect_timeout), shared
// by the source and the warehouse.
std::vector<OptionDecl> pg_connection_options();
// Reads them from a resolved connection object; kInvalid when url is missing or a value has
// the wrong type.
Result<PgConnectOptions> pg_connect_options(const nlohmann::json& connection);

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* res) : res_(res) {}
  int rows() const;
  int columns() const;
  bool is_null(int row, int col) const;
  std::string_view value(int row, int col) const;  // "" for null
  std::string column_name(int col) const;
  uint32_t column_type(int col) const;  // the type's OID
  pg_result* raw() const { return res_.get(); }

 private:
  struct Deleter {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Deleter> res_;
};

class PgConn {
 public:
  // Connects; fails with kInvalid for a malformed URL or bad credentials, kRetry when the
  // server cannot be reached.
  static Result<PgConn> connect(const PgConnectOptions& options);

  PgConn() = default;
  PgConn(PgConn&&) noexcept = default;
  PgConn& operator=(PgConn&&) noexcept = default;
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // "postgres db@host:port": how messages name this connection.
  const std::string& name() const { return name_; }
  bool connected() const;
  // A transaction is open (possibly failed) on the connection.
  bool in_transaction() const;

  // Runs one or more statements that return no rows (or whose rows are ignored).
  Status exec(const std::string& sql);
  // Runs one statement (or several: the last one's rows) and returns its rows.
  Result<PgResult> query(const std::string& sql);
  // Runs one statement with text parameters ($1, $2, ...; nullopt = NULL).
  Result<PgResult> query(const std::string& sql,
                         const std::vector<std::optional<std::string>>& params);

  // COPY ... FROM STDIN: begin, put any number of chunks, then end (which reports the
  // server's verdict). A failure while copying leaves the connection usable once copy_end()
  // or copy_abort() returns.
  Status copy_in_begin(const std::string& sql);
  Status copy_put(std::string_view data);
  Status copy_in_end();
  void copy_abort(const std::string& reason);

  // COPY ... TO STDOUT: begin, then copy_get() returns one row (text format: a line with its
  // '\n') valid until the next call, or nullopt at the end (whose status is checked).
  Status copy_out_begin(const std::string& sql);
  Result<std::optional<std::string_view>> copy_get();

  // The error of the last failed call, redacted and prefixed with name(); for callers that
  // build their own Status.
  Status error_status(const std::string& what, pg_result* res = nullptr) const;

 private:
  struct Deleter {
    void operator()(pg_conn* c) const;
  };
  std::unique_ptr<pg_conn, Deleter> conn_;
  std::string name_;
  std::string password_;  // for redaction of messages libpq may echo it in
  struct CopyBuffer {
    void operator()(char* p) const;
  };
  std::unique_ptr<char, CopyBuffer> copy_row_;
};

// Runs `body` between BEGIN and COMMIT on `conn` (which has no transaction open); when body
// or the commit fails, rolls back and returns that failure.
Status pg_in_transaction(PgConn& conn, const std::function<Status()>& body);
// Every row of `sql` as text (null as nullopt), the first row holding the column names: what
// Destination::query returns.
Result<std::vector<std::vector<std::optional<std::string>>>> pg_text_rows(PgConn& conn,
                                                                          const std::string& sql);

// Text format of COPY: appends `value` with backslash, newline, carriage return and tab
// escaped (\\, \n, \r, \t).
void pg_copy_escape(std::string_view value, std::string& out);
// The inverse: `field` (one field of a COPY text row, not \N) unescaped into out.
void pg_copy_unescape(std::string_view field, std::string& out);

}  // namespace ferry
