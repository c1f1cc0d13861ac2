#include "meta/metastore.h"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "core/redact.h"
#include "meta/encoding.h"
#include "meta/postgres_metastore.h"
#include "meta/sqlite_metastore.h"

namespace ferry {

const char* run_state_name(RunState s) {
  switch (s) {
    case RunState::kQueued:
      return "queued";
    case RunState::kRunning:
      return "running";
    case RunState::kSucceeded:
      return "succeeded";
    case RunState::kFailed:
      return "failed";
    case RunState::kCancelled:
      return "cancelled";
    case RunState::kSkipped:
      return "skipped";
  }
  return "unknown";
}

std::optional<RunState> parse_run_state(const std::string& s) {
  for (RunState state : {RunState::kQueued, RunState::kRunning, RunState::kSucceeded,
                         RunState::kFailed, RunState::kCancelled, RunState::kSkipped}) {
    if (s == run_state_name(state)) return state;
  }
  return std::nullopt;
}

void Metastore::finish_run_later(const RunRow& run, std::vector<AuditEvent> events) {
  Status st = finish_run(run, std::move(events));
  if (st.is_ok()) return;
  spdlog::warn("run {}: its end ({}) was not recorded: {}", run.id, run_state_name(run.state),
               st.message());
  (void)audit(meta::abandoned_run_event(run.id, run.job_id, run.worker, run_state_name(run.state),
                                        st.message()));
}

Result<std::unique_ptr<Metastore>> open_metastore(const std::string& url,
                                                  const std::string& project_dir) {
  std::string path = url;
  if (url.starts_with("sqlite:")) {
    path = url.substr(7);
  } else if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    return meta::open_postgres_metastore(url);
  } else if (url.find("://") != std::string::npos) {
    return Status::invalid(
        "metastore '{}': unknown kind (expected sqlite:PATH or postgres://user@host:5432/db)",
        redact(url));
  }
  if (path.empty()) return Status::invalid("metastore '{}': no file path", url);
  std::filesystem::path file(path);
  if (path != ":memory:" && file.is_relative() && !project_dir.empty()) {
    file = std::filesystem::path(project_dir) / file;
  }
  return meta::open_sqlite_metastore(file);
}

}  // namespace ferry
