#include "server/api.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "config/template.h"
#include "core/plugin.h"
#include "core/redact.h"
#include "pipeline/applied.h"
#include "pipeline/registry.h"
#include "pipeline/s3_events.h"
#include "server/openapi.h"
#include "server/ui.h"

namespace ferry::server {
namespace {

using json = nlohmann::json;

std::string iso(Clock::time_point t) {
  std::time_t secs = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(redact(body.dump()), "application/json");
}

void error(httplib::Response& res, int status, const std::string& message) {
  reply(res, status, json{{"error", message}});
}

int status_of(const Status& st) {
  switch (st.code()) {
    case Code::kInvalid:
      return 400;
    case Code::kNotFound:
      return 404;
    default:
      return 500;
  }
}

json run_json(const RunRow& r) {
  return {{"id", r.id},
          {"job", r.job_id},
          {"batch", r.batch_id},
          {"state", run_state_name(r.state)},
          {"attempt", r.attempt},
          {"load_id", r.load_id},
          {"queued_at", r.queued_at},
          {"started_at", r.started_at},
          {"finished_at", r.finished_at},
          {"rows_read", r.rows_read},
          {"rows_loaded", r.rows_loaded},
          {"rows_rejected", r.rows_rejected},
          {"error", r.error},
          {"worker", r.worker}};
}

json audit_json(const AuditEvent& e) {
  return {{"id", e.id},       {"time", e.time},   {"run", e.run_id},      {"job", e.job_id},
          {"level", e.level}, {"event", e.event}, {"message", e.message}, {"details", e.details}};
}

json job_json(const JobStatus& s) {
  json j = {{"id", s.job.id},
            {"template", s.job.template_name},
            {"params", s.job.params},
            {"enabled", s.job.enabled},
            {"priority", s.job.priority},
            {"source_kind", s.source_kind},
            {"source_connection", s.source_connection},
            {"table", s.table},
            {"schedule", s.schedule},
            {"every", s.every},
            {"on", s.on},
            {"tags", s.tags},
            {"queued", s.queued},
            {"running", s.running},
            {"next_run", s.next_run ? json(iso(*s.next_run)) : json()}};
  if (!s.error.empty()) j["error"] = s.error;
  return j;
}

// The JobRow a POST/PUT body describes, on top of `row`.
Status apply_body(JobRow& row, const json& body) {
  if (body.contains("template")) {
    if (!body["template"].is_string()) return Status::invalid("template must be a string");
    row.template_name = body["template"].get<std::string>();
  }
  if (body.contains("params")) {
    if (!body["params"].is_object()) return Status::invalid("params must be an object");
    row.params = body["params"];
  }
  if (body.contains("spec")) {
    if (!body["spec"].is_object()) return Status::invalid("spec must be an object");
    row.spec = body["spec"];
  }
  if (body.contains("enabled")) {
    if (!body["enabled"].is_boolean()) return Status::invalid("enabled must be true or false");
    row.enabled = body["enabled"].get<bool>();
  }
  if (body.contains("priority")) {
    if (!body["priority"].is_number_integer())
      return Status::invalid("priority must be an integer");
    row.priority = body["priority"].get<int>();
  }
  return Status::success();
}

// Validates the applied project as it would be with `row` in the config table.
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

std::optional<json> parse_body(const httplib::Request& req, httplib::Response& res) {
  json body = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    error(res, 400, "the request body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

int int_param(const httplib::Request& req, const char* name, int def) {
  if (!req.has_param(name)) return def;
  try {
    return std::stoi(req.get_param_value(name));
  } catch (...) {
    return def;
  }
}

}  // namespace

HttpApi::HttpApi(Daemon& daemon, ApiTokens tokens)
    : daemon_(daemon), tokens_(std::move(tokens)), http_(std::make_unique<httplib::Server>()) {
  routes();
}

HttpApi::~HttpApi() {
  stop();
}

Result<int> HttpApi::start(const std::string& host, int port) {
  int bound =
      port == 0 ? http_->bind_to_any_port(host) : (http_->bind_to_port(host, port) ? port : -1);
  if (bound < 0)
    return Status::io("cannot listen on {}:{} (in use, or not an address here)", host, port);
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  while (!http_->is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return bound;
}

void HttpApi::stop() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpApi::routes() {
  httplib::Server& s = *http_;
  register_ui_routes(s);
  s.set_payload_max_length(1 << 20);

  // Tokens: reads need either token, writes the admin token; none configured = open.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/healthz" || is_ui_path(req.path))  // the UI's page holds no data
      return httplib::Server::HandlerResponse::Unhandled;
    if (tokens_.admin.empty() && tokens_.read.empty())
      return httplib::Server::HandlerResponse::Unhandled;
    std::string auth = req.get_header_value("Authorization");
    std::string token = auth.starts_with("Bearer ") ? auth.substr(7) : "";
    bool admin = !tokens_.admin.empty() && token == tokens_.admin;
    bool reader = admin || (!tokens_.read.empty() && token == tokens_.read);
    if (!reader) {
      error(res, 401, "missing or wrong API token (Authorization: Bearer <token>)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method != "GET" && !admin) {
      error(res, 403, "this token may only read; changes need the admin token");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    reply(res, 200, {{"ok", true}, {"stopping", daemon_.stopping()}});
  });

  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    auto c = daemon_.counters();
    std::string out;
    out += "# HELP ferry_runs_total Runs finished by this process, by final state.\n";
    out += "# TYPE ferry_runs_total counter\n";
    out += fmt::format("ferry_runs_total{{state=\"succeeded\"}} {}\n", c.succeeded);
    out += fmt::format("ferry_runs_total{{state=\"failed\"}} {}\n", c.failed);
    out += fmt::format("ferry_runs_total{{state=\"cancelled\"}} {}\n", c.cancelled);
    out +=
        "# HELP ferry_queue_length Runs waiting for a worker.\n# TYPE ferry_queue_length gauge\n";
    out += fmt::format("ferry_queue_length {}\n", c.queued);
    out += "# HELP ferry_runs_running Runs in progress.\n# TYPE ferry_runs_running gauge\n";
    out += fmt::format("ferry_runs_running {}\n", c.running);
    res.set_content(out, "text/plain; version=0.0.4");
  });

  s.Get("/api/jobs", [this](const httplib::Request&, httplib::Response& res) {
    // The last run of each job, from one listing of recent runs.
    RunFilter f;
    f.limit = 2000;
    auto runs = daemon_.meta().list_runs(f);
    std::map<std::string, RunRow> last;
    if (runs.ok()) {
      for (const RunRow& r : runs.value())
        last.emplace(r.job_id, r);  // newest first: the first seen is the last run
    }
    json out = json::array();
    for (const JobStatus& j : daemon_.jobs()) {
      json row = job_json(j);
      auto it = last.find(j.job.id);
      row["last_run"] = it == last.end() ? json() : run_json(it->second);
      out.push_back(std::move(row));
    }
    reply(res, 200, out);
  });

  s.Get(R"(/api/jobs/([A-Za-z0-9_.-]+))",
        [this](const httplib::Request& req, httplib::Response& res) {
          std::string id = req.matches[1];
          auto status = daemon_.job(id);
          if (!status) return error(res, 404, "no job '" + id + "'");
          json out = job_json(*status);
          EnvLookup keep = [](const std::string& name) -> std::optional<std::string> {
            return "${" + name + "}";
          };
          auto project = daemon_.project();
          auto spec = resolve_job(*project, status->job, "", keep);
          if (spec.ok()) {
            out["resolved"] = {{"source", spec->source},
                               {"source_connection", spec->source_connection},
                               {"target_connection", spec->target_connection},
                               {"table", spec->table},
                               {"primary_key", spec->primary_key},
                               {"incremental", {{"cursor_field", spec->incremental.cursor_field}}}};
          }
          RunFilter f;
          f.job_id = id;
          f.limit = int_param(req, "limit", 20);
          auto runs = daemon_.meta().list_runs(f);
          out["runs"] = json::array();
          if (runs.ok()) {
            for (const RunRow& r : runs.value())
              out["runs"].push_back(run_json(r));
          }
          reply(res, 200, out);
        });

  s.Post("/api/jobs", [this](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res);
    if (!body) return;
    if (!(*body)["id"].is_string()) return error(res, 400, "give the new job's id");
    JobRow row;
    row.id = (*body)["id"].get<std::string>();
    row.origin = "api";
    if (Status st = apply_body(row, *body); !st.is_ok()) return error(res, 400, st.message());
    if (row.template_name.empty() && row.spec.empty())
      return error(res, 400, "give a template (with params) or a spec");
    auto existing = daemon_.meta().get_job(row.id);
    if (existing.ok() && existing.value())
      return error(res, 409, "job '" + row.id + "' already exists");
    if (Status st = validate_with(*daemon_.project(), row); !st.is_ok())
      return error(res, 400, st.message());
    if (req.has_param("dry_run") && req.get_param_value("dry_run") != "0") {
      // What adding it would do (the UI's preview), without adding it.
      EnvLookup keep = [](const std::string& name) -> std::optional<std::string> {
        return "${" + name + "}";
      };
      auto spec = resolve_job(*daemon_.project(), definition_of(row), "", keep);
      if (!spec.ok()) return error(res, 400, spec.status().message());
      return reply(
          res, 200,
          {{"job", {{"id", row.id}, {"template", row.template_name}, {"params", row.params}}},
           {"plan",
            {{"table", spec->table},
             {"mode", spec->mode == WriteMode::kMerge     ? "merge"
                      : spec->mode == WriteMode::kReplace ? "replace"
                                                          : "append"},
             {"source_kind", spec->source_kind},
             {"source_connection", spec->source_connection},
             {"source", spec->source},
             {"target_connection", spec->target_connection},
             {"schedule", spec->schedule},
             {"every", spec->every}}}});
    }
    if (Status st = daemon_.meta().put_job(row); !st.is_ok())
      return error(res, status_of(st), st.message());
    (void)audit(daemon_.meta(), 0, row.id, "info", "job_added", "job added through the API",
                {{"template", row.template_name}, {"params", row.params}});
    (void)daemon_.reload();
    auto status = daemon_.job(row.id);
    reply(res, 201, status ? job_json(*status) : json{{"id", row.id}});
  });

