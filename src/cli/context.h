// What every subcommand shares: the project folder, output format, and loading the project
// files, the metastore and the applied project (config table + current version).
#pragma once

#include <memory>
#include <string>

#include "config/project.h"
#include "meta/metastore.h"

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

// The project as the config table has it: the current applied version (connections,
// templates, transforms, control) with the jobs of ferry_jobs. When nothing was applied yet,
// `files` is applied first (version 1, note "first run").
Result<Project> applied_project(Metastore& meta, const Project& files);

std::vector<JobRow> job_rows_of(const Project& project, const std::string& origin);
JobDefinition definition_of(const JobRow& row);

}  // namespace ferry::cli
