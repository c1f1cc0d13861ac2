// ferry jobs list|show|add|set|enable|disable|remove: the config table by hand.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/table.h"
#include "pipeline/registry.h"

namespace ferry::cli {
namespace {

nlohmann::json row_json(const JobRow& r) {
  return {{"id", r.id},
          {"template", r.template_name},
          {"params", r.params},
          {"spec", r.spec},
          {"enabled", r.enabled},
          {"watermark", r.watermark},
          {"priority", r.priority},
          {"origin", r.origin},
          {"updated_at", r.updated_at}};
}

// key=value; the value is JSON when it parses as a number or bool, text otherwise.
Result<std::pair<std::string, nlohmann::json>> parse_param(const std::string& kv) {
  size_t eq = kv.find('=');
  if (eq == std::string::npos || eq == 0)
    return Status::invalid("--param '{}': expected key=value", kv);
  std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
  auto parsed = nlohmann::json::parse(value, nullptr, false);
  if (!parsed.is_discarded() && (parsed.is_number() || parsed.is_boolean()))
    return std::make_pair(key, parsed);
  return std::make_pair(key, nlohmann::json(value));
}

Status apply_edit(JobRow& row, const JobEdit& edit) {
  if (!edit.template_name.empty()) row.template_name = edit.template_name;
  for (const std::string& kv : edit.params) {
    FERRY_ASSIGN(auto p, parse_param(kv));
    row.params[p.first] = p.second;
  }
  if (!edit.spec_json.empty()) {
    auto spec = nlohmann::json::parse(edit.spec_json, nullptr, false);
    if (spec.is_discarded() || !spec.is_object())
      return Status::invalid("--spec must be a JSON object");
    row.spec = spec;
  }
  if (!edit.enabled.empty()) row.enabled = edit.enabled == "true";
  if (!edit.priority.empty()) {
    try {
      row.priority = std::stoi(edit.priority);
    } catch (...) {
      return Status::invalid("--priority must be an integer, got '{}'", edit.priority);
    }
  }
  return Status::success();
}

// Opens the metastore and the applied project (applying the files if nothing was yet).
struct Open {
  std::unique_ptr<Metastore> meta;
  Project project;
};

Result<Open> open_all(const Context& ctx) {
  FERRY_ASSIGN(Project files, load_files(ctx));
  FERRY_ASSIGN(auto meta, open_meta(files));
  FERRY_ASSIGN(Project project, applied_project(*meta, files));
  return Open{std::move(meta), std::move(project)};
}

// Validates the project as it would be with `row` in the config table.
Status validate_with(const Project& project, const JobRow& row) {
  Project p = project;
  bool replaced = false;
  for (auto& j : p.jobs) {
    if (j.id == row.id) {
      j = definition_of(row);
      replaced = true;
    }
  }
  if (!replaced) p.jobs.push_back(definition_of(row));
  return validate_project(p, registry().catalog);
}

void audit_job(Metastore& meta, const std::string& event, const JobRow& row,
               const std::string& message) {
  (void)audit(meta, 0, row.id, "info", event, message, row_json(row));
}

}  // namespace

int cmd_jobs_list(const Context& ctx) {
  auto open = open_all(ctx);
  if (!open.ok()) return fail(open.status());
  auto rows = open->meta->list_jobs();
  if (!rows.ok()) return fail(rows.status());
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows.value())
      out.push_back(row_json(r));
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  TextTable t({"id", "template", "params", "enabled", "priority", "watermark", "origin"});
  for (const auto& r : rows.value())
    t.add({r.id, r.template_name.empty() ? "(inline)" : r.template_name,
           r.params.empty() ? "" : r.params.dump(), r.enabled ? "yes" : "no",
           std::to_string(r.priority), r.watermark, r.origin});
  std::fputs(t.render().c_str(), stdout);
  return kExitOk;
}

