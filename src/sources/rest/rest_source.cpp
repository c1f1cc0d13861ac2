#include "sources/rest/rest_source.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <unordered_set>

#include "core/duration.h"
#include "core/redact.h"
#include "net/http.h"
#include "net/retry.h"
#include "sources/rest/auth.h"
#include "sources/rest/paginator.h"
#include "sources/rest/schema_rows.h"

namespace ferry {
namespace {

using json = nlohmann::json;
using rest::Page;
using rest::PageRequest;
using rest::Params;

enum class Format { kDocuments, kJsonLines, kSchemaRows };

// Replaces each "{name}" of `text` by `value`.
std::string fill(std::string text, const std::string& name, const std::string& value) {
  if (name.empty()) return text;
  const std::string token = "{" + name + "}";
  for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at)) {
    text.replace(at, token.size(), value);
    at += value.size();
  }
  return text;
}

json fill_json(const json& v, const std::string& name, const std::string& value) {
  if (v.is_string()) return fill(v.get<std::string>(), name, value);
  if (!v.is_structured()) return v;
  json out = v;
  for (auto& [k, x] : out.items())
    x = fill_json(x, name, value);
  return out;
}

std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

Result<std::chrono::milliseconds> duration_option(const json& o, const std::string& key,
                                                  const char* def) {
  std::string text = o.contains(key) ? scalar_text(o[key]) : def;
  auto secs = parse_duration_seconds(text);
  if (!secs.ok()) return Status::invalid("{}: {}", key, secs.status().message());
  return std::chrono::milliseconds(static_cast<int64_t>(secs.value() * 1000));
}

// What one request chain needs: an endpoint, its params, headers and body.
struct Endpoint {
  std::string url;  // absolute, may hold a query of its own
  std::string method = "GET";
  Params params;
  net::Headers headers;
  std::string body;
};

class RestSource final : public Source {
 public:
  Status open(const SourceContext& ctx) override {
    ctx_ = ctx;
    const json& c = ctx.connection;
    const json& o = ctx.options;
    base_url_ = c.value("base_url", "");
    // "file:api" is a folder of the project: examples and tests serve JSON files without a
    // server (libcurl reads file:// URLs).
    if (base_url_.starts_with("file:") && !base_url_.starts_with("file:/")) {
      base_url_ = "file://" + (std::filesystem::absolute(ctx.project_dir) / base_url_.substr(5))
                                  .lexically_normal()
                                  .string();
    }
    net::HttpOptions http;
    FERRY_ASSIGN(http.timeout, duration_option(c, "timeout", "60s"));
    FERRY_ASSIGN(http.connect_timeout, duration_option(c, "connect_timeout", "10s"));
    http.idle_timeout = http.timeout;
    http.cancelled = [this] { return sink_ != nullptr && sink_->cancelled(); };
    http.verify_tls = c.value("verify_tls", true);
    http.ca_file = c.value("ca_file", "");
    if (!http.verify_tls)
      spdlog::warn("job {}: TLS certificate verification is off (verify_tls: false)", ctx.job_id);
    client_ = std::make_unique<net::HttpClient>(http);

    retry_.max_retries = c.value("max_retries", 5);
    FERRY_ASSIGN(retry_.base_delay, duration_option(c, "retry_backoff", "1s"));
    double rps = c.contains("max_requests_per_second")
                     ? std::stod(scalar_text(c["max_requests_per_second"]))
                     : 0;
    limiter_ = net::RateLimiter::shared(base_url_, rps);
    FERRY_ASSIGN(auth_, rest::make_auth(c.contains("auth") ? c["auth"] : json(), retry_));

    std::string format = o.value("format", "documents");
    if (format == "documents" || format == "json") {
      format_ = Format::kDocuments;
    } else if (format == "jsonl") {
      format_ = Format::kJsonLines;
    } else if (format == "schema_rows") {
      format_ = Format::kSchemaRows;
    } else {
      return Status::invalid("format '{}' is not known (documents, jsonl, schema_rows)", format);
    }
    records_ = o.value("records", "");
    max_pages_ = o.value("max_pages", int64_t{0});
    paginate_ = o.contains("paginate") ? o["paginate"] : json();
    FERRY_TRY(rest::make_paginator(paginate_).status());  // a bad setting fails before any I/O
    if (format_ == Format::kSchemaRows) {
      schema_rows_ = std::make_unique<rest::SchemaRowsReader>(o.value("fields", "/fields"),
                                                              o.value("rows", "/rows"));
    }
    if (o.contains("for_each")) {
      const json& f = o["for_each"];
      if (!f.is_object() || !f.contains("name") || !f["name"].is_string())
        return Status::invalid("for_each needs a name (the {{placeholder}} to fill)");
      if (f.contains("values") == f.contains("from"))
        return Status::invalid("for_each needs either values (a list) or from (an endpoint)");
      if (f.contains("values") && !f["values"].is_array())
        return Status::invalid("for_each.values must be a list");
    }
    return Status::success();
  }

