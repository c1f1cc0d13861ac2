#include "config/schema.h"

namespace ferry {
namespace {

using T = OptionType;

OptionDecl opt(std::string name, OptionType type, std::string description,
               std::string default_value = "", bool required = false, bool secret = false) {
  return {std::move(name),        type,     std::move(default_value),
          std::move(description), required, secret};
}

OptionDecl required(std::string name, OptionType type, std::string description) {
  return opt(std::move(name), type, std::move(description), "", true);
}

std::string one_of(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    out += (out.empty() ? "" : ", ") + v;
  }
  return out;
}

std::vector<OptionDecl> job_body() {
  return {
      opt("description", T::kString, "What the job loads, shown in the UI."),
      required("source", T::kMap,
               "Where the data comes from: `connection` plus the options of that connection's "
               "kind."),
      required("target", T::kMap, "Where it lands: `table`, `mode`, `primary_key`, `connection`."),
      opt("incremental", T::kMap,
          "Load only what is new: `cursor_field`, `initial`, `lookback`. The last value loaded "
          "is the job's watermark, available as `{{watermark}}`."),
      opt("columns", T::kMap, "Constant columns added to every row, e.g. `{store_id: 1}`."),
      opt("schedule", T::kString,
          "Cron schedule, 5 fields or @hourly/@daily/@weekly/@monthly, in the project's "
          "timezone."),
      opt("every", T::kDuration, "Run at this interval (30s, 5m, 1h). Not with `schedule`."),
      opt("on", T::kString, "Event trigger: `new_objects` loads each new file or object once."),
      opt("poll", T::kDuration,
          "With `on: new_objects`: how often `ferry serve` checks for new objects (default 5s)."),
      opt("max_rejects", T::kInt,
          "Bad rows tolerated (kept in `_ferry_rejects`) before the run fails.", "0"),
      opt("schema", T::kString,
          "What a new column or type does: evolve (add/widen), freeze (fail the run), "
          "discard_row, discard_value.",
          "evolve"),
      opt("nesting", T::kMap,
          "Nested JSON: `max_depth`, `json` (paths kept as JSON text), `flatten`. By default "
          "objects become columns and arrays child tables."),
      opt("enabled", T::kBool, "A disabled job keeps its row but never runs.", "true"),
      opt("priority", T::kInt, "Higher runs first when a batch has more jobs than slots.", "0"),
      opt("retries", T::kMap, "Retries of a failed run: `max_attempts`, `backoff`."),
      opt("tags", T::kList,
          "Labels for grouping jobs, e.g. [nightly, finance]: `POST /api/batches {\"tag\": "
          "\"nightly\"}` runs every enabled job with the tag."),
      opt("timeout", T::kDuration,
          "`ferry serve` cancels a run that takes longer (recorded as cancelled)."),
      opt("catchup", T::kString,
          "Cron ticks missed while `ferry serve` was down: none (one run at start if any was "
          "missed) or all (one run per missed tick, at most 100).",
          "none"),
  };
}

}  // namespace

const std::vector<OptionDecl>& project_options() {
  static const std::vector<OptionDecl> kOptions = {
      opt("project", T::kString, "Project name, shown in the UI and notifications.",
          "the folder's name"),
      opt("metastore", T::kString,
          "Where ferry keeps its config, run, audit and control tables: `sqlite:PATH` "
          "(relative to the project) or `postgres://user@host:5432/db`.",
          "sqlite:.ferry/meta.db"),
      opt("warehouse", T::kString,
          "The default destination connection, for targets and transforms without one."),
      opt("concurrency", T::kInt, "Most job runs at once, for the whole project.", "4"),
      opt("timezone", T::kString, "Time zone of cron schedules (IANA name, e.g. Europe/Berlin).",
          "UTC"),
      opt("api", T::kMap, "The HTTP API: `listen`, `admin_token`, `read_token`."),
      opt("connections", T::kMap, "Named connections: `name: {type: KIND, ...options}`."),
      opt("templates", T::kMap, "Reusable job shapes; `{{param}}` is filled from a job's params."),
      opt("jobs", T::kList, "The jobs: rows of the config table."),
      opt("transforms", T::kList, "SQL run in the warehouse after its inputs load."),
      opt("control", T::kList, "What happens after a batch: e-mails and webhooks."),
  };
  return kOptions;
}

const std::vector<OptionDecl>& jobs_file_options() {
  static const std::vector<OptionDecl> kOptions = {
      opt("jobs", T::kList, "More jobs, added to those of ferry.yml."),
      opt("templates", T::kMap, "More templates, added to those of ferry.yml."),
  };
  return kOptions;
}

