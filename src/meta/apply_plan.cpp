#include "meta/apply_plan.h"

#include "meta/encoding.h"

namespace ferry::meta {

using nlohmann::json;

namespace {

bool same_definition(const JobRow& a, const JobRow& b) {
  return a.template_name == b.template_name && a.params == b.params && a.spec == b.spec &&
         a.enabled == b.enabled && a.priority == b.priority;
}

}  // namespace

Result<ApplyInput> check_apply(const json& project, const std::vector<JobRow>& jobs) {
  ApplyInput input;
  for (const JobRow& job : jobs) {
    FERRY_TRY(check_job(job));
    if (!input.wanted.emplace(job.id, &job).second) {
      return Status::invalid("apply: job '{}' is defined twice", job.id);
    }
  }
  if (project.is_object() && project.contains("control") && !project["control"].is_null()) {
    input.rules = project["control"];
    if (!input.rules.is_array()) return Status::invalid("apply: control must be a list of rules");
    for (const json& rule : input.rules) {
      if (!rule.is_object()) return Status::invalid("apply: each control rule must be a map");
    }
  }
  input.project_text = dump_json(project);
  return input;
}

ApplyPlan plan_apply(std::vector<JobRow> existing_rows, const ApplyInput& input) {
  ApplyPlan plan;
  std::map<std::string, const JobRow*> wanted = input.wanted;
  std::map<std::string, JobRow> existing;
  for (JobRow& row : existing_rows) {
    if (row.origin == "apply") {
      existing.emplace(row.id, std::move(row));
    } else if (wanted.erase(row.id)) {
      plan.kept.push_back(row.id);  // added by hand: left as it is
    }
  }
  for (const auto& [id, row] : existing) {
    if (wanted.count(id)) continue;
    plan.remove.push_back(id);
    plan.removed.push_back(id);
  }
  for (const auto& [id, job] : wanted) {
    auto old = existing.find(id);
    if (old != existing.end() && same_definition(old->second, *job)) continue;
    // A re-applied job keeps the watermark it has reached.
    const bool reached = old != existing.end() && !old->second.watermark.empty();
    plan.write.push_back({job, reached ? old->second.watermark : job->watermark});
    (old != existing.end() ? plan.changed : plan.added).push_back(id);
  }
  return plan;
}

AuditEvent config_applied_event(int64_t version, const std::string& note, ApplyPlan plan) {
  AuditEvent event;
  event.event = "config_applied";
  event.message = fmt::format(
      "applied config version {}{}: {} jobs added, {} removed, {} changed, {} kept as added by "
      "hand",
      version, note.empty() ? "" : " (" + note + ")", plan.added.size(), plan.removed.size(),
      plan.changed.size(), plan.kept.size());
  event.details = {{"version", version},
                   {"jobs_added", std::move(plan.added)},
                   {"jobs_removed", std::move(plan.removed)},
                   {"jobs_changed", std::move(plan.changed)},
                   {"jobs_kept", std::move(plan.kept)}};
  return event;
}

std::string control_rule_event(const json& rule) {
  auto on = rule.find("on");
  return on != rule.end() && on->is_string() ? on->get<std::string>() : "";
}

}  // namespace ferry::meta
