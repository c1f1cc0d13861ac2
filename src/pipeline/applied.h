// The project as it is in force: the current applied config version (connections,
// templates, transforms, control) with the jobs of the config table (ferry_jobs), which may
// differ from the project files (rows added by the CLI, the API or SQL; disabled jobs).
// Shared by the CLI and `ferry serve`.
//
// Thread-safety: re-entrant (the metastore is thread-safe).
#pragma once

#include <string>
#include <vector>

#include "config/project.h"
#include "meta/metastore.h"

namespace ferry {

// The applied project. When nothing was applied yet, `files` is applied first (version 1,
// note "first run").
Result<Project> applied_project(Metastore& meta, const Project& files);

// Config-table rows of a project's jobs, marked with `origin`, and back.
std::vector<JobRow> job_rows_of(const Project& project, const std::string& origin);
JobDefinition definition_of(const JobRow& row);

}  // namespace ferry