  s.Put(R"(/api/jobs/([A-Za-z0-9_.-]+))", [this](const httplib::Request& req,
                                                 httplib::Response& res) {
    std::string id = req.matches[1];
    auto body = parse_body(req, res);
    if (!body) return;
    auto existing = daemon_.meta().get_job(id);
    if (!existing.ok()) return error(res, 500, existing.status().message());
    if (!existing.value()) return error(res, 404, "no job '" + id + "'");
    JobRow row = *existing.value();
    if (Status st = apply_body(row, *body); !st.is_ok()) return error(res, 400, st.message());
    if (Status st = validate_with(*daemon_.project(), row); !st.is_ok())
      return error(res, 400, st.message());
    if (Status st = daemon_.meta().put_job(row); !st.is_ok())
      return error(res, status_of(st), st.message());
    (void)audit(daemon_.meta(), 0, id, "info", "job_changed", "job changed through the API", *body);
    (void)daemon_.reload();
    auto status = daemon_.job(id);
    reply(res, 200, status ? job_json(*status) : json{{"id", id}});
  });

  s.Delete(R"(/api/jobs/([A-Za-z0-9_.-]+))", [this](const httplib::Request& req,
                                                    httplib::Response& res) {
    std::string id = req.matches[1];
    Status st = daemon_.meta().delete_job(id);
    if (!st.is_ok()) return error(res, status_of(st), st.message());
    (void)audit(daemon_.meta(), 0, id, "info", "job_removed", "job removed through the API");
    (void)daemon_.reload();
    reply(res, 200, {{"removed", id}});
  });

