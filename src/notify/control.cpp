#include "notify/control.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <thread>

#include "core/redact.h"
#include "net/http.h"
#include "net/retry.h"

namespace ferry {
namespace {

using json = nlohmann::json;

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items)
    out += (out.empty() ? "" : sep) + i;
  return out;
}

double seconds_between(const std::string& a, const std::string& b) {
  auto parse = [](const std::string& iso) -> double {
    std::tm tm{};
    if (sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
      return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    double frac = 0;
    if (auto dot = iso.find('.'); dot != std::string::npos) frac = std::atof(iso.c_str() + dot);
    return static_cast<double>(timegm(&tm)) + frac;
  };
  if (a.empty() || b.empty()) return 0;
  return parse(b) - parse(a);
}

json fill_json(const json& v, const BatchSummary& s) {
  if (v.is_string()) return fill_placeholders(v.get<std::string>(), s);
  if (!v.is_structured()) return v;
  json out = v;
  for (auto& [k, x] : out.items())
    x = fill_json(x, s);
  return out;
}

// --- e-mail over SMTP (libcurl)

struct Upload {
  std::string data;
  size_t pos = 0;
};

size_t read_upload(char* buf, size_t size, size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  size_t len = std::min(size * n, u->data.size() - u->pos);
  std::memcpy(buf, u->data.data() + u->pos, len);
  u->pos += len;
  return len;
}

std::string rfc5322_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

Status send_email(const json& smtp, const std::vector<std::string>& to,
                  const std::vector<std::string>& cc, const std::string& subject,
                  const std::string& body) {
  std::string url = smtp.value("url", "");
  std::string from = smtp.value("from", "");
  if (url.empty() || from.empty()) return Status::invalid("the smtp connection needs url and from");
  Upload msg;
  msg.data = "Date: " + rfc5322_date() + "\r\nFrom: " + from + "\r\nTo: " + join(to, ", ") +
             "\r\n" + (cc.empty() ? "" : "Cc: " + join(cc, ", ") + "\r\n") + "Subject: " + subject +
             "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
  // SMTP wants CRLF line ends, and a line of a single "." would end the message early.
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\n') {
      msg.data += "\r\n";
      if (i + 1 < body.size() && body[i + 1] == '.') msg.data += '.';
    } else {
      msg.data += body[i];
    }
  }
  msg.data += "\r\n";
  CURL* c = curl_easy_init();
  if (!c) return Status::internal("libcurl could not create a handle");
  curl_slist* rcpt = nullptr;
  for (const auto& r : to)
    rcpt = curl_slist_append(rcpt, ("<" + r + ">").c_str());
  for (const auto& r : cc)
    rcpt = curl_slist_append(rcpt, ("<" + r + ">").c_str());
  char err[CURL_ERROR_SIZE] = {};
  std::string mail_from = "<" + from + ">";
  std::string user = smtp.value("username", ""), password = smtp.value("password", "");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(c, CURLOPT_READDATA, &msg);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  // STARTTLS whenever the server offers it (smtps:// URLs are TLS from the start).
  curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
  if (!user.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, password.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) {
    return Status::retry("e-mail via {} failed: {}", url, err[0] ? err : curl_easy_strerror(rc));
  }
  return Status::success();
}

// Tries `action` up to 3 times with backoff on failures worth retrying.
Status with_retries(const std::function<Status()>& action) {
  Status st;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    st = action();
    if (st.is_ok() || st.code() != Code::kRetry || attempt == 3) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
  }
  return st;
}

bool matches(const std::string& on, const BatchSummary& s) {
  if (on == "batch_finished") return true;
  if (on == "batch_succeeded") return s.state == "succeeded";
  if (on == "batch_failed") return s.state == "failed";
  if (on == "job_failed") return !s.failed.empty();
  if (on == "rejects") return s.rows_rejected > 0;
  if (on == "schema_changed") return !s.schema_changes.empty();
  return false;
}

}  // namespace

std::string fill_placeholders(const std::string& text, const BatchSummary& s) {
  std::vector<std::string> jobs;
  for (const auto& r : s.runs)
    jobs.push_back(r.job_id);
  const std::map<std::string, std::string> values = {{"batch_id", s.batch_id},
                                                     {"state", s.state},
                                                     {"project", s.project},
                                                     {"jobs", join(jobs, ", ")},
                                                     {"failed_jobs", join(s.failed, ", ")},
                                                     {"summary", s.text()}};
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{') {
      size_t end = text.find('}', i);
      if (end != std::string::npos) {
        auto it = values.find(text.substr(i + 1, end - i - 1));
        if (it != values.end()) {
          out += it->second;
          i = end;
          continue;
        }
      }
    }
    out += text[i];
  }
  return out;
}

std::string BatchSummary::text() const {
  std::string out = fmt::format("ferry batch {} of project {}: {}\n", batch_id, project, state);
  out += fmt::format("{} runs, {} rows loaded, {} rejected, {:.1f}s\n\n", runs.size(), rows_loaded,
                     rows_rejected, seconds);
  for (const RunRow& r : runs) {
    out += fmt::format("  {:<28} {:<10} {:>10} rows  {:>6} rejected\n", r.job_id,
                       run_state_name(r.state), r.rows_loaded, r.rows_rejected);
  }
  bool header = false;
  for (const RunRow& r : runs) {
    if (r.error.empty()) continue;
    if (!header) out += "\nErrors:\n";
    header = true;
    std::string first = r.error.substr(0, r.error.find('\n'));
    if (first.size() > 300) first = first.substr(0, 297) + "...";
    out += "  " + r.job_id + ": " + first + "\n";
  }
  if (!schema_changes.empty()) out += "\nSchema changes:\n  " + join(schema_changes, "\n  ") + "\n";
  return out;
}

