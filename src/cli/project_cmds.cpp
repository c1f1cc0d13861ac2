// init, validate, apply, plan, versions, rollback, help, docs.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "cli/table.h"
#include "config/schema.h"
#include "pipeline/executor.h"
#include "pipeline/registry.h"

namespace ferry::cli {
namespace {

// Jobs added, removed and changed between the config table's apply-origin rows and `files`.
struct JobDiff {
  std::vector<std::string> added, removed, changed, kept_by_hand;
};

nlohmann::json comparable(const JobRow& r) {
  return {{"template", r.template_name},
          {"params", r.params},
          {"spec", r.spec},
          {"enabled", r.enabled},
          {"priority", r.priority}};
}

JobDiff diff_jobs(const std::vector<JobRow>& table, const std::vector<JobRow>& files) {
  JobDiff d;
  std::map<std::string, const JobRow*> have;
  for (const auto& r : table)
    have[r.id] = &r;
  std::set<std::string> in_files;
  for (const auto& f : files) {
    in_files.insert(f.id);
    auto it = have.find(f.id);
    if (it == have.end()) {
      d.added.push_back(f.id);
    } else if (it->second->origin != "apply") {
      d.kept_by_hand.push_back(f.id);
    } else if (comparable(*it->second) != comparable(f)) {
      d.changed.push_back(f.id);
    }
  }
  for (const auto& r : table) {
    if (in_files.count(r.id)) continue;
    if (r.origin == "apply")
      d.removed.push_back(r.id);
    else
      d.kept_by_hand.push_back(r.id);
  }
  return d;
}

void print_list(const char* label, const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  std::printf("  %s:", label);
  for (const auto& id : ids)
    std::printf(" %s", id.c_str());
  std::printf("\n");
}

}  // namespace

int cmd_init(const std::string& dir) {
  if (std::filesystem::exists(std::filesystem::path(dir) / "ferry.yml"))
    return fail(Status::invalid("{}/ferry.yml already exists", dir));
  if (Status st = write_starter_project(dir); !st.is_ok()) return fail(st);
  std::printf("created a ferry project in %s\nnext: cd %s && ferry run --all\n", dir.c_str(),
              dir.c_str());
  return kExitOk;
}

int cmd_validate(const Context& ctx) {
  auto files = load_files(ctx);
  if (!files.ok()) return fail(files.status());
  std::printf("ok: %zu connections, %zu jobs, %zu transforms\n", files->connections.size(),
              files->jobs.size(), files->transforms.size());
  return kExitOk;
}

int cmd_apply(const Context& ctx, const std::string& note) {
  auto files = load_files(ctx);
  if (!files.ok()) return fail(files.status());
  auto meta = open_meta(files.value());
  if (!meta.ok()) return fail(meta.status());
  auto before = (*meta)->list_jobs();
  if (!before.ok()) return fail(before.status());
  auto rows = job_rows_of(files.value(), "apply");
  JobDiff diff = diff_jobs(before.value(), rows);
  auto current = (*meta)->current_version();
  if (!current.ok()) return fail(current.status());
  if (current.value() && current.value()->project == files->to_json() && diff.added.empty() &&
      diff.removed.empty() && diff.changed.empty()) {
    std::printf("no changes: the config table is at version %lld\n",
                static_cast<long long>(current.value()->version));
    return kExitOk;
  }
  auto version = (*meta)->apply_version(files->to_json(), rows, note);
  if (!version.ok()) return fail(version.status());
  std::printf("applied version %lld: %zu added, %zu removed, %zu changed\n",
              static_cast<long long>(version.value()), diff.added.size(), diff.removed.size(),
              diff.changed.size());
  print_list("added", diff.added);
  print_list("removed", diff.removed);
  print_list("changed", diff.changed);
  print_list("kept (added by hand)", diff.kept_by_hand);
  return kExitOk;
}

int cmd_plan(const Context& ctx) {
  auto files = load_files(ctx);
  if (!files.ok()) return fail(files.status());
  auto meta = open_meta(files.value());
  if (!meta.ok()) return fail(meta.status());
  auto table = (*meta)->list_jobs();
  if (!table.ok()) return fail(table.status());
  auto current = (*meta)->current_version();
  if (!current.ok()) return fail(current.status());
  JobDiff diff = diff_jobs(table.value(), job_rows_of(files.value(), "apply"));
  std::printf("config (ferry apply):\n");
  if (!current.value()) std::printf("  nothing applied yet: apply creates version 1\n");
  bool any = !diff.added.empty() || !diff.removed.empty() || !diff.changed.empty();
  if (current.value()) {
    nlohmann::json now = files->to_json(), then = current.value()->project;
    for (const char* key : {"connections", "templates", "transforms", "control"}) {
      if (now.value(key, nlohmann::json()) != then.value(key, nlohmann::json())) {
        std::printf("  %s changed\n", key);
        any = true;
      }
    }
  }
  print_list("jobs added", diff.added);
  print_list("jobs removed", diff.removed);
  print_list("jobs changed", diff.changed);
  print_list("jobs kept (added by hand)", diff.kept_by_hand);
  if (!any && current.value()) std::printf("  no changes\n");

  std::printf("warehouse (next run):\n");
  for (const JobDefinition& job : files->jobs) {
    if (!job.enabled) continue;
    auto spec = resolve_job(files.value(), job, "", default_env());
    if (!spec.ok()) {
      std::printf("  %s: cannot resolve: %s\n", job.id.c_str(), spec.status().message().c_str());
      continue;
    }
    const DestinationDescriptor* dd =
        registry().destination(spec->target_connection_options.value("type", ""));
    if (!dd) continue;
    auto dst = dd->create(spec->target_connection_options, files->dir);
    if (!dst.ok()) {
      std::printf("  %s: %s\n", job.id.c_str(), dst.status().message().c_str());
      continue;
    }
    auto tables = (*dst)->tables();
    bool exists = false;
    if (tables.ok())
      for (const auto& t : tables.value())
        exists = exists || t.name == spec->table;
    std::string what = exists ? "load into existing table " + spec->table
                              : "CREATE TABLE " + spec->table + " (columns from the first rows)";
    std::string reads;
    const SourceDescriptor* sd = registry().source(spec->source_kind);
    auto state = (*dst)->read_state(job.id);
    if (sd && state.ok()) {
      auto src = sd->create();
      SourceContext sctx{job.id, files->dir, spec->connection, spec->source, state.value(), ""};
      if (src->open(sctx).is_ok()) {
        auto streams = src->discover();
        if (streams.ok()) {
          size_t fresh = 0;
          const auto& seen = state.value().value("files", nlohmann::json::object());
          for (const auto& s : streams.value())
            fresh += seen.contains(s.name) ? 0 : 1;
          reads = fmt::format("; {} of {} files new", fresh, streams->size());
        }
      }
    }
    std::printf("  %s: %s (%s)%s\n", job.id.c_str(), what.c_str(),
                spec->mode == WriteMode::kAppend  ? "append"
                : spec->mode == WriteMode::kMerge ? "merge"
                                                  : "replace",
                reads.c_str());
  }
  auto order = ordered_transforms(files.value());
  if (!order.ok()) return fail(order.status());
  if (!order->empty()) {
    std::printf("transforms, in order:");
    for (const auto& t : order.value())
      std::printf(" %s", t.c_str());
    std::printf("\n");
  }
  return kExitOk;
}

int cmd_versions(const Context& ctx) {
  auto files = load_files(ctx);
  if (!files.ok()) return fail(files.status());
  auto meta = open_meta(files.value());
  if (!meta.ok()) return fail(meta.status());
  auto versions = (*meta)->list_versions();
  if (!versions.ok()) return fail(versions.status());
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : versions.value())
      out.push_back({{"version", v.version},
                     {"applied_at", v.applied_at},
                     {"hash", v.hash},
                     {"note", v.note}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  TextTable t({"version", "applied_at", "hash", "note"});
  for (const auto& v : versions.value())
    t.add({std::to_string(v.version), v.applied_at, v.hash, v.note});
  std::fputs(t.render().c_str(), stdout);
  return kExitOk;
}

int cmd_rollback(const Context& ctx, int64_t version) {
  auto files = load_files(ctx);
  if (!files.ok()) return fail(files.status());
  auto meta = open_meta(files.value());
  if (!meta.ok()) return fail(meta.status());
  auto v = (*meta)->get_version(version);
  if (!v.ok()) return fail(v.status());
  if (!v.value()) return fail(Status::not_found("no config version {}", version));
  auto project = Project::from_json(v.value()->project, files->dir);
  if (!project.ok()) return fail(project.status());
  auto applied = (*meta)->apply_version(v.value()->project, job_rows_of(project.value(), "apply"),
                                        fmt::format("rollback to {}", version));
  if (!applied.ok()) return fail(applied.status());
  std::printf("config table is back at version %lld's content, as version %lld\n",
              static_cast<long long>(version), static_cast<long long>(applied.value()));
  return kExitOk;
}

int cmd_help_source(const std::string& kind) {
  const auto& catalog = registry().catalog;
  auto it = catalog.find(kind);
  if (it == catalog.end()) {
    std::vector<std::string> kinds;
    for (const auto& [k, d] : catalog)
      kinds.push_back(k);
    std::string hint = did_you_mean(kind, kinds);
    if (!kind.empty())
      std::fprintf(stderr, "ferry: unknown kind '%s'%s\n", kind.c_str(),
                   hint.empty() ? "" : (" (did you mean '" + hint + "'?)").c_str());
    std::printf("usage: ferry help source <kind>\nkinds:\n");
    for (const auto& [k, d] : catalog)
      std::printf("  %-8s %s\n", k.c_str(), d.description.c_str());
    return kind.empty() ? kExitOk : kExitUsage;
  }
  std::fputs(render_help(it->second).c_str(), stdout);
  std::printf(
      "\nEvery job also takes ferry's own keys (target: table, mode, primary_key, "
      "connection; incremental, schema, nesting, ...): see docs/config.md.\n");
  return kExitOk;
}

int cmd_docs() {
  std::vector<PluginDecl> decls;
  for (const auto& [k, d] : registry().catalog)
    decls.push_back(d);
  std::fputs(
      "<!-- Generated by `ferry docs` from the option declarations; do not edit. -->\n"
      "# ferry project files: the reference\n\n"
      "A project is a folder with `ferry.yml` (and optionally `jobs/*.yml` and SQL files). "
      "Secrets come from the environment as `${NAME}`; `{{param}}` and `{{watermark}}` "
      "are filled in per job. See the README for a minimal project.\n\n",
      stdout);
  std::fputs(render_project_reference().c_str(), stdout);
  std::fputs("\n", stdout);
  std::fputs(render_markdown(decls).c_str(), stdout);
  return kExitOk;
}

}  // namespace ferry::cli
