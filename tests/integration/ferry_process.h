// Runs the ferry binary (FERRY_BIN, set by ctest) as a child process, as a user would.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ferry::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the signal that killed it, or 0
  std::string out, err;
};

// Runs `ferry -C project_dir args...` with extra environment variables; waits for it.
ProcessResult run_ferry(const std::string& project_dir, const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {});

// `ferry query --json SQL` -> the rows (after the header) as text, NULL as "NULL".
std::vector<std::vector<std::string>> query(const std::string& project_dir, const std::string& sql);
// A single value (first column of the first row).
std::string query_value(const std::string& project_dir, const std::string& sql);

}  // namespace ferry::testing