  auto queued_json = [](const std::vector<Queued>& qs) {
    json out = json::array();
    for (const Queued& q : qs)
      out.push_back({{"job", q.job_id},
                     {"run", q.run_id == 0 ? json() : json(q.run_id)},
                     {"batch", q.batch_id},
                     {"note", q.note}});
    return out;
  };

  s.Post(R"(/api/jobs/([A-Za-z0-9_.-]+)/runs)",
         [this, queued_json](const httplib::Request& req, httplib::Response& res) {
           std::string id = req.matches[1];
           if (!daemon_.job(id)) return error(res, 404, "no job '" + id + "'");
           auto q = daemon_.trigger({id}, "api");
           if (q[0].run_id == 0) return error(res, 409, q[0].note);
           reply(res, 202, queued_json(q)[0]);
         });

  s.Post("/api/batches", [this, queued_json](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, res);
    if (!body) return;
    std::vector<std::string> ids;
    if (body->value("all", false)) {
      for (const JobStatus& j : daemon_.jobs())
        if (j.job.enabled) ids.push_back(j.job.id);
    } else if (body->contains("jobs") && (*body)["jobs"].is_array()) {
      for (const json& j : (*body)["jobs"]) {
        if (!j.is_string()) return error(res, 400, "jobs must be a list of job ids");
        if (!daemon_.job(j.get<std::string>()))
          return error(res, 404, "no job '" + j.get<std::string>() + "'");
        ids.push_back(j.get<std::string>());
      }
    } else if (body->contains("tag") && (*body)["tag"].is_string()) {
      std::string tag = (*body)["tag"].get<std::string>();
      for (const JobStatus& j : daemon_.jobs()) {
        if (j.job.enabled && std::find(j.tags.begin(), j.tags.end(), tag) != j.tags.end())
          ids.push_back(j.job.id);
      }
      if (ids.empty()) return error(res, 404, "no enabled job has the tag '" + tag + "'");
    } else {
      return error(res, 400, R"(give {"jobs": [ids]}, {"tag": name} or {"all": true})");
    }
    auto q = daemon_.trigger(ids, "api batch");
    json out = {{"runs", queued_json(q)}, {"batch", q.empty() ? "" : q[0].batch_id}};
    reply(res, 202, out);
  });