json BatchSummary::to_json() const {
  json runs_json = json::array();
  for (const RunRow& r : runs) {
    runs_json.push_back({{"job", r.job_id},
                         {"state", run_state_name(r.state)},
                         {"rows_loaded", r.rows_loaded},
                         {"rows_rejected", r.rows_rejected},
                         {"error", r.error}});
  }
  return {{"batch_id", batch_id},
          {"project", project},
          {"state", state},
          {"rows_loaded", rows_loaded},
          {"rows_rejected", rows_rejected},
          {"failed", failed},
          {"schema_changes", schema_changes},
          {"seconds", seconds},
          {"runs", runs_json}};
}

Result<BatchSummary> summarize_batch(Metastore& meta, const Project& project,
                                     const std::string& batch_id) {
  BatchSummary s;
  s.batch_id = batch_id;
  s.project = project.name;
  RunFilter f;
  f.batch_id = batch_id;
  f.limit = 0;
  FERRY_ASSIGN(auto runs, meta.list_runs(f));
  // Newest first: the first row of a job is its last attempt.
  std::set<std::string> seen;
  std::string first_start, last_end;
  for (const RunRow& r : runs) {
    if (!first_start.empty() && !r.started_at.empty() && r.started_at < first_start)
      first_start = r.started_at;
    if (first_start.empty()) first_start = r.started_at;
    if (r.finished_at > last_end) last_end = r.finished_at;
    if (!seen.insert(r.job_id).second) continue;
    s.runs.push_back(r);
    s.rows_loaded += r.rows_loaded;
    s.rows_rejected += r.rows_rejected;
    if (r.state != RunState::kSucceeded) s.failed.push_back(r.job_id);
    AuditFilter af;
    af.run_id = r.id;
    af.limit = 0;
    auto events = meta.list_audit(af);
    if (events.ok()) {
      for (const AuditEvent& e : events.value())
        if (e.event == "schema_changed") s.schema_changes.push_back(e.message);
    }
  }
  std::reverse(s.runs.begin(), s.runs.end());  // in start order
  s.state = s.failed.empty() ? "succeeded" : "failed";
  s.seconds = seconds_between(first_start, last_end);
  return s;
}

int fire_control(Metastore& meta, const Project& project, const std::string& batch_id,
                 const SqlRunner& run_sql) {
  auto rules = meta.control_rules();
  if (!rules.ok() || !rules->is_array() || rules->empty()) return 0;
  auto summary = summarize_batch(meta, project, batch_id);
  if (!summary.ok()) {
    (void)audit(meta, 0, "", "error", "control_action_failed",
                "cannot summarise batch " + batch_id + ": " + summary.status().message());
    return 0;
  }
  const BatchSummary& s = summary.value();
  int fired = 0;
  for (size_t i = 0; i < rules->size(); ++i) {
    const json& raw = (*rules)[i];
    std::string on = raw.value("on", "");
    if (!matches(on, s)) continue;
    ++fired;
    std::string what;
    Status st = [&]() -> Status {
      FERRY_ASSIGN(json rule, resolve_env(raw, fmt::format("control[{}]", i)));
      if (rule.contains("email")) {
        const json& e = rule["email"];
        std::string conn_name = e.value("connection", "");
        FERRY_ASSIGN(json smtp, resolve_connection(project, conn_name));
        std::vector<std::string> to = e.value("to", std::vector<std::string>{});
        std::vector<std::string> cc = e.value("cc", std::vector<std::string>{});
        std::string subject =
            fill_placeholders(e.value("subject", "ferry: batch {batch_id} {state}"), s);
        what = "e-mail to " + join(to, ", ");
        return with_retries([&] { return send_email(smtp, to, cc, subject, s.text()); });
      }
      if (rule.contains("webhook")) {
        const json& w = rule["webhook"];
        net::HttpRequest req;
        req.method = w.value("method", "POST");
        req.url = w.value("url", "");
        what = req.method + " webhook";
        if (w.contains("headers") && w["headers"].is_object()) {
          for (const auto& [k, v] : w["headers"].items())
            req.headers.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
        }
        if (!w.contains("body")) {
          req.body = s.to_json().dump();
          req.headers.emplace_back("Content-Type", "application/json");
        } else if (w["body"].is_string()) {
          req.body = fill_placeholders(w["body"].get<std::string>(), s);
        } else {
          req.body = fill_json(w["body"], s).dump();
          req.headers.emplace_back("Content-Type", "application/json");
        }
        net::HttpClient client({.timeout = std::chrono::milliseconds(30'000)});
        FERRY_ASSIGN(auto res, net::send_with_retries(client, req, {.max_retries = 2}, {}));
        if (res.status >= 300) return Status::io("{}", net::describe_failure(req, res));
        return Status::success();
      }
      if (rule.contains("sql")) {
        what = "SQL in the warehouse";
        return run_sql(fill_placeholders(rule["sql"].get<std::string>(), s));
      }
      return Status::invalid("the rule has no action");
    }();
    json details = {{"batch_id", batch_id}, {"rule", i}, {"on", on}};
    if (st.is_ok()) {
      (void)audit(meta, 0, "", "info", "control_action_done",
                  fmt::format("{} for {} of batch {}", what, on, batch_id), details);
    } else {
      spdlog::warn("control rule {} ({}): {}", i, on, redact(st.message()));
      (void)audit(meta, 0, "", "error", "control_action_failed",
                  fmt::format("{} for {} of batch {} failed: {}", what, on, batch_id, st.message()),
                  details);
    }
  }
  return fired;
}

}  // namespace ferry