  Result<std::vector<StreamInfo>> discover() override {
    Endpoint e = endpoint(ctx_.options, "", "");
    return std::vector<StreamInfo>{StreamInfo{display(e.url, e.params), {}}};
  }

  Status read(SourceSink& sink) override {
    sink_ = &sink;
    Status st = read_all();
    // Nothing of this read may outlive it: a request still in flight (an error path) would
    // otherwise be dropped by the client's destructor, after the sink, which its cancel
    // callback asks, is gone.
    client_->abandon();
    sink_ = nullptr;
    return st;
  }

 private:
  Status read_all() {
    if (!ctx_.options.contains("for_each")) return read_endpoint(endpoint(ctx_.options, "", ""));
    const json& f = ctx_.options["for_each"];
    const std::string name = f["name"].get<std::string>();
    const std::string column = f.contains("column") ? scalar_text(f["column"]) : name;
    std::vector<std::string> values;
    if (f.contains("values")) {
      for (const json& v : f["values"])
        values.push_back(scalar_text(v));
    } else {
      FERRY_ASSIGN(values, parent_values(f["from"]));
    }
    for (const std::string& value : values) {
      if (!column.empty()) FERRY_TRY(sink_->set_constant(column, value));
      FERRY_TRY(read_endpoint(endpoint(ctx_.options, name, value)));
    }
    if (!column.empty()) FERRY_TRY(sink_->set_constant(column, std::nullopt));
    return Status::success();
  }

  // The endpoint that `o` describes, with "{name}" filled by `value`.
  Endpoint endpoint(const json& o, const std::string& name, const std::string& value) const {
    Endpoint e;
    std::string path = fill(o.value("path", ""), name, value);
    std::string url = fill(o.value("url", ""), name, value);
    if (url.empty()) {
      url = base_url_;
      if (!path.empty()) {
        if (url.ends_with("/") && path.starts_with("/")) url.pop_back();
        if (!url.ends_with("/") && !path.starts_with("/")) url += "/";
        url += path;
      }
    }
    e.url = url;
    e.method = o.value("method", "GET");
    auto add_headers = [&](const json& h) {
      if (!h.is_object()) return;
      for (const auto& [k, v] : h.items())
        e.headers.emplace_back(k, fill(scalar_text(v), name, value));
    };
    add_headers(ctx_.connection.contains("headers") ? ctx_.connection["headers"] : json());
    add_headers(o.contains("headers") ? o["headers"] : json());
    if (o.contains("params") && o["params"].is_object()) {
      for (const auto& [k, v] : o["params"].items()) {
        std::string text = fill(scalar_text(v), name, value);
        if (!text.empty()) e.params.emplace_back(k, text);  // an unset watermark: no param
      }
    }
    if (o.contains("body") && !o["body"].is_null()) {
      e.body = fill_json(o["body"], name, value).dump();
      e.headers.emplace_back("Content-Type", "application/json");
    }
    e.headers.emplace_back("Accept", "application/json");
    return e;
  }

  static std::string with_query(const std::string& url, const Params& params,
                                const std::vector<std::string>& hide) {
    std::string out = url;
    char sep = url.find('?') == std::string::npos ? '?' : '&';
    for (const auto& [k, v] : params) {
      bool secret = std::find(hide.begin(), hide.end(), k) != hide.end();
      out += sep;
      out += net::url_encode(k) + "=" + (secret ? std::string("***") : net::url_encode(v));
      sep = '&';
    }
    return out;
  }

  std::string display(const std::string& url, const Params& params) const {
    return redact(with_query(url, params, auth_->secret_params()));
  }

  // A request ready to go, with what a 401 refresh needs to rebuild it.
  struct Pending {
    net::HttpRequest req;
    Params query;
    std::string url;
  };

