// Support for the integration tests: running the ferry binary. (A _test.cpp file so the
// integration binary's glob picks it up; it holds no tests of its own.)
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "integration/ferry_process.h"
#include "testing.h"

namespace ferry::testing {

ProcessResult run_ferry(const std::string& project_dir, const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env) {
  TempDir io;
  std::string out_path = io.str() + "/out", err_path = io.str() + "/err";
  const char* bin = std::getenv("FERRY_BIN");
  std::string ferry = bin ? bin : (build_dir() / "ferry").string();
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    for (const auto& [k, v] : env)
      setenv(k.c_str(), v.c_str(), 1);
    std::vector<std::string> argv_s = {ferry, "-C", project_dir};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(ferry.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ProcessResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  return r;
}

std::vector<std::vector<std::string>> query(const std::string& project_dir,
                                            const std::string& sql) {
  ProcessResult r = run_ferry(project_dir, {"--json", "query", sql});
  std::vector<std::vector<std::string>> rows;
  if (r.exit_code != 0 || r.out.empty()) return rows;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (!j.is_array()) return rows;
  for (size_t i = 1; i < j.size(); ++i) {
    std::vector<std::string> row;
    for (const auto& c : j[i])
      row.push_back(c.is_null() ? "NULL" : c.get<std::string>());
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string query_value(const std::string& project_dir, const std::string& sql) {
  auto rows = query(project_dir, sql);
  return rows.empty() || rows[0].empty() ? "<no rows>" : rows[0][0];
}

}  // namespace ferry::testing
