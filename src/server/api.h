// The HTTP API of `ferry serve` (JSON over cpp-httplib), for the web UI, cloud functions and
// scripts. Routes (every write needs the admin token; reads take either token):
//
//   GET    /healthz                      liveness, no token
//   GET    /metrics                      Prometheus text: runs by state, queue, running
//   GET    /api/jobs                     every job with its trigger, next run and last run
//   GET    /api/jobs/{id}                one job, resolved (secrets stay ${NAME}), recent runs
//   POST   /api/jobs                     {"id", "template", "params", "enabled", "priority"}
//                                        or {"id", "spec": {...}}: a new config row
//   PUT    /api/jobs/{id}                {"params", "enabled", "priority", "spec"}: change it
//   DELETE /api/jobs/{id}                remove the row
//   POST   /api/jobs/{id}/runs           queue a run now
//   POST   /api/batches                  {"jobs": [ids]} or {"all": true}: one batch
//   POST   /api/events/s3                an S3 event notification: runs of the matching jobs
//                                        for exactly the objects it names
//   GET    /api/runs?job=&state=&batch=&limit=
//   GET    /api/runs/{id}                one run with its audit rows
//   GET    /api/audit?job=&run=&limit=
//   GET    /api/versions                 the applied config versions
//   GET    /api/versions/{v}             one version with its whole project
//   POST   /api/versions/{v}/rollback    re-apply version v as a new version
//   GET    /api/templates                templates and the params each needs
//   GET    /api/me                       {"role": "admin" | "read" | "open"}
//   GET    /api/openapi.json             this list as an OpenAPI 3.0 document
//   POST   /api/jobs?dry_run=1           validate a new job and show its plan, add nothing
//
// Tokens come from the project's `api:` block (`admin_token`, `read_token`, as ${ENV}); as
// `Authorization: Bearer <token>`. Without any token configured the API is open and must
// stay on loopback (the default listen address). Errors are JSON {"error": "..."} with 400
// (bad request), 401/403 (token), 404 (unknown job or run); no response holds a secret.
//
// Thread-safety: handlers run on cpp-httplib's thread pool; the daemon is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "core/status.h"
#include "server/daemon.h"

namespace httplib {
class Server;
}

namespace ferry::server {

struct ApiTokens {
  std::string admin, read;  // "" = not configured
};

class HttpApi {
 public:
  HttpApi(Daemon& daemon, ApiTokens tokens);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Binds host:port (port 0 = any free port) and serves on a background thread; returns the
  // port. kIo naming the address when it cannot be bound.
  Result<int> start(const std::string& host, int port);
  void stop();

 private:
  void routes();

  Daemon& daemon_;
  ApiTokens tokens_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
};

}  // namespace ferry::server
