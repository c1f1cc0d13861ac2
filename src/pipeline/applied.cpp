#include "pipeline/applied.h"

namespace ferry {

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

}  // namespace ferry
