// What every subcommand shares: the project folder, output format, and loading the project
// files, the metastore and the applied project (config table + current version).
#pragma once

#include <memory>
#include <string>

#include "config/project.h"
#include "meta/metastore.h"
#include "pipeline/applied.h"

namespace ferry::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitJobFailed = 1;
inline constexpr int kExitUsage = 2;

struct Context {
  std::string project_dir = ".";
  bool json = false;
};

// Prints "ferry: <message>" (redacted) to stderr and returns the exit code for `status`.
int fail(const Status& status);

// ferry.yml and jobs/*.yml, validated.
Result<Project> load_files(const Context& ctx);
Result<std::unique_ptr<Metastore>> open_meta(const Project& files);

}  // namespace ferry::cli
