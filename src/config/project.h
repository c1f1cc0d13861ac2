// A ferry project: the folder with ferry.yml, jobs/*.yml and the transforms' SQL, loaded into
// plain values and checked against the plugins' option declarations; and the resolution of
// one of its jobs into the JobSpec a run works from. The public header of src/config.
//
// The format is documented in docs/config.md (generated from config/schema.h and the plugin
// declarations). Secrets stay as written (`${NAME}`) in a Project and in to_json(): they are
// resolved only when a job runs (resolve_job below), so a Project can be stored in the
// metastore, shown and diffed without exposing them.
//
// Every problem is reported at once, one per line, each naming where it is:
//   ferry.yml:12:7: jobs[2].target: unknown key 'mdoe' (did you mean 'mode'?)
// (validate_project, which has no files to point into, names jobs and transforms by id:
//   jobs[orders_store_3].target: unknown key 'mdoe' (did you mean 'mode'?)).
//
// Thread-safety: plain values; functions are re-entrant.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/plugin.h"
#include "core/status.h"
#include "destinations/destination.h"

namespace ferry {

// SQL run in a warehouse after its inputs (jobs or other transforms) have loaded.
struct TransformDef {
  std::string id;
  std::string sql_path;  // as written, relative to the project folder
  std::string sql;       // the file's content (read by load_project)
  std::vector<std::string> after;
  std::string connection;  // where it runs; from_json fills in the warehouse when not given

  bool operator==(const TransformDef&) const = default;
};

// One job as configured: a template and its params, and/or inline fields. The same shape as
// a row of the config table (meta/metastore.h JobRow).
struct JobDefinition {
  std::string id;
  std::string template_name;                         // "" for an inline job
  nlohmann::json params = nlohmann::json::object();  // the template's {{params}}
  nlohmann::json spec = nlohmann::json::object();    // the job's own fields (source, target,
                                                     // schedule, ...): override the template's
  bool enabled = true;
  int priority = 0;  // 0 = the template's priority, if it has one

  bool operator==(const JobDefinition&) const = default;
};

struct Project {
  std::string dir;  // the project folder; relative paths are relative to it
  std::string name;
  std::string metastore = "sqlite:.ferry/meta.db";
  std::string warehouse;  // default destination connection
  int concurrency = 4;
  std::string timezone = "UTC";
  nlohmann::json api = nlohmann::json::object();
  nlohmann::json connections = nlohmann::json::object();  // name -> {type, options...}
  nlohmann::json templates = nlohmann::json::object();    // name -> job fields
  nlohmann::json control = nlohmann::json::array();       // rules, as in `control:`
  std::vector<JobDefinition> jobs;
  std::vector<TransformDef> transforms;

  // The project in the file format (one document: jobs of all files together). Transforms
  // carry their SQL text as `sql_text` so that a stored version does not need the files.
  nlohmann::json to_json() const;
  // The inverse of to_json() (also reads a document as loaded from ferry.yml). Checks only
  // the shape it needs (kInvalid, naming the key); use validate_project for the rest.
  static Result<Project> from_json(const nlohmann::json& doc, std::string dir);

