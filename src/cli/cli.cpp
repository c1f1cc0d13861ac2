#include "cli/cli.h"

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace ferry::cli {

int main(int argc, char** argv) {
  CLI::App app{"ferry: config-driven ELT. Jobs are rows of a config table; see docs/cli.md."};
  app.require_subcommand(1);
  app.fallthrough();  // global options (-C, --json) may follow the subcommand
  app.set_version_flag("--version", "ferry 0.1.0");
  Context ctx;
  app.add_option("-C,--project", ctx.project_dir, "Project folder (default: current folder)");
  app.add_flag("--json", ctx.json, "JSON output (list and show commands)");
  int code = kExitOk;

  std::string init_dir = ".";
  auto* init = app.add_subcommand("init", "Create a new project (ferry.yml, a sample job)");
  init->add_option("dir", init_dir, "Folder to create it in");
  init->callback([&] { code = cmd_init(init_dir); });

  app.add_subcommand("validate", "Check the project files")->callback([&] {
    code = cmd_validate(ctx);
  });

  std::string note = "apply";
  auto* apply = app.add_subcommand("apply", "Project files -> config table, as a new version");
  apply->add_option("--note", note, "Note stored with the version");
  apply->callback([&] { code = cmd_apply(ctx, note); });

  app.add_subcommand("plan", "What apply and the next run would change")->callback([&] {
    code = cmd_plan(ctx);
  });
  app.add_subcommand("versions", "Applied config versions")->callback([&] {
    code = cmd_versions(ctx);
  });

  int64_t version = 0;
  auto* rollback = app.add_subcommand("rollback", "Return the config table to a version");
  rollback->add_option("version", version, "Version number (see ferry versions)")->required();
  rollback->callback([&] { code = cmd_rollback(ctx, version); });

  auto* jobs = app.add_subcommand("jobs", "The config table: list, show, add, set, enable, ...");
  jobs->require_subcommand(1);
  jobs->add_subcommand("list", "List jobs")->callback([&] { code = cmd_jobs_list(ctx); });
  std::string job_id;
  JobEdit edit;
  auto* show = jobs->add_subcommand("show", "Show one job, resolved");
  show->add_option("id", job_id)->required();
  show->callback([&] { code = cmd_jobs_show(ctx, job_id); });
  auto add_edit_options = [&](CLI::App* c) {
    c->add_option("id", job_id, "Job id")->required();
    c->add_option("--template,-t", edit.template_name, "Template to fill");
    c->add_option("--param,-p", edit.params, "Template parameter key=value (repeatable)");
    c->add_option("--spec", edit.spec_json, "Inline job definition as JSON");
    c->add_option("--priority", edit.priority, "Higher runs first");
  };
  auto* add = jobs->add_subcommand("add", "Add a job (a new config row)");
  add_edit_options(add);
  add->add_flag_callback(
      "--disabled", [&] { edit.enabled = "false"; }, "Add it disabled");
  add->callback([&] { code = cmd_jobs_add(ctx, job_id, edit); });
  auto* set = jobs->add_subcommand("set", "Change a job's template, params, spec or priority");
  add_edit_options(set);
  set->callback([&] { code = cmd_jobs_set(ctx, job_id, edit); });
  auto* enable = jobs->add_subcommand("enable", "Enable a job");
  enable->add_option("id", job_id)->required();
  enable->callback([&] { code = cmd_jobs_enable(ctx, job_id, true); });
  auto* disable = jobs->add_subcommand("disable", "Disable a job");
  disable->add_option("id", job_id)->required();
  disable->callback([&] { code = cmd_jobs_enable(ctx, job_id, false); });
  auto* remove = jobs->add_subcommand("remove", "Remove a job from the config table");
  remove->add_option("id", job_id)->required();
  remove->callback([&] { code = cmd_jobs_remove(ctx, job_id); });

  RunArgs run_args;
  auto* run = app.add_subcommand("run", "Run jobs now (then the transforms that follow them)");
  run->add_option("jobs", run_args.jobs, "Job ids");
  run->add_flag("--all", run_args.all, "Every enabled job");
  run->add_option("--concurrency,-n", run_args.concurrency, "Jobs at once (default: project)");
  run->add_flag("--no-transforms", run_args.no_transforms, "Skip transforms");
  run->add_option("--s3-event", run_args.s3_event,
                  "S3 event notification JSON file (- = stdin): load exactly the objects it names, "
                  "with the named jobs or every s3 job whose bucket/prefix/pattern they match");
  run->callback([&] { code = cmd_run(ctx, run_args); });

  ServeArgs serve_args;
  auto* serve = app.add_subcommand(
      "serve", "Run the scheduler, the executor and the HTTP API until SIGTERM/SIGINT");
  serve->add_option("--listen", serve_args.listen, "HOST:PORT of the API (port 0: any free)");
  serve->add_option("--concurrency,-n", serve_args.concurrency, "Runs at once (default: project)");
  serve->add_option("--grace", serve_args.grace,
                    "On SIGTERM, how long running jobs may finish before they are cancelled");
  serve->add_option("--log-format", serve_args.log_format, "text, or json (one object per line)");
  serve->add_flag("--worker", serve_args.worker,
                  "Only run queued runs claimed from the shared metastore: no scheduler, no API "
                  "(start it on more machines beside one `ferry serve`)");
  serve->add_option("--lease", serve_args.lease,
                    "How long a run stays this process's without a renewal; a run of a worker "
                    "that died is queued again after it (default 30s)");
  serve->callback([&] { code = cmd_serve(ctx, serve_args); });

  std::string filter_job;
  int limit = 50;
  int64_t filter_run = 0;
  auto* runs = app.add_subcommand("runs", "The job execution table, newest first");
  runs->add_option("--job", filter_job);
  runs->add_option("--limit", limit);
  runs->callback([&] { code = cmd_runs(ctx, filter_job, limit); });
  auto* audit = app.add_subcommand("audit", "The audit table, newest first");
  audit->add_option("--job", filter_job);
  audit->add_option("--run", filter_run);
  audit->add_option("--limit", limit);
  audit->callback([&] { code = cmd_audit(ctx, filter_job, filter_run, limit); });

  std::string sql, connection;
  auto* query = app.add_subcommand("query", "Run a SQL query in the warehouse and print rows");
  query->add_option("sql", sql)->required();
  query->add_option("--connection", connection, "Warehouse connection (default: project's)");
  query->callback([&] { code = cmd_query(ctx, sql, connection); });

  std::string what, kind;
  auto* help = app.add_subcommand("help", "Options of a connection kind: ferry help source file");
  help->add_option("what", what, "source | destination | connection");
  help->add_option("kind", kind, "file, sqlite, ...");
  help->callback([&] { code = cmd_help_source(kind.empty() ? what : kind); });
  app.add_subcommand("docs", "Print the options reference (docs/config.md)")->callback([&] {
    code = cmd_docs();
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  return code;
}

}  // namespace ferry::cli
