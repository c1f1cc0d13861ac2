#include "meta/encoding.h"

#include <unistd.h>

#include <chrono>
#include <ctime>

#include "core/redact.h"

namespace ferry::meta {

using nlohmann::json;

std::string now_iso8601() {
  return iso8601_after(std::chrono::milliseconds(0));
}

std::string iso8601_after(std::chrono::milliseconds delay) {
  using namespace std::chrono;
  const int64_t ms =
      duration_cast<milliseconds>(system_clock::now().time_since_epoch() + delay).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

std::string lease_text(std::chrono::milliseconds lease) {
  return lease.count() > 0 ? iso8601_after(lease) : std::string();
}

std::string worker_name() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return fmt::format("{}:{}", host[0] ? host : "localhost", static_cast<long>(getpid()));
}

void add_condition(std::string& where, std::string_view clause) {
  where += where.empty() ? " WHERE " : " AND ";
  where += clause;
}

std::string limit_clause(int limit) {
  return limit > 0 ? fmt::format(" LIMIT {}", limit) : std::string();
}

std::string dump_json(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<json> parse_json(std::string_view text, std::string_view what) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return Status::invalid("metastore: {} is not valid JSON", what);
  return value;
}

json redact_json(const json& value) {
  if (value.is_string()) return redact(value.get_ref<const std::string&>());
  if (value.is_array()) {
    json out = json::array();
    for (const json& item : value)
      out.push_back(redact_json(item));
    return out;
  }
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [key, item] : value.items())
      out[redact(key)] = redact_json(item);
    return out;
  }
  return value;
}

std::string fnv1a64_hex(std::string_view data) {
  uint64_t hash = 14695981039346656037ULL;
  for (char c : data) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", hash);
}

Status check_job(const JobRow& job) {
  if (job.id.empty()) return Status::invalid("job: empty id");
  const std::string& o = job.origin;
  if (o != "apply" && o != "cli" && o != "api" && o != "sql") {
    return Status::invalid("job '{}': unknown origin '{}' (apply, cli, api or sql)", job.id, o);
  }
  return Status::success();
}

Status check_audit(const AuditEvent& event) {
  if (event.event.empty()) return Status::invalid("audit: empty event name");
  if (event.level != "info" && event.level != "warn" && event.level != "error") {
    return Status::invalid("audit: unknown level '{}' (info, warn or error)", event.level);
  }
  return Status::success();
}

bool is_final(RunState state) {
  return state != RunState::kQueued && state != RunState::kRunning;
}

AuditEvent abandoned_run_event(int64_t run_id, std::string job_id, const std::string& worker,
                               std::string_view state, std::string_view refusal) {
  AuditEvent e;
  e.run_id = run_id;
  e.job_id = std::move(job_id);
  e.level = "warn";
  e.event = "run_abandoned";
  e.message = fmt::format(
      "this worker lost the run before it ended ({}); the result of this attempt ({}) is not "
      "recorded",
      refusal, state);
  e.details = {{"worker", worker}};
  return e;
}

}  // namespace ferry::meta