int cmd_jobs_show(const Context& ctx, const std::string& id) {
  auto open = open_all(ctx);
  if (!open.ok()) return fail(open.status());
  auto row = open->meta->get_job(id);
  if (!row.ok()) return fail(row.status());
  if (!row.value()) return fail(Status::not_found("no job '{}' in the config table", id));
  nlohmann::json out = row_json(*row.value());
  // Resolved without secrets: ${NAME} stays as written.
  EnvLookup keep = [](const std::string& name) -> std::optional<std::string> {
    return "${" + name + "}";
  };
  auto spec = resolve_job(open->project, definition_of(*row.value()), row.value()->watermark, keep);
  if (spec.ok()) {
    out["resolved"] = {{"source_connection", spec->source_connection},
                       {"source_kind", spec->source_kind},
                       {"source", spec->source},
                       {"target_connection", spec->target_connection},
                       {"table", spec->table},
                       {"primary_key", spec->primary_key},
                       {"schedule", spec->schedule},
                       {"every", spec->every},
                       {"max_rejects", spec->max_rejects}};
  } else {
    out["resolve_error"] = spec.status().message();
  }
  std::cout << out.dump(2) << "\n";
  return kExitOk;
}

int cmd_jobs_add(const Context& ctx, const std::string& id, const JobEdit& edit) {
  auto open = open_all(ctx);
  if (!open.ok()) return fail(open.status());
  auto existing = open->meta->get_job(id);
  if (!existing.ok()) return fail(existing.status());
  if (existing.value()) return fail(Status::invalid("job '{}' already exists (use jobs set)", id));
  JobRow row;
  row.id = id;
  row.origin = "cli";
  if (Status st = apply_edit(row, edit); !st.is_ok()) return fail(st);
  if (row.template_name.empty() && row.spec.empty())
    return fail(Status::invalid("jobs add {}: give --template (with --param) or --spec", id));
  if (Status st = validate_with(open->project, row); !st.is_ok()) return fail(st);
  if (Status st = open->meta->put_job(row); !st.is_ok()) return fail(st);
  audit_job(*open->meta, "job_added", row, "job added from the CLI");
  std::printf("added job %s%s\n", id.c_str(), row.enabled ? "" : " (disabled)");
  return kExitOk;
}

int cmd_jobs_set(const Context& ctx, const std::string& id, const JobEdit& edit) {
  auto open = open_all(ctx);
  if (!open.ok()) return fail(open.status());
  auto existing = open->meta->get_job(id);
  if (!existing.ok()) return fail(existing.status());
  if (!existing.value()) return fail(Status::not_found("no job '{}' in the config table", id));
  JobRow row = *existing.value();
  if (Status st = apply_edit(row, edit); !st.is_ok()) return fail(st);
  if (Status st = validate_with(open->project, row); !st.is_ok()) return fail(st);
  if (Status st = open->meta->put_job(row); !st.is_ok()) return fail(st);
  audit_job(*open->meta, "job_changed", row, "job changed from the CLI");
  std::printf("updated job %s\n", id.c_str());
  return kExitOk;
}

int cmd_jobs_enable(const Context& ctx, const std::string& id, bool enabled) {
  auto open = open_all(ctx);
  if (!open.ok()) return fail(open.status());
  auto existing = open->meta->get_job(id);
  if (!existing.ok()) return fail(existing.status());
  if (!existing.value()) return fail(Status::not_found("no job '{}' in the config table", id));
  if (Status st = open->meta->set_enabled(id, enabled); !st.is_ok()) return fail(st);
  audit_job(*open->meta, enabled ? "job_enabled" : "job_disabled", *existing.value(),
            enabled ? "job enabled" : "job disabled");
  std::printf("%s job %s\n", enabled ? "enabled" : "disabled", id.c_str());
  return kExitOk;
}

int cmd_jobs_remove(const Context& ctx, const std::string& id) {
  auto open = open_all(ctx);
  if (!open.ok()) return fail(open.status());
  auto existing = open->meta->get_job(id);
  if (!existing.ok()) return fail(existing.status());
  if (!existing.value()) return fail(Status::not_found("no job '{}' in the config table", id));
  if (Status st = open->meta->delete_job(id); !st.is_ok()) return fail(st);
  audit_job(*open->meta, "job_removed", *existing.value(), "job removed from the CLI");
  std::printf("removed job %s\n", id.c_str());
  return kExitOk;
}

}  // namespace ferry::cli