  // The request for the page `next` describes; an error when it was requested before.
  Result<Pending> prepare(const Endpoint& e, const PageRequest& next,
                          std::unordered_set<std::string>& seen, int64_t page_no) {
    Pending p;
    p.url = next.url.empty() ? e.url : next.url;
    p.query = next.params;
    p.req.method = e.method;
    p.req.headers = e.headers;
    p.req.body = e.body;
    FERRY_TRY(auth_->apply(*client_, p.req.headers, p.query));
    p.req.url = with_query(p.url, p.query, {});
    p.req.display_url = display(p.url, p.query);
    if (!seen.insert(p.req.url).second) {
      return Status::invalid(
          "pagination does not advance: {} was already requested (page {}); check the job's "
          "paginate settings",
          p.req.display_url, page_no);
    }
    return p;
  }

  // One request chain: every page of an endpoint, each handed to `on_page`. The request for
  // the next page goes out as soon as the current page's body says where it is
  // (HttpClient::start), and its response is read once the current page has been processed
  // (HttpClient::finish): the server prepares page N+1 while page N is normalised and
  // written, on one connection and this one thread, with at most one request in flight.
  template <typename OnPage>
  Status walk(const Endpoint& e, const json& paginate, OnPage&& on_page) {
    FERRY_ASSIGN(auto paginator, rest::make_paginator(paginate));
    PageRequest next{"", e.params};
    paginator->start(next);
    std::unordered_set<std::string> seen;
    FERRY_ASSIGN(Pending current, prepare(e, next, seen, 1));
    FERRY_ASSIGN(net::HttpResponse res, send(current, std::nullopt));
    for (int64_t page_no = 1;; ++page_no) {
      if (sink_->cancelled()) return Status(Code::kCancelled, "cancelled");
      Page page;
      page.response = &res;
      FERRY_TRY(parse(current.req, res, page));
      bool more = true;
      if (max_pages_ > 0 && page_no >= max_pages_) {
        spdlog::warn("job {}: stopped after max_pages {} at {}", ctx_.job_id, max_pages_,
                     current.req.display_url);
        more = false;
      } else {
        FERRY_ASSIGN(more, paginator->next(page, next));
      }
      std::optional<Pending> upcoming;
      if (more) {
        FERRY_ASSIGN(upcoming, prepare(e, next, seen, page_no + 1));
        net::wait_for_turn(hooks());
        client_->start(upcoming->req);
      }
      Status st = on_page(current.req, res, page);
      if (!st.is_ok()) {
        client_->abandon();
        return st;
      }
      if (!more) return Status::success();
      FERRY_ASSIGN(res, send(*upcoming, client_->finish()));
      current = std::move(*upcoming);
    }
  }

  net::RetryHooks hooks() {
    net::RetryHooks hooks;
    hooks.limiter = limiter_;
    hooks.cancelled = [this] { return sink_ != nullptr && sink_->cancelled(); };
    hooks.on_retry = [this](int attempt, const std::string& why, std::chrono::milliseconds wait) {
      spdlog::warn("job {}: retry {} of {} in {} ms: {}", ctx_.job_id, attempt, retry_.max_retries,
                   wait.count(), redact(why));
    };
    return hooks;
  }

  // Sends with retries (`first`: the outcome of a first attempt made with HttpClient::start
  // and finish); a 401 refreshes OAuth2 credentials once; a failed status is an error.
  Result<net::HttpResponse> send(Pending& p, std::optional<Result<net::HttpResponse>> first) {
    const net::RetryHooks retry_hooks = hooks();
    const net::HttpRequest& req = p.req;
    FERRY_ASSIGN(net::HttpResponse res,
                 first
                     ? net::retry_after_first(*client_, req, std::move(*first), retry_, retry_hooks)
                     : net::send_with_retries(*client_, req, retry_, retry_hooks));
    if (res.status == 401 && auth_->refresh()) {
      net::HttpRequest again = req;
      again.headers.clear();
      for (const auto& h : req.headers) {
        if (h.first != "Authorization") again.headers.push_back(h);
      }
      Params query = p.query;
      FERRY_TRY(auth_->apply(*client_, again.headers, query));
      again.url = with_query(p.url, query, {});
      FERRY_ASSIGN(res, net::send_with_retries(*client_, again, retry_, retry_hooks));
    }
    if (res.status >= 400) return Status::io("{}", redact(net::describe_failure(req, res)));
    return res;
  }