  bool operator==(const Project&) const = default;
};

// Reads dir/ferry.yml and every dir/jobs/*.yml|*.yaml (in name order; each may hold `jobs:`
// and `templates:`), reads the transforms' SQL files, and validates everything.
// Fails with kNotFound when there is no ferry.yml, kInvalid listing every problem otherwise.
Result<Project> load_project(const std::string& dir, const PluginCatalog& catalog);

// Validates a project that did not come from files, e.g. after a job was added to the config
// table by the CLI or the API. Transforms without SQL text must have their file in p.dir.
// kInvalid listing every problem.
Status validate_project(const Project& project, const PluginCatalog& catalog);

// Writes a minimal project into `dir` (created if needed) for `ferry init`: ferry.yml with a
// file connection, a sqlite warehouse and one CSV job, data/cities.csv and a .gitignore.
// kInvalid when dir already has a ferry.yml (nothing is overwritten), kIo on write errors.
Status write_starter_project(const std::string& dir);

// ---- Job resolution: from a job's definition (template + params + its own fields) and the
// project, the fully resolved JobSpec a run works from (implemented in resolve.cpp).
//
// resolve_job, in order:
//   1. merges the job's own fields over its template's (maps merge key by key);
//   2. fills every {{param}} in every string (params: the template's defaults, overridden by
//      the job's). A string that is exactly "{{name}}" takes the param's JSON value, so
//      `store_id: "{{store_id}}"` stays an int. {{watermark}} is the watermark given, or
//      incremental.initial when there is none yet. The caller moves the committed watermark
//      back by incremental.lookback first (pipeline/watermark.h apply_lookback);
//   3. resolves ${NAME} from the environment in the connections' options and the job's
//      source and target, in the same pass (a param's value is never searched for ${...}, so
//      a config-table row cannot read the environment). Every value read from the
//      environment is registered with core/redact.h, so it never appears in logs or errors;
//   4. converts the typed fields (mode, schema, max_rejects, ...).
// It reports every problem at once (kInvalid), e.g.
//   job orders_store_3: template store_orders needs param 'store_id'
//   connections.crm.url: environment variable CRM_PASSWORD is not set
//
// Thread-safety: re-entrant; `env` is called on the caller's thread.

struct Incremental {
  std::string cursor_field, initial, lookback;  // "" when not set
};

struct JobSpec {
  std::string id;
  std::string description;
  std::string source_connection, source_kind;  // the connection's name and its `type`
  nlohmann::json connection;      // the source connection, resolved (see resolve_connection)
  nlohmann::json source;          // the job's source options, resolved, without 'connection'
  std::string target_connection;  // the target's, or the project's warehouse
  nlohmann::json target_connection_options;  // that connection, resolved, with its `type`
  nlohmann::json target;  // other target options (the destination kind's), resolved
  std::string table;
  WriteMode mode = WriteMode::kAppend;
  std::vector<std::string> primary_key;
  Incremental incremental;
  std::string watermark;                              // what {{watermark}} became ("" when none)
  nlohmann::json columns = nlohmann::json::object();  // constant columns, params filled in
  std::string schedule, every, on;                    // "" when not set
  std::string poll;                                   // duration text, "" = the default
  std::string timeout;                                // duration text, "" = none
  std::string catchup;                                // none | all ("" = none)
  std::vector<std::string> tags;
  int max_rejects = 0;
  SchemaPolicy schema = SchemaPolicy::kEvolve;
  int max_depth = 0;  // 0 = no limit
  std::vector<std::string> json_paths;
  std::vector<std::string> flatten_paths;
  int max_attempts = 1;
  std::string backoff;  // duration text, "" = the executor's default
  bool enabled = true;
  int priority = 0;
};

// Looks up an environment variable; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
// The process environment (getenv).
EnvLookup default_env();

Result<JobSpec> resolve_job(const Project& project, const JobDefinition& job,
                            const std::string& watermark, const EnvLookup& env = default_env());

// The connection `name` of the project with its ${ENV} resolved (as resolve_env), all its keys
// kept: `type` names the plugin kind. kNotFound when the project has no such connection.
Result<nlohmann::json> resolve_connection(const Project& project, const std::string& name,
                                          const EnvLookup& env = default_env());

// `value` with every ${NAME} in its strings resolved from `env` (and "$${" unescaped), each
// resolved value registered as a secret. For the api tokens, the metastore URL and control
// rules. `where` prefixes the path in messages: "connections.crm" gives
// "connections.crm.url: environment variable CRM_PASSWORD is not set". kInvalid lists every
// variable not set.
Result<nlohmann::json> resolve_env(const nlohmann::json& value, const std::string& where,
                                   const EnvLookup& env = default_env());

}  // namespace ferry