const std::vector<OptionDecl>& api_options() {
  static const std::vector<OptionDecl> kOptions = {
      opt("listen", T::kString, "Address and port of the HTTP API and UI.", "127.0.0.1:8765"),
      opt("admin_token", T::kString, "Bearer token that may change jobs and start runs.", "", false,
          true),
      opt("read_token", T::kString, "Bearer token that may only read.", "", false, true),
  };
  return kOptions;
}

const std::vector<OptionDecl>& connection_options() {
  static const std::vector<OptionDecl> kOptions = {
      required("type", T::kString, "The connection's kind: sqlite, postgres, s3, http, file, ..."),
      opt("description", T::kString, "What the connection is, shown in the UI."),
      opt("max_concurrency", T::kInt,
          "Most runs at once that use this connection (within the project's `concurrency`)."),
  };
  return kOptions;
}

const std::vector<OptionDecl>& job_options() {
  static const std::vector<OptionDecl> kOptions = [] {
    std::vector<OptionDecl> v = {
        required("id", T::kString, "Unique job id: letters, digits, `_`, `.` and `-`."),
        opt("template", T::kString, "The template this job fills in; its own keys override it."),
        opt("params", T::kMap, "Values of the template's `{{param}}` placeholders."),
    };
    for (OptionDecl& d : job_body()) {
      v.push_back(std::move(d));
    }
    return v;
  }();
  return kOptions;
}

const std::vector<OptionDecl>& template_options() {
  static const std::vector<OptionDecl> kOptions = [] {
    std::vector<OptionDecl> v = {
        opt("params", T::kMap, "Default values of params; a job's params override them."),
    };
    for (OptionDecl& d : job_body()) {
      d.required = false;  // a job using the template may give what the template leaves out
      v.push_back(std::move(d));
    }
    return v;
  }();
  return kOptions;
}

const std::vector<OptionDecl>& source_options() {
  static const std::vector<OptionDecl> kOptions = {
      required("connection", T::kString, "The connection to read from."),
  };
  return kOptions;
}

const std::vector<OptionDecl>& target_options() {
  static const std::vector<OptionDecl> kOptions = {
      opt("connection", T::kString, "The destination connection.", "the project's warehouse"),
      required("table", T::kString, "The table to load; child tables are `<table>__<field>`."),
      opt("mode", T::kString,
          "append, merge (upsert on `primary_key`) or replace (atomic: readers see the old "
          "table or the new one).",
          "append"),
      opt("primary_key", T::kList, "Columns that identify a row; required for `merge`."),
  };
  return kOptions;
}

const std::vector<OptionDecl>& incremental_options() {
  static const std::vector<OptionDecl> kOptions = {
      required("cursor_field", T::kString,
               "The field that grows with each change (updated_at, id)."),
      opt("initial", T::kString, "The watermark of the first run."),
      opt("lookback", T::kDuration,
          "Re-read this much before the watermark on each run, to catch late updates."),
  };
  return kOptions;
}

const std::vector<OptionDecl>& nesting_options() {
  static const std::vector<OptionDecl> kOptions = {
      opt("max_depth", T::kInt, "Deeper objects and arrays are kept as JSON text."),
      opt("json", T::kList, "Paths kept as JSON text instead of columns or child tables."),
      opt("flatten", T::kList,
          "Paths of arrays flattened into their parent row. Not supported yet: a job that sets "
          "it fails with a message."),
  };
  return kOptions;
}

const std::vector<OptionDecl>& retries_options() {
  static const std::vector<OptionDecl> kOptions = {
      opt("max_attempts", T::kInt, "Attempts of a run, the first included.", "1"),
      opt("backoff", T::kDuration, "Wait before the first retry; later retries wait longer."),
  };
  return kOptions;
}

const std::vector<OptionDecl>& transform_options() {
  static const std::vector<OptionDecl> kOptions = {
      required("id", T::kString, "Unique id: letters, digits, `_`, `.` and `-`."),
      required("sql", T::kString, "The SQL file, relative to the project folder."),
      required("after", T::kList,
               "Jobs and transforms this one reads; it runs once they have succeeded in the "
               "batch, and is skipped when one of them failed."),
      opt("connection", T::kString, "Where the SQL runs.", "the project's warehouse"),
      opt("description", T::kString, "What the transform builds."),
  };
  return kOptions;
}

const std::vector<OptionDecl>& control_options() {
  static const std::vector<OptionDecl> kOptions = {
      required("on", T::kString,
               "batch_succeeded, batch_failed, batch_finished, job_failed (a job of the batch "
               "failed), rejects (rows were rejected) or schema_changed (a table changed)."),
      opt("email", T::kMap, "Send an e-mail summary: `connection`, `to`, `cc`, `subject`."),
      opt("webhook", T::kMap, "Call a URL: `url`, `method`, `headers`, `body`."),
      opt("sql", T::kString, "SQL run in the warehouse (e.g. refresh a materialized table)."),
      opt("description", T::kString, "What the rule is for."),
  };
  return kOptions;
}