  // Parses the body and counts its records; a body that is not what the job expects is an
  // error here, before any of its records reach the sink.
  Status parse(const net::HttpRequest& req, const net::HttpResponse& res, Page& page) {
    if (res.body.empty()) return Status::success();  // 204 or an empty page
    if (format_ == Format::kJsonLines) {
      size_t lines = 0;
      size_t start = 0;
      while (start < res.body.size()) {
        size_t end = res.body.find('\n', start);
        if (end == std::string::npos) end = res.body.size();
        if (res.body.find_first_not_of(" \t\r", start) < end) ++lines;
        start = end + 1;
      }
      page.records = lines;
      return Status::success();
    }
    if (auto err = parser_.parse(res.body).get(page.body)) {
      std::string start = res.body.substr(0, 120);
      for (char& ch : start)
        if (ch == '\n' || ch == '\r') ch = ' ';
      return Status::io("{}: the response is not valid JSON ({}); it starts with: {}",
                        req.display_url, simdjson::error_message(err), start);
    }
    page.has_body = true;
    if (format_ == Format::kSchemaRows) {  // rows are counted here so paginators can stop
      simdjson::dom::element rows;
      simdjson::dom::array list;
      if (!page.body.at_pointer(ctx_.options.value("rows", "/rows")).get(rows) &&
          !rows.get_array().get(list))
        page.records = list.size();
      return Status::success();
    }
    simdjson::dom::element records = page.body;
    if (!records_.empty() && page.body.at_pointer(records_).get(records)) {
      std::string keys;
      if (page.body.is_object()) {
        simdjson::dom::object top;
        if (!page.body.get_object().get(top)) {
          for (auto [k, v] : top)
            keys += (keys.empty() ? "" : ", ") + std::string(k);
        }
      }
      return Status::io("{}: the response has no records at {} (its top-level keys: {})",
                        req.display_url, records_, keys.empty() ? "none" : keys);
    }
    simdjson::dom::array items;
    if (!records.get_array().get(items)) {
      page.records = items.size();
    } else {
      page.records = records.is_null() ? 0 : 1;
    }
    return Status::success();
  }

  Status read_endpoint(const Endpoint& e) {
    std::vector<Reject> rejects;
    return walk(e, paginate_,
                [&](const net::HttpRequest& req, const net::HttpResponse& res, Page& page) {
                  if (res.body.empty()) return Status::success();
                  Origin origin{req.display_url, 1, -1};
                  if (format_ == Format::kJsonLines)
                    return sink_->json(res.body, JsonLayout::kLines, "", origin);
                  if (format_ == Format::kDocuments) {
                    // The page is parsed already (for its cursor): hand over the records.
                    simdjson::dom::element records = page.body;
                    if (!records_.empty() && page.body.at_pointer(records_).get(records))
                      return Status::invalid("{}: no records at {}", origin.source, records_);
                    return sink_->records(records, origin);
                  }
                  rejects.clear();
                  batch_.clear();
                  FERRY_TRY(schema_rows_->read(page.body, origin, batch_, rejects).status());
                  for (Reject& r : rejects)
                    FERRY_TRY(sink_->reject(std::move(r)));
                  if (batch_.num_rows() > 0) FERRY_TRY(sink_->rows(batch_));
                  return Status::success();
                });
  }

  // The values of for_each.from: a field of each record of a parent endpoint.
  Result<std::vector<std::string>> parent_values(const json& from) {
    if (!from.is_object()) return Status::invalid("for_each.from must be a map (path, field)");
    std::string field = from.value("field", "/id");
    if (!field.starts_with("/")) field = "/" + field;
    std::string pointer = from.value("records", "");
    Endpoint e = endpoint(from, "", "");
    std::vector<std::string> values;
    Format saved = format_;
    std::string saved_records = records_;
    format_ = Format::kDocuments;
    records_ = pointer;
    Status st = walk(
        e, from.contains("paginate") ? from["paginate"] : json(),
        [&](const net::HttpRequest& req, const net::HttpResponse&, Page& page) {
          if (!page.has_body) return Status::success();
          simdjson::dom::element list = page.body;
          if (!pointer.empty() && page.body.at_pointer(pointer).get(list)) return Status::success();
          simdjson::dom::array items;
          if (list.get_array().get(items)) return Status::success();
          for (simdjson::dom::element r : items) {
            simdjson::dom::element v;
            if (r.at_pointer(field).get(v) || v.is_null()) {
              return Status::invalid("{}: a record has no value at {}", req.display_url, field);
            }
            std::string_view text;
            values.push_back(v.get_string().get(text) ? simdjson::minify(v) : std::string(text));
          }
          return Status::success();
        });
    format_ = saved;
    records_ = saved_records;
    FERRY_TRY(st);
    return values;
  }

