#include "cli/context.h"

#include <cstdio>

#include "core/redact.h"
#include "pipeline/registry.h"

namespace ferry::cli {

int fail(const Status& status) {
  std::fprintf(stderr, "ferry: %s\n", redact(status.message()).c_str());
  return status.code() == Code::kInvalid || status.code() == Code::kNotFound ? kExitUsage
                                                                             : kExitJobFailed;
}

Result<Project> load_files(const Context& ctx) {
  return load_project(ctx.project_dir, registry().catalog);
}

Result<std::unique_ptr<Metastore>> open_meta(const Project& files) {
  return open_metastore(files.metastore, files.dir);
}

std::vector<JobRow> job_rows_of(const Project& project, const std::string& origin) {
  std::vector<JobRow> rows;
  for (const JobDefinition& d : project.jobs) {
    JobRow r;
    r.id = d.id;
    r.template_name = d.template_name;
    r.params = d.params;
    r.spec = d.spec;
    r.enabled = d.enabled;
    r.priority = d.priority;
    r.origin = origin;
    rows.push_back(std::move(r));
  }
  return rows;
}

JobDefinition definition_of(const JobRow& row) {
  JobDefinition d;
  d.id = row.id;
  d.template_name = row.template_name;
  d.params = row.params;
  d.spec = row.spec;
  d.enabled = row.enabled;
  d.priority = row.priority;
  return d;
}

Result<Project> applied_project(Metastore& meta, const Project& files) {
  FERRY_ASSIGN(auto version, meta.current_version());
  if (!version) {
    FERRY_ASSIGN(int64_t v,
                 meta.apply_version(files.to_json(), job_rows_of(files, "apply"), "first run"));
    (void)v;
    FERRY_ASSIGN(version, meta.current_version());
    if (!version) return Status::internal("no config version after apply");
  }
  FERRY_ASSIGN(Project project, Project::from_json(version->project, files.dir));
  FERRY_ASSIGN(auto rows, meta.list_jobs());
  project.jobs.clear();
  for (const JobRow& r : rows)
    project.jobs.push_back(definition_of(r));
  return project;
}

}  // namespace ferry::cli