const std::vector<OptionDecl>& email_options() {
  static const std::vector<OptionDecl> kOptions = {
      required("connection", T::kString, "An smtp connection."),
      required("to", T::kList, "Recipients."),
      opt("cc", T::kList, "Copy recipients."),
      opt("subject", T::kString, "Subject line; may use the placeholders below.",
          "ferry: batch {batch_id} {state}"),
  };
  return kOptions;
}

const std::vector<OptionDecl>& webhook_options() {
  static const std::vector<OptionDecl> kOptions = {
      required("url", T::kString, "The URL to call; may use ${ENV} variables."),
      opt("method", T::kString, "GET, POST, PUT, PATCH or DELETE.", "POST"),
      opt("headers", T::kMap, "Request headers; values may use ${ENV} variables."),
      opt("body", T::kAny,
          "Request body: a string, or a map sent as JSON; default: the batch summary as JSON. "
          "Strings may use {batch_id}, {state}, {project}, {jobs}, {failed_jobs} and {summary} "
          "(the plain-text summary)."),
  };
  return kOptions;
}

const std::vector<std::string>& write_modes() {
  static const std::vector<std::string> kValues = {"append", "merge", "replace"};
  return kValues;
}

const std::vector<std::string>& schema_policies() {
  static const std::vector<std::string> kValues = {"evolve", "freeze", "discard_row",
                                                   "discard_value"};
  return kValues;
}

const std::vector<std::string>& catchup_modes() {
  static const std::vector<std::string> kValues = {"none", "all"};
  return kValues;
}

const std::vector<std::string>& job_events() {
  static const std::vector<std::string> kValues = {"new_objects"};
  return kValues;
}

const std::vector<std::string>& batch_events() {
  static const std::vector<std::string> kValues = {"batch_succeeded", "batch_failed",
                                                   "batch_finished",  "job_failed",
                                                   "rejects",         "schema_changed"};
  return kValues;
}

const std::vector<std::string>& webhook_methods() {
  static const std::vector<std::string> kValues = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  return kValues;
}

std::string render_project_reference() {
  struct Section {
    const char* title;
    const char* intro;
    const std::vector<OptionDecl>& options;
  };
  const Section sections[] = {
      {"Project (`ferry.yml`)", "The top level of `ferry.yml`.", project_options()},
      {"Job files (`jobs/*.yml`)",
       "Every `jobs/*.yml` (or `.yaml`) file may hold more jobs and templates.",
       jobs_file_options()},
      {"`api`", "", api_options()},
      {"Connections (`connections: {name: ...}`)",
       "Keys every connection has; the rest are the options of its kind (below).",
       connection_options()},
      {"Jobs (`jobs: - ...`)", "", job_options()},
      {"Templates (`templates: {name: ...}`)",
       "A template has the keys of a job except `id` and `template`. A job using it overrides "
       "its keys (maps are merged key by key). Every `{{param}}` it uses must be given by each "
       "job's `params` or by the template's own; `{{watermark}}` is always available.",
       template_options()},
      {"`source`", "Plus the source options of the connection's kind.", source_options()},
      {"`target`", "Plus the target options of the connection's kind.", target_options()},
      {"`incremental`", "", incremental_options()},
      {"`nesting`", "", nesting_options()},
      {"`retries`", "", retries_options()},
      {"Transforms (`transforms: - ...`)", "", transform_options()},
      {"Control rules (`control: - ...`)", "Each rule has one action: `email`, `webhook` or `sql`.",
       control_options()},
      {"`email`", "", email_options()},
      {"`webhook`", "", webhook_options()},
  };
  std::string out = "## Project files\n";
  for (const Section& s : sections) {
    out += std::string("\n### ") + s.title + "\n\n";
    if (*s.intro) out += std::string(s.intro) + "\n\n";
    out += render_options_markdown(s.options);
  }
  out += "\nValues: `mode` is one of " + one_of(write_modes()) + "; `schema` one of " +
         one_of(schema_policies()) + "; `on` (job) " + one_of(job_events()) +
         "; `on` (control) one of " + one_of(batch_events()) + ".\n";
  out +=
      "\nSecrets come from the environment as `${NAME}` (a literal `${` is written `$${`); "
      "options a plugin declares secret must use it. They are resolved only when a job "
      "runs and are redacted from every log, error and API answer.\n";
  return out;
}

}  // namespace ferry