  // An S3 event notification (as SNS, SQS, EventBridge or a Lambda forwards it): queues runs
  // of exactly the jobs whose bucket/prefix/pattern match, for exactly the named objects.
  s.Post("/api/events/s3", [this](const httplib::Request& req, httplib::Response& res) {
    auto runs = jobs_for_s3_event(*daemon_.project(), req.body);
    if (!runs.ok()) return error(res, status_of(runs.status()), runs.status().message());
    std::vector<JobDefinition> defs;
    json keys = json::object();
    for (const S3EventRun& r : runs.value()) {
      defs.push_back(r.job);
      keys[r.job.id] = r.keys;
    }
    auto queued = daemon_.trigger_definitions(defs, "s3 event");
    json out = json::array();
    for (const Queued& q : queued) {
      out.push_back({{"job", q.job_id},
                     {"run", q.run_id == 0 ? json() : json(q.run_id)},
                     {"batch", q.batch_id},
                     {"keys", keys[q.job_id]},
                     {"note", q.note}});
    }
    reply(res, 202, {{"runs", out}});
  });

  s.Get("/api/runs", [this](const httplib::Request& req, httplib::Response& res) {
    RunFilter f;
    f.job_id = req.get_param_value("job");
    f.batch_id = req.get_param_value("batch");
    if (req.has_param("state")) {
      f.state = parse_run_state(req.get_param_value("state"));
      if (!f.state) return error(res, 400, "unknown state '" + req.get_param_value("state") + "'");
    }
    f.limit = int_param(req, "limit", 50);
    auto runs = daemon_.meta().list_runs(f);
    if (!runs.ok()) return error(res, 500, runs.status().message());
    json out = json::array();
    for (const RunRow& r : runs.value())
      out.push_back(run_json(r));
    reply(res, 200, out);
  });

