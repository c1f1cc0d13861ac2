// A throwaway PostgreSQL server for the tests that need a real one.
//
// PgServer::shared() starts, on first use, one PostgreSQL 15 cluster per test binary
// (Debian's postgresql package, /usr/lib/postgresql/15/bin): initdb in a fresh directory
// under /tmp owned by the postgres user (initdb refuses to run as root, so every server
// command runs through `runuser -u postgres`), started with pg_ctl on a free loopback port
// and a private socket directory, trust authentication, fsync off (the tests kill ferry, not
// the server). It never touches a system cluster.
//
// The server is stopped when the test binary exits: `pg_ctl stop -m immediate`, then the
// postmaster is killed by the PID in its postmaster.pid (checked against its command line,
// never by name) and the directory removed. A test binary killed before it could stop its
// server leaves a directory with an `owner` file; the next PgServer to start stops and removes
// every such cluster whose owner process is gone.
//
// Thread-safety: shared() is safe to call from any thread; create_database() and exec() open
// their own connections.
#pragma once

#include <memory>
#include <string>

namespace ferry::testing {

class PgServer {
 public:
  // The server of this test binary, started on first call. nullptr when it could not be
  // started; shared_error() then says why (to fail the calling test with).
  static PgServer* shared();
  static const std::string& shared_error();

  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return port_; }
  // postgres://postgres@127.0.0.1:PORT/DB
  std::string url(const std::string& db) const;
  // Creates a new, empty database named `prefix` plus a number unique in this server; returns
  // its URL, or "" after adding a test failure.
  std::string create_database(const std::string& prefix);
  // Runs `sql` (one or more statements) in the database of `url`; "" or the error message.
  static std::string exec(const std::string& url, const std::string& sql);
  // The first column of the first row of `sql`, "NULL" for null, "<no rows>" when empty, or
  // "error: ..." when the query fails.
  static std::string query_value(const std::string& url, const std::string& sql);

 private:
  PgServer() = default;
  // Creates and starts the cluster; "" or why it failed.
  std::string start();
  void stop();

  std::string dir_;       // the cluster's directory: data/, sock/, log, owner
  std::string data_dir_;  // dir_/data
  int port_ = 0;
  int next_db_ = 0;
};

}  // namespace ferry::testing
