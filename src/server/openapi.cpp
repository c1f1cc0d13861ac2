#include "server/openapi.h"

#include <string>

namespace ferry::server {
namespace {

using json = nlohmann::json;

json op(const std::string& summary, const json& params = json::array(), bool body = false,
        const std::string& ok = "200") {
  json o = {{"summary", summary},
            {"responses",
             {{ok, {{"description", "OK (JSON)"}}},
              {"400", {{"description", "bad request: {\"error\": ...}"}}},
              {"401", {{"description", "missing or wrong token"}}},
              {"403", {{"description", "read-only token used for a change"}}},
              {"404", {{"description", "unknown job, run or version"}}}}}};
  if (!params.empty()) o["parameters"] = params;
  if (body) {
    o["requestBody"] = {{"required", true},
                        {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
  }
  return o;
}

json path_param(const std::string& name, const std::string& type = "string") {
  return {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", type}}}};
}

json query_param(const std::string& name, const std::string& type = "string") {
  return {{"name", name}, {"in", "query"}, {"required", false}, {"schema", {{"type", type}}}};
}

}  // namespace

json openapi_document() {
  json paths = {
      {"/healthz", {{"get", op("Liveness (no token needed)")}}},
      {"/metrics", {{"get", op("Prometheus metrics: runs by state, queue length, running")}}},
      {"/api/me", {{"get", op("The caller's role: admin, read or open")}}},
      {"/api/jobs",
       {{"get", op("Every job with its trigger, next run and last run")},
        {"post", op("Add a job: {id, template, params, enabled, priority} or {id, spec}; "
                    "?dry_run=1 validates and returns the plan without adding",
                    json::array({query_param("dry_run")}), true, "201")}}},
      {"/api/jobs/{id}",
       {{"get", op("One job, resolved (secrets stay ${NAME}), with recent runs",
                   json::array({path_param("id"), query_param("limit", "integer")}))},
        {"put", op("Change a job: params, enabled, priority, spec", json::array({path_param("id")}),
                   true)},
        {"delete", op("Remove a job", json::array({path_param("id")}))}}},
      {"/api/jobs/{id}/runs",
       {{"post", op("Queue a run now", json::array({path_param("id")}), false, "202")}}},
      {"/api/batches",
       {{"post", op("Queue one batch: {\"jobs\": [ids]}, {\"tag\": name} or {\"all\": true}",
                    json::array(), true, "202")}}},
      {"/api/events/s3",
       {{"post", op("An S3 event notification (direct, SNS, SQS or EventBridge): runs of the "
                    "matching jobs for exactly the named objects",
                    json::array(), true, "202")}}},
      {"/api/runs",
       {{"get", op("The job execution table, newest first",
                   json::array({query_param("job"), query_param("state"), query_param("batch"),
                                query_param("limit", "integer")}))}}},
      {"/api/runs/{id}",
       {{"get", op("One run with its audit rows", json::array({path_param("id", "integer")}))}}},
      {"/api/audit",
       {{"get", op("The audit table, newest first",
                   json::array({query_param("job"), query_param("run", "integer"),
                                query_param("since"), query_param("limit", "integer")}))}}},
      {"/api/templates", {{"get", op("Templates and the params each needs")}}},
      {"/api/versions", {{"get", op("Applied config versions, newest first")}}},
      {"/api/versions/{v}",
       {{"get",
         op("One version with its whole project", json::array({path_param("v", "integer")}))}}},
      {"/api/versions/{v}/rollback",
       {{"post", op("Re-apply version v as a new version (admin)",
                    json::array({path_param("v", "integer")}))}}},
  };
  return {
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "ferry serve API"},
        {"version", "0.1.0"},
        {"description",
         "Jobs, runs, batches, audit and config versions of a ferry project. Reads take "
         "the read or admin token, changes the admin token, as Authorization: Bearer."}}},
      {"components", {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
      {"security", json::array({{{"bearer", json::array()}}})},
      {"paths", paths}};
}

}  // namespace ferry::server