  s.Get(R"(/api/runs/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    int64_t id = std::stoll(req.matches[1]);
    auto run = daemon_.meta().get_run(id);
    if (!run.ok()) return error(res, 500, run.status().message());
    if (!run.value()) return error(res, 404, "no run " + std::to_string(id));
    json out = run_json(*run.value());
    AuditFilter f;
    f.run_id = id;
    f.limit = 0;
    auto events = daemon_.meta().list_audit(f);
    out["audit"] = json::array();
    if (events.ok()) {
      for (const AuditEvent& e : events.value())
        out["audit"].push_back(audit_json(e));
    }
    reply(res, 200, out);
  });

  s.Get("/api/audit", [this](const httplib::Request& req, httplib::Response& res) {
    AuditFilter f;
    f.job_id = req.get_param_value("job");
    f.run_id = req.has_param("run") ? int_param(req, "run", 0) : 0;
    f.since = req.get_param_value("since");
    f.limit = int_param(req, "limit", 100);
    auto events = daemon_.meta().list_audit(f);
    if (!events.ok()) return error(res, 500, events.status().message());
    json out = json::array();
    for (const AuditEvent& e : events.value())
      out.push_back(audit_json(e));
    reply(res, 200, out);
  });

  s.Get("/api/openapi.json", [](const httplib::Request&, httplib::Response& res) {
    reply(res, 200, openapi_document());
  });

  s.Get("/api/me", [this](const httplib::Request& req, httplib::Response& res) {
    std::string auth = req.get_header_value("Authorization");
    std::string token = auth.starts_with("Bearer ") ? auth.substr(7) : "";
    std::string role = tokens_.admin.empty() && tokens_.read.empty() ? "open"
                       : token == tokens_.admin                      ? "admin"
                                                                     : "read";
    reply(res, 200, {{"role", role}, {"project", daemon_.project()->name}});
  });

  // Templates and the params each needs: what the UI's add-a-store form asks for.
  s.Get("/api/templates", [this](const httplib::Request&, httplib::Response& res) {
    auto project = daemon_.project();
    json out = json::array();
    for (const auto& [name, tmpl] : project->templates.items()) {
      json params = json::array();
      json defaults =
          tmpl.contains("params") && tmpl["params"].is_object() ? tmpl["params"] : json::object();
      for (const std::string& p : template_params(tmpl)) {
        if (p == "watermark") continue;
        params.push_back({{"name", p}, {"default", defaults.contains(p) ? defaults[p] : json()}});
      }
      out.push_back(
          {{"name", name}, {"description", tmpl.value("description", "")}, {"params", params}});
    }
    reply(res, 200, out);
  });

  s.Get(R"(/api/versions/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    int64_t v = std::stoll(req.matches[1]);
    auto version = daemon_.meta().get_version(v);
    if (!version.ok()) return error(res, 500, version.status().message());
    if (!version.value()) return error(res, 404, "no config version " + std::to_string(v));
    reply(res, 200,
          {{"version", version.value()->version},
           {"applied_at", version.value()->applied_at},
           {"note", version.value()->note},
           {"project", version.value()->project}});
  });

  s.Post(R"(/api/versions/(\d+)/rollback)",
         [this](const httplib::Request& req, httplib::Response& res) {
           int64_t v = std::stoll(req.matches[1]);
           auto version = daemon_.meta().get_version(v);
           if (!version.ok()) return error(res, 500, version.status().message());
           if (!version.value()) return error(res, 404, "no config version " + std::to_string(v));
           auto project = Project::from_json(version.value()->project, daemon_.project()->dir);
           if (!project.ok()) return error(res, 400, project.status().message());
           auto applied = daemon_.meta().apply_version(version.value()->project,
                                                       job_rows_of(project.value(), "apply"),
                                                       fmt::format("rollback to {}", v));
           if (!applied.ok())
             return error(res, status_of(applied.status()), applied.status().message());
           (void)daemon_.reload();
           reply(res, 200, {{"version", applied.value()}, {"rolled_back_to", v}});
         });

  s.Get("/api/versions", [this](const httplib::Request&, httplib::Response& res) {
    auto versions = daemon_.meta().list_versions();
    if (!versions.ok()) return error(res, 500, versions.status().message());
    json out = json::array();
    for (const ConfigVersion& v : versions.value())
      out.push_back({{"version", v.version},
                     {"applied_at", v.applied_at},
                     {"note", v.note},
                     {"hash", v.hash}});
    reply(res, 200, out);
  });

  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) return error(res, 404, "no such route: " + req.method + " " + req.path);
    if (res.status == 400)
      return error(res, 400, "bad request (a POST without a body needs Content-Length: 0)");
    error(res, res.status, "request failed");
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    error(res, 500, "internal error");
  });
}

}  // namespace ferry::server
