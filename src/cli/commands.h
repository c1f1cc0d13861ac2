// The subcommands of `ferry`, one function each; cli.cpp wires them to CLI11.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cli/context.h"

namespace ferry::cli {

int cmd_init(const std::string& dir);
int cmd_validate(const Context& ctx);
int cmd_apply(const Context& ctx, const std::string& note);
int cmd_plan(const Context& ctx);
int cmd_versions(const Context& ctx);
int cmd_rollback(const Context& ctx, int64_t version);

struct JobEdit {
  std::string template_name;
  std::vector<std::string> params;  // key=value
  std::string spec_json;            // inline definition (JSON object)
  std::string enabled;              // "" = unchanged, "true", "false"
  std::string priority;             // "" = unchanged
};
int cmd_jobs_list(const Context& ctx);
int cmd_jobs_show(const Context& ctx, const std::string& id);
int cmd_jobs_add(const Context& ctx, const std::string& id, const JobEdit& edit);
int cmd_jobs_set(const Context& ctx, const std::string& id, const JobEdit& edit);
int cmd_jobs_enable(const Context& ctx, const std::string& id, bool enabled);
int cmd_jobs_remove(const Context& ctx, const std::string& id);

struct RunArgs {
  std::vector<std::string> jobs;
  bool all = false;
  int concurrency = 0;  // 0 = project default
  bool no_transforms = false;
  std::string s3_event;  // an S3 event notification file ("-" = stdin): run its keys only
};
int cmd_run(const Context& ctx, const RunArgs& args);
int cmd_runs(const Context& ctx, const std::string& job, int limit);
int cmd_audit(const Context& ctx, const std::string& job, int64_t run, int limit);
int cmd_query(const Context& ctx, const std::string& sql, const std::string& connection);

struct ServeArgs {
  std::string listen;   // "" = the project's api.listen or 127.0.0.1:8765
  int concurrency = 0;  // 0 = the project's
  std::string grace = "30s";
  std::string log_format = "text";  // text | json
  bool worker = false;              // claim and run queued runs only (no scheduler, no API)
  std::string lease = "30s";
};
int cmd_serve(const Context& ctx, const ServeArgs& args);

int cmd_help_source(const std::string& kind);
int cmd_docs();

}  // namespace ferry::cli
