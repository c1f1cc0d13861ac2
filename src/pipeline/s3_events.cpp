#include "pipeline/s3_events.h"

#include <algorithm>

#include "sources/s3/s3_source.h"

namespace ferry {
namespace {

std::string text_at(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<std::vector<S3EventRun>> jobs_for_s3_event(const Project& project,
                                                  const std::vector<s3::S3EventObject>& events,
                                                  const std::vector<std::string>& only) {
  std::vector<const JobDefinition*> candidates;
  if (only.empty()) {
    for (const JobDefinition& j : project.jobs)
      if (j.enabled) candidates.push_back(&j);
  } else {
    for (const std::string& id : only) {
      auto it = std::find_if(project.jobs.begin(), project.jobs.end(),
                             [&](const JobDefinition& j) { return j.id == id; });
      if (it == project.jobs.end()) return Status::not_found("no job '{}' in the config table", id);
      candidates.push_back(&*it);
    }
  }
  // Matching needs the bucket, prefix and pattern only: an unset variable elsewhere in the
  // job must not hide it (see the header).
  EnvLookup env = [process = default_env()](const std::string& name) {
    return std::optional<std::string>(process(name).value_or(""));
  };
  std::vector<S3EventRun> runs;
  for (const JobDefinition* job : candidates) {
    auto spec = resolve_job(project, *job, /*watermark=*/"", env);
    if (!spec.ok()) {
      if (only.empty()) continue;  // it cannot run at all; `ferry run` reports why
      return spec.status();
    }
    if (spec->source_kind != "s3") {
      if (only.empty()) continue;
      return Status::invalid(
          "job {} reads from a {} connection, not s3: an S3 event names objects "
          "for s3 jobs only",
          job->id, spec->source_kind);
    }
    std::vector<std::string> keys =
        s3::s3_event_keys(events, text_at(spec->connection, "bucket"),
                          text_at(spec->source, "prefix"), text_at(spec->source, "pattern"));
    if (keys.empty()) continue;
    S3EventRun run{*job, keys};
    nlohmann::json& source = run.job.spec["source"];
    if (!source.is_object()) source = nlohmann::json::object();
    source["keys"] = keys;
    runs.push_back(std::move(run));
  }
  return runs;
}

Result<std::vector<S3EventRun>> jobs_for_s3_event(const Project& project, std::string_view event,
                                                  const std::vector<std::string>& only) {
  FERRY_ASSIGN(std::vector<s3::S3EventObject> events, s3::parse_s3_event(event));
  return jobs_for_s3_event(project, events, only);
}

}  // namespace ferry
