#include "cli/context.h"

#include <cstdio>

#include "core/redact.h"
#include "pipeline/registry.h"

namespace ferry::cli {

int fail(const Status& status) {
  std::fprintf(stderr, "ferry: %s\n", redact(status.message()).c_str());
  return status.code() == Code::kInvalid || status.code() == Code::kNotFound ? kExitUsage
                                                                             : kExitJobFailed;
}

Result<Project> load_files(const Context& ctx) {
  return load_project(ctx.project_dir, registry().catalog);
}

Result<std::unique_ptr<Metastore>> open_meta(const Project& files) {
  // ferry.yml keeps ${ENV} references (a postgres:// URL's password); resolved values are
  // registered as secrets, so no message shows them.
  FERRY_ASSIGN(nlohmann::json url, resolve_env(files.metastore, "metastore"));
  return open_metastore(url.get<std::string>(), files.dir);
}

}  // namespace ferry::cli
