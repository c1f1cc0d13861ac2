#include "pg_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include <gtest/gtest.h>
#include <libpq-fe.h>

namespace ferry::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";
constexpr const char* kDirPrefix = "ferry-pg-";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs argv as the postgres user (through runuser: the server refuses root), its output
// appended to `log`. Returns the exit code, or -1 when it could not run or was killed.
int run_as_postgres(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> full = {"runuser", "-u", "postgres", "--"};
  full.insert(full.end(), args.begin(), args.end());
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    std::vector<char*> argv;
    for (auto& a : full)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A loopback port nobody listens on right now (the server may still lose a race for it;
// start() then tries another).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool alive(pid_t pid) {
  return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

// The postmaster's PID from DATA/postmaster.pid, or 0.
pid_t postmaster_pid(const std::string& data_dir) {
  std::ifstream in(fs::path(data_dir) / "postmaster.pid");
  long pid = 0;
  if (!(in >> pid)) return 0;
  return static_cast<pid_t>(pid);
}

// Kills the postmaster of `data_dir` with SIGKILL, by PID, only when that process is still
// a postgres started on that directory (a PID may have been reused since).
void kill_postmaster(pid_t pid, const std::string& data_dir) {
  if (!alive(pid)) return;
  std::string cmdline = slurp(fs::path("/proc") / std::to_string(pid) / "cmdline");
  for (char& c : cmdline)
    if (c == '\0') c = ' ';
  if (cmdline.find("postgres") == std::string::npos || cmdline.find(data_dir) == std::string::npos)
    return;
  kill(pid, SIGKILL);
}

// Clusters left by test binaries that were killed before they could stop them.
void reap_stale_clusters() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(kDirPrefix, 0) != 0) continue;
    std::ifstream owner(entry.path() / "owner");
    long pid = 0;
    if (!(owner >> pid) || alive(static_cast<pid_t>(pid))) continue;
    std::string data_dir = (entry.path() / "data").string();
    kill_postmaster(postmaster_pid(data_dir), data_dir);
    fs::remove_all(entry.path(), ec);
  }
}

std::string last_lines(const std::string& text, size_t n) {
  size_t pos = text.size();
  for (size_t i = 0; i <= n && pos > 0; ++i)
    pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

std::once_flag g_once;
std::unique_ptr<PgServer> g_server;
std::string g_error;

}  // namespace

// Needs access to the private constructor; the unique_ptr deletes through the public
// destructor at exit.
PgServer* PgServer::shared() {
  std::call_once(g_once, [] {
    std::unique_ptr<PgServer> s(new PgServer());  // NOLINT: private constructor
    g_error = s->start();
    if (g_error.empty()) g_server = std::move(s);
  });
  return g_server.get();
}

const std::string& PgServer::shared_error() {
  return g_error;
}

PgServer::~PgServer() {
  stop();
}

std::string PgServer::start() {
  if (!fs::exists(fs::path(kBinDir) / "initdb"))
    return std::string("PostgreSQL 15 is not installed (") + kBinDir +
           "/initdb is missing); run scripts/setup.sh";
  struct passwd* pw = getpwnam("postgres");
  if (pw == nullptr) return "there is no postgres user; run scripts/setup.sh";
  reap_stale_clusters();

  std::string tmpl = std::string("/tmp/") + kDirPrefix + "XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr)
    return std::string("cannot create a directory under /tmp: ") + std::strerror(errno);
  dir_ = tmpl;
  data_dir_ = dir_ + "/data";
  std::ofstream(dir_ + "/owner") << getpid() << "\n";
  std::string sock = dir_ + "/sock";
  std::string log = dir_ + "/log";
  fs::create_directory(data_dir_);
  fs::create_directory(sock);
  std::ofstream(log).flush();  // pg_ctl, as the postgres user, appends to it
  ::chmod(data_dir_.c_str(), 0700);
  for (const std::string& p : {dir_, data_dir_, sock, log})
    if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      return "cannot give " + p + " to the postgres user: " + std::strerror(errno);
  ::chmod(dir_.c_str(), 0755);

  std::string bin = kBinDir;
  if (run_as_postgres({bin + "/initdb", "-D", data_dir_, "-A", "trust", "-U", "postgres", "-E",
                       "UTF8", "--locale=C", "--no-sync"},
                      log) != 0)
    return "initdb failed:\n" + last_lines(slurp(log), 20);
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    std::string opts = "-p " + std::to_string(port_) + " -k " + sock +
                       " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
                       " -c full_page_writes=off -c shared_buffers=32MB";
    if (run_as_postgres(
            {bin + "/pg_ctl", "-D", data_dir_, "-l", log, "-o", opts, "-w", "-t", "60", "start"},
            log) == 0)
      return "";
    // Most likely the port was taken in between; a leftover postmaster is killed first.
    kill_postmaster(postmaster_pid(data_dir_), data_dir_);
  }
  return "pg_ctl start failed:\n" + last_lines(slurp(log), 20);
}

void PgServer::stop() {
  if (dir_.empty()) return;
  pid_t pid = postmaster_pid(data_dir_);
  run_as_postgres(
      {std::string(kBinDir) + "/pg_ctl", "-D", data_dir_, "-m", "immediate", "-w", "stop"},
      dir_ + "/log");
  kill_postmaster(pid, data_dir_);
  std::error_code ec;
  fs::remove_all(dir_, ec);
  dir_.clear();
}

std::string PgServer::url(const std::string& db) const {
  return "postgres://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::string PgServer::create_database(const std::string& prefix) {
  std::string name;
  {
    static std::mutex mu;
    std::lock_guard<std::mutex> lock(mu);
    name = prefix + "_" + std::to_string(++next_db_);
  }
  std::string err = exec(url("postgres"), "CREATE DATABASE \"" + name + "\"");
  if (!err.empty()) {
    ADD_FAILURE() << "creating database " << name << ": " << err;
    return "";
  }
  return url(name);
}

std::string PgServer::exec(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string err;
  if (PQstatus(conn) != CONNECTION_OK) {
    err = PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) err = PQresultErrorMessage(res);
    PQclear(res);
  }
  PQfinish(conn);
  return err;
}

std::string PgServer::query_value(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    out = std::string("error: ") + PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      out = std::string("error: ") + PQresultErrorMessage(res);
    } else if (PQntuples(res) == 0) {
      out = "<no rows>";
    } else {
      out = PQgetisnull(res, 0, 0) ? "NULL" : PQgetvalue(res, 0, 0);
    }
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

}  // namespace ferry::testing