  SourceContext ctx_;
  SourceSink* sink_ = nullptr;
  std::string base_url_;
  std::unique_ptr<net::HttpClient> client_;  // one connection: every request of the run
  net::RetryPolicy retry_;
  std::shared_ptr<net::RateLimiter> limiter_;
  std::unique_ptr<rest::Auth> auth_;
  Format format_ = Format::kDocuments;
  std::string records_;
  int64_t max_pages_ = 0;
  json paginate_;
  std::unique_ptr<rest::SchemaRowsReader> schema_rows_;
  simdjson::dom::parser parser_;
  Batch batch_;
};

}  // namespace

SourceDescriptor rest_source_descriptor() {
  using T = OptionType;
  SourceDescriptor d;
  d.decl.kind = "http";
  d.decl.description =
      "A JSON API over HTTP(S): pagination, auth, retries, incremental loads (the rest source).";
  d.decl.is_source = true;
  d.decl.connection_options = {
      {"base_url", T::kString, "", "Start of every request URL, e.g. https://api.example/v2.", true,
       false},
      {"auth", T::kMap, "",
       "{type: none|bearer|basic|api_key|oauth2, ...}: bearer `token`; basic `username`, "
       "`password`; api_key `name` (X-API-Key), `value`, `in` (header|query); oauth2 "
       "`token_url`, `client_id`, `client_secret`, `scope` (client credentials grant). Secret "
       "values come from ${ENV}.",
       false, false},
      {"headers", T::kMap, "", "Headers sent with every request.", false, false},
      {"max_requests_per_second", T::kAny, "", "Rate limit shared by all jobs on the connection.",
       false, false},
      {"max_retries", T::kInt, "5",
       "Retries of one request on 429, 5xx, timeouts and resets (exponential backoff with "
       "jitter; Retry-After honoured).",
       false, false},
      {"retry_backoff", T::kDuration, "1s", "Delay before the first retry; doubles each time.",
       false, false},
      {"timeout", T::kDuration, "60s", "Limit for one request.", false, false},
      {"connect_timeout", T::kDuration, "10s", "Limit for connecting.", false, false},
      {"ca_file", T::kString, "", "PEM file of the CA that signs the server's certificate.", false,
       false},
      {"verify_tls", T::kBool, "true", "Verify TLS certificates (turning this off is warned).",
       false, false},
  };
  d.decl.source_options = {
      {"path", T::kString, "", "Endpoint path under base_url, e.g. /stores/{{store_id}}/orders.",
       false, false},
      {"url", T::kString, "", "Absolute URL instead of base_url + path.", false, false},
      {"method", T::kString, "GET", "GET or POST.", false, false},
      {"params", T::kMap, "",
       "Query parameters; `{{watermark}}` sends the last loaded cursor value. Empty values are "
       "not sent.",
       false, false},
      {"headers", T::kMap, "", "Headers of this job's requests.", false, false},
      {"body", T::kAny, "", "JSON body (sent with Content-Type application/json).", false, false},
      {"format", T::kString, "documents",
       "documents (nested JSON, normalised) | jsonl (JSON Lines body) | schema_rows (JSON with "
       "its own field list).",
       false, false},
      {"records", T::kString, "",
       "JSON pointer to the records array, e.g. /data/items (default: the body).", false, false},
      {"fields", T::kString, "/fields", "schema_rows: JSON pointer to the field list.", false,
       false},
      {"rows", T::kString, "/rows", "schema_rows: JSON pointer to the rows.", false, false},
      {"paginate", T::kAny, "",
       "{type: none | page_number (param, start, total_pages) | offset (param, limit_param, "
       "start, limit, total) | cursor (cursor, param) | next_url (next) | link_header}; "
       "pointers are JSON pointers into the body.",
       false, false},
      {"max_pages", T::kInt, "", "Stop after this many pages (a guard).", false, false},
      {"for_each", T::kMap, "",
       "Fan out: {name, values: [...]} or {name, from: {path, records, field, paginate}}; "
       "`{name}` in path/params/headers/body is replaced per value and the value is added as "
       "column `name` (or `column`; \"\" for none).",
       false, false},
  };
  d.create = [] { return std::make_unique<RestSource>(); };
  return d;
}

}  // namespace ferry
