#include "servers/api_server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>

namespace ferry::testing {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// ---------------------------------------------------------------- the data set

// Every order's timestamp counts minutes from here: 2024-01-01T00:00:00Z.
constexpr std::int64_t kEpochBase = 1704067200;
// Larger pages are refused, so a client bug cannot make the server build a huge body.
constexpr int kMaxPageSize = 10000;

const char* const kStatuses[] = {"new", "paid", "shipped"};
// One non-ASCII city keeps UTF-8 passing through honestly.
const char* const kCities[] = {"Berlin", "Lisbon", "Oslo", "Austin", "Zürich"};

// Formatting below avoids printf and strftime: the benchmark serves 200,000 orders, and the
// server shares the machine with the client being measured.

// `v` as exactly `width` digits, zero-padded. REQUIRES: 0 <= v < 10^width.
void append_digits(std::string& out, std::int64_t v, int width) {
  char buf[20];
  for (int k = width - 1; k >= 0; --k) {
    buf[k] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(buf, static_cast<size_t>(width));
}

std::string iso_utc(std::int64_t epoch_seconds) {
  using namespace std::chrono;
  const sys_seconds t{seconds{epoch_seconds}};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  std::string out;
  out.reserve(20);
  append_digits(out, static_cast<int>(ymd.year()), 4);
  out += '-';
  append_digits(out, static_cast<unsigned>(ymd.month()), 2);
  out += '-';
  append_digits(out, static_cast<unsigned>(ymd.day()), 2);
  out += 'T';
  append_digits(out, hms.hours().count(), 2);
  out += ':';
  append_digits(out, hms.minutes().count(), 2);
  out += ':';
  append_digits(out, hms.seconds().count(), 2);
  out += 'Z';
  return out;
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Money as a JSON number with exactly two decimals ("12.30"), as payment APIs print it.
// REQUIRES: cents >= 0.
void append_cents(std::string& out, std::int64_t cents) {
  append_int(out, cents / 100);
  out += '.';
  append_digits(out, cents % 100, 2);
}

// Order i, serialised. This text is the single definition of the data set: every endpoint
// serves it and ApiServer::order() parses it, so tests and server cannot disagree. It is
// written by hand rather than through nlohmann::json for speed (see above).
void append_order(std::string& out, int i) {
  const int c = i % 50;
  const int n_items = i % 3 + 1;
  std::int64_t item_cents[3];
  std::int64_t total = 0;
  for (int k = 1; k <= n_items; ++k) {
    item_cents[k - 1] = 100 + (i * 37 + k * 211) % 9900;  // 1.00 .. 99.99
    total += item_cents[k - 1] * k;
  }
  out += R"({"id":)";
  append_int(out, i);
  out += R"(,"updated_at":")";
  out += ApiServer::updated_at(i);
  out += R"(","status":")";
  out += kStatuses[i % 3];
  out += R"(","total":)";
  append_cents(out, total);
  out += R"(,"customer":{"id":)";
  append_int(out, 1000 + c);
  out += R"(,"name":"Customer )";
  append_int(out, c);
  out += R"(","address":{"city":")";
  out += kCities[c % 5];
  // A string of digits with leading zeros for some customers ("00000" for customer 0), so
  // a loader that guesses "number" from the text loses data visibly.
  out += R"(","zip":")";
  append_digits(out, (c * 1931) % 100000, 5);
  out += R"("}},"items":[)";
  for (int k = 1; k <= n_items; ++k) {
    if (k > 1) out += ',';
    out += R"({"sku":"SKU-)";
    append_int(out, k);
    out += R"(","qty":)";
    append_int(out, k);
    out += R"(,"price":)";
    append_cents(out, item_cents[k - 1]);
    out += '}';
  }
  out += R"(],"tags":)";
  out += (i % 2 == 0) ? R"(["vip","new"])" : "[]";
  out += '}';
}

// ---- the catalog: three pages of ten products, schema first, rows positional

constexpr int kCatalogPages = 3;
constexpr int kCatalogRowsPerPage = 10;
constexpr int kCatalogShortRow = 14;  // on page 2: its last value (attrs) is missing
constexpr int kCatalogNullStock = 7;  // on page 1: stock is null

ordered_json catalog_fields(int page) {
  ordered_json fields = ordered_json::array();
  const char* const base[][2] = {
      {"sku", "string"},     {"name", "varchar"},  {"price", "decimal"},     {"stock", "integer"},
      {"active", "boolean"}, {"released", "date"}, {"updated", "timestamp"}, {"attrs", "json"}};
  for (const auto& f : base)
    fields.push_back({{"name", f[0]}, {"type", f[1]}});
  // A field that appears only on the last page: the table must evolve mid-run.
  if (page >= kCatalogPages) fields.push_back({{"name", "weight_kg"}, {"type", "double"}});
  return fields;
}

// Product r (1-based over all pages) as values in field order; `with_weight` adds page 3's
// extra field.
std::vector<ordered_json> catalog_values(int r, bool with_weight) {
  const char* const colors[] = {"red", "green", "blue", "black"};
  char sku[16], released[16];
  std::snprintf(sku, sizeof sku, "CAT-%03d", r);
  std::snprintf(released, sizeof released, "2023-%02d-%02d", r % 12 + 1, r % 28 + 1);
  ordered_json sizes = ordered_json::array();
  for (int s = 0; s <= r % 3; ++s)
    sizes.push_back(std::string(1, "SML"[s]));
  std::vector<ordered_json> v = {
      sku,
      "Product " + std::to_string(r),
      (r * 125 + 99) / 100.0,  // decimal: 2.24, 3.49, ...
      r == kCatalogNullStock ? ordered_json(nullptr) : ordered_json((r * 7) % 50),
      r % 4 != 0,
      released,
      iso_utc(kEpochBase + 31 * 86400 + 36000 + r * 3600),  // 2024-02-01T10:00:00Z + r hours
      ordered_json{{"color", colors[r % 4]}, {"sizes", sizes}},
  };
  if (with_weight) v.emplace_back(r * 0.125 + 0.5);  // exact in binary: no rounding noise
  if (r == kCatalogShortRow) v.pop_back();
  return v;
}

ordered_json catalog_page_ordered(int page) {
  ordered_json body;
  body["schema"] = {{"fields", catalog_fields(std::clamp(page, 1, kCatalogPages))}};
  body["rows"] = ordered_json::array();
  if (page >= 1 && page <= kCatalogPages) {
    for (int r = (page - 1) * kCatalogRowsPerPage + 1; r <= page * kCatalogRowsPerPage; ++r)
      body["rows"].push_back(catalog_values(r, page == kCatalogPages));
  }
  body["next_page"] = (page >= 1 && page < kCatalogPages) ? ordered_json(page + 1) : nullptr;
  return body;
}

ordered_json catalog_objects_ordered() {
  ordered_json body = catalog_page_ordered(1);
  ordered_json objects = ordered_json::array();
  for (const auto& row : body["rows"]) {
    ordered_json obj = ordered_json::object();
    for (size_t f = 0; f < row.size(); ++f)
      obj[body["schema"]["fields"][f]["name"].get<std::string>()] = row[f];
    objects.push_back(std::move(obj));
  }
  body["rows"] = std::move(objects);
  body["next_page"] = nullptr;
  return body;
}

// ---------------------------------------------------------------- small parsers

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding: %XX and '+' as a space. A malformed escape is
// kept literally, as browsers do.
std::string form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::multimap<std::string, std::string> parse_form(std::string_view s) {
  std::multimap<std::string, std::string> out;
  while (!s.empty()) {
    size_t amp = s.find('&');
    std::string_view pair = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view{} : s.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      out.emplace(form_decode(pair), "");
    } else {
      out.emplace(form_decode(pair.substr(0, eq)), form_decode(pair.substr(eq + 1)));
    }
  }
  return out;
}

std::string first_of(const std::multimap<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? std::string{} : it->second;
}

std::optional<std::string> base64_decode(std::string_view s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!s.empty() && s.back() == '=')
    s.remove_suffix(1);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// "Scheme credentials" from an Authorization header value; the scheme is case-insensitive
// (RFC 9110). nullopt when the scheme differs.
std::optional<std::string> auth_credentials(const httplib::Request& req, std::string_view scheme) {
  std::string v = req.get_header_value("Authorization");
  if (v.size() <= scheme.size() + 1 || v[scheme.size()] != ' ' ||
      !iequals(std::string_view(v).substr(0, scheme.size()), scheme))
    return std::nullopt;
  return v.substr(scheme.size() + 1);
}

// "user:password" from a Basic Authorization header (the password may contain ':').
std::optional<std::pair<std::string, std::string>> basic_credentials(const httplib::Request& req) {
  auto b64 = auth_credentials(req, "Basic");
  if (!b64) return std::nullopt;
  auto decoded = base64_decode(*b64);
  if (!decoded) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

// ISO-8601 -> milliseconds since the epoch: "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]"
// ('T' or a space; no zone means UTC). nullopt on anything else, so a client that sends
// "+00:00" unencoded (decoded as a space) is told, not silently mis-served.
std::optional<std::int64_t> parse_iso_ms(const std::string& s) {
  int y, mo, d, h, mi, sec, consumed = 0;
  char sep;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &sec,
                  &consumed) != 7 ||
      consumed != 19 || (sep != 'T' && sep != ' '))
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  std::int64_t ms = static_cast<std::int64_t>(timegm(&tm)) * 1000;
  size_t p = 19;
  if (p < s.size() && s[p] == '.') {
    std::int64_t scale = 100;
    for (++p; p < s.size() && std::isdigit(static_cast<unsigned char>(s[p])); ++p) {
      ms += (s[p] - '0') * scale;
      scale /= 10;
    }
  }
  if (p == s.size()) return ms;
  if (s[p] == 'Z' && p + 1 == s.size()) return ms;
  int oh, om;
  if ((s[p] == '+' || s[p] == '-') && s.size() - p == 6 &&
      std::sscanf(s.c_str() + p + 1, "%2d:%2d", &oh, &om) == 2) {
    std::int64_t offset = (oh * 60 + om) * 60000LL;
    return s[p] == '+' ? ms - offset : ms + offset;
  }
  return std::nullopt;
}

// An integer query parameter: `fallback` when absent; nullopt when present but not an
// integer in [min, max].
std::optional<int> int_param(const httplib::Request& req, const char* name, int fallback, int min,
                             int max) {
  if (!req.has_param(name)) return fallback;
  std::string v = req.get_param_value(name);
  int out = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (r.ec != std::errc{} || r.ptr != v.data() + v.size() || out < min || out > max)
    return std::nullopt;
  return out;
}

std::int64_t steady_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char* const kProtectedBody = R"([{"id":1,"ok":true},{"id":2,"ok":true},{"id":3,"ok":true}])";

}  // namespace

// ---------------------------------------------------------------- Fault and LoggedRequest

namespace {
const std::pair<const char*, Fault::Kind> kFaultKinds[] = {
    {"status_429", Fault::Kind::kStatus429}, {"status_500", Fault::Kind::kStatus500},
    {"status_404", Fault::Kind::kStatus404}, {"html_502", Fault::Kind::kHtml502},
    {"delay", Fault::Kind::kDelay},          {"truncated", Fault::Kind::kTruncated},
    {"not_json", Fault::Kind::kNotJson},     {"repeat_cursor", Fault::Kind::kRepeatCursor},
};
}  // namespace

std::optional<Fault::Kind> parse_fault_kind(const std::string& name) {
  for (const auto& [n, k] : kFaultKinds)
    if (name == n) return k;
  return std::nullopt;
}

std::string fault_kind_name(Fault::Kind kind) {
  for (const auto& [n, k] : kFaultKinds)
    if (k == kind) return n;
  return "?";
}

std::optional<Fault> fault_from_json(const json& j, std::string& error) {
  if (!j.is_object()) {
    error = "a fault is a JSON object";
    return std::nullopt;
  }
  Fault f;
  auto get_string = [&](const char* key, std::string& out, bool required) {
    if (!j.contains(key)) {
      if (required) error = std::string("missing \"") + key + "\"";
      return !required;
    }
    if (!j[key].is_string()) {
      error = std::string("\"") + key + "\" must be a string";
      return false;
    }
    out = j[key].get<std::string>();
    return true;
  };
  auto get_int = [&](const char* key, int& out) {
    if (!j.contains(key)) return true;
    if (!j[key].is_number_integer()) {
      error = std::string("\"") + key + "\" must be an integer";
      return false;
    }
    out = j[key].get<int>();
    return true;
  };
  std::string kind;
  if (!get_string("path", f.path, true) || !get_string("kind", kind, true) ||
      !get_string("match_param", f.match_param, false) ||
      !get_string("match_value", f.match_value, false) || !get_int("times", f.times) ||
      !get_int("retry_after_seconds", f.retry_after_seconds) || !get_int("delay_ms", f.delay_ms))
    return std::nullopt;
  auto k = parse_fault_kind(kind);
  if (!k) {
    error = "unknown fault kind \"" + kind + "\"";
    return std::nullopt;
  }
  f.kind = *k;
  return f;
}

std::string LoggedRequest::param(const std::string& name) const {
  return first_of(params, name);
}

std::string LoggedRequest::header(const std::string& lower_name) const {
  return first_of(headers, lower_name);
}

json LoggedRequest::to_json() const {
  json p = json::object(), h = json::object();
  for (const auto& [k, v] : params)
    p[k].push_back(v);
  for (const auto& [k, v] : headers)
    h[k].push_back(v);
  return {{"method", method}, {"path", path}, {"params", p}, {"headers", h}, {"body", body}};
}

// ---------------------------------------------------------------- ApiServer: lifecycle

ApiServer::ApiServer(Options options)
    : options_(options), server_(std::make_unique<httplib::Server>()) {
  // Short enough that stop() does not wait long for an idle keep-alive connection (a worker
  // only notices the stop between requests), long enough for any client to reuse it.
  server_->set_keep_alive_timeout(2);
  // cpp-httplib closes a keep-alive connection after 5 requests by default, so a client that
  // reuses its connection would reconnect every 5 pages; real servers allow far more (nginx:
  // 1000 requests per connection, cloud load balancers: unlimited).
  server_->set_keep_alive_max_count(1000);
  // httplib writes the headers and the body in two send()s; with Nagle on, the body waits for
  // the client's (delayed, up to 40 ms) ACK of the headers on every reused connection, which
  // would make keep-alive clients look slow. Real servers set TCP_NODELAY (or cork) too.
  server_->set_tcp_nodelay(true);

  route("GET", "/orders", &ApiServer::get_orders);
  route("GET", "/orders_by_page", &ApiServer::get_orders_by_page);
  route("GET", "/orders_by_offset", &ApiServer::get_orders_by_offset);
  route("GET", "/orders_linked", &ApiServer::get_orders_linked);
  route("GET", "/orders_next_url", &ApiServer::get_orders_next_url);
  route("GET", R"(/orders\.jsonl)", &ApiServer::get_orders_jsonl);
  route("GET", "/catalog", &ApiServer::get_catalog);
  route("GET", "/catalog_objects", &ApiServer::get_catalog_objects);
  route("GET", "/auth/bearer", &ApiServer::get_auth_bearer);
  route("GET", "/auth/basic", &ApiServer::get_auth_basic);
  route("GET", "/auth/header_key", &ApiServer::get_auth_header_key);
  route("GET", "/auth/query_key", &ApiServer::get_auth_query_key);
  route("GET", "/auth/oauth", &ApiServer::get_auth_oauth);
  route("POST", "/oauth/token", &ApiServer::post_oauth_token);

  // Control endpoints: not logged, never faulted.
  server_->Post("/_control/fault", [this](const httplib::Request& req, httplib::Response& res) {
    std::string error;
    auto body = json::parse(req.body, nullptr, false);
    auto fault = fault_from_json(body, error);
    if (!fault) return send_error(res, 400, error);
    set_fault(*fault);
    send_json(res, {{"ok", true}});
  });
  server_->Delete("/_control/fault", [this](const httplib::Request&, httplib::Response& res) {
    clear_faults();
    send_json(res, {{"ok", true}});
  });
  server_->Get("/_control/faults", [this](const httplib::Request&, httplib::Response& res) {
    json out = json::array();
    for (const auto& f : faults())
      out.push_back({{"path", f.path},
                     {"match_param", f.match_param},
                     {"match_value", f.match_value},
                     {"kind", fault_kind_name(f.kind)},
                     {"times", f.times},
                     {"retry_after_seconds", f.retry_after_seconds},
                     {"delay_ms", f.delay_ms}});
    send_json(res, out);
  });
  server_->Get("/_control/requests", [this](const httplib::Request& req, httplib::Response& res) {
    json out = json::array();
    for (const auto& r : requests(req.get_param_value("path")))
      out.push_back(r.to_json());
    send_json(res, out);
  });
  server_->Delete("/_control/requests", [this](const httplib::Request&, httplib::Response& res) {
    clear_log();
    send_json(res, {{"ok", true}});
  });
  server_->Post("/_control/revoke_tokens", [this](const httplib::Request&, httplib::Response& res) {
    revoke_tokens();
    send_json(res, {{"ok", true}});
  });

  // Anything else is a logged 404, so a test sees a wrong path in the log.
  route("GET", ".*", &ApiServer::not_found);
  route("POST", ".*", &ApiServer::not_found);
}

ApiServer::~ApiServer() {
  stop();
}

int ApiServer::start() {
  // A client that gives up (a timeout test) leaves the server writing to a closed socket;
  // that must be an error return, not a signal that kills the test binary.
  std::signal(SIGPIPE, SIG_IGN);
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port("127.0.0.1");
  } else {
    port_ = server_->bind_to_port("127.0.0.1", options_.port) ? options_.port : -1;
  }
  if (port_ < 0) return -1;
  auto listen_done = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::thread([this, listen_done] {
    server_->listen_after_bind();
    *listen_done = true;
  });
  // httplib's stop() is a no-op until the accept loop runs, so wait for it: a stop() right
  // after start() must not leave the thread blocked in accept forever. The socket already
  // listens (bind_to_* listen()s), so connections made meanwhile simply queue.
  while (!server_->is_running() && !*listen_done)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port_;
}

void ApiServer::stop() {
  if (stopped_ || !thread_.joinable()) {
    stopped_ = true;
    return;
  }
  stopped_ = true;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stopping_cv_.notify_all();  // wake requests sleeping in a `delay` fault
  server_->stop();
  thread_.join();  // listen_after_bind() returns once its thread pool has drained
}

std::string ApiServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

// ---------------------------------------------------------------- the data set

std::string ApiServer::updated_at(int i) {
  return iso_utc(kEpochBase + 60LL * i);
}

json ApiServer::order(int i) {
  std::string text;
  append_order(text, i);
  return json::parse(text);
}

json ApiServer::catalog_page(int page) {
  return json::parse(catalog_page_ordered(page).dump());
}

json ApiServer::catalog_objects() {
  return json::parse(catalog_objects_ordered().dump());
}

std::string ApiServer::orders_array(int first, int last) const {
  std::string out = "[";
  out.reserve(static_cast<size_t>(std::max(0, last - first + 1)) * 360 + 2);
  for (int i = first; i <= last; ++i) {
    if (i > first) out += ',';
    append_order(out, i);
  }
  out += ']';
  return out;
}

// ---------------------------------------------------------------- faults, tokens, log

void ApiServer::set_fault(Fault fault) {
  std::lock_guard lock(mu_);
  if (fault.times != 0) faults_.push_back(std::move(fault));
}

void ApiServer::clear_faults() {
  std::lock_guard lock(mu_);
  faults_.clear();
}

std::vector<Fault> ApiServer::faults() const {
  std::lock_guard lock(mu_);
  return faults_;
}

void ApiServer::revoke_tokens() {
  std::lock_guard lock(mu_);
  tokens_.clear();
}

int ApiServer::tokens_issued() const {
  std::lock_guard lock(mu_);
  return tokens_issued_;
}

std::vector<LoggedRequest> ApiServer::requests(const std::string& path) const {
  std::lock_guard lock(mu_);
  if (path.empty()) return log_;
  std::vector<LoggedRequest> out;
  for (const auto& r : log_)
    if (r.path == path) out.push_back(r);
  return out;
}

void ApiServer::clear_log() {
  std::lock_guard lock(mu_);
  log_.clear();
}

// REQUIRES: mu_ held.
std::optional<Fault> ApiServer::take_fault(const LoggedRequest& request) {
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->path != request.path) continue;
    if (!it->match_param.empty()) {
      auto [lo, hi] = request.params.equal_range(it->match_param);
      if (std::none_of(lo, hi, [&](const auto& kv) { return kv.second == it->match_value; }))
        continue;
    }
    if (it->kind == Fault::Kind::kRepeatCursor && !request.has_param("cursor")) continue;
    Fault hit = *it;
    if (it->times > 0 && --it->times == 0) faults_.erase(it);
    return hit;
  }
  return std::nullopt;
}

void ApiServer::sleep_unless_stopping(int ms) {
  std::unique_lock lock(mu_);
  stopping_cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
}

void ApiServer::route(const char* method, const char* pattern, Endpoint endpoint) {
  auto handler = [this, endpoint](const httplib::Request& req, httplib::Response& res) {
    serve(req, res, endpoint);
  };
  if (std::string_view(method) == "POST") {
    server_->Post(pattern, handler);
  } else {
    server_->Get(pattern, handler);
  }
}

void ApiServer::serve(const httplib::Request& req, httplib::Response& res, Endpoint endpoint) {
  LoggedRequest logged;
  logged.method = req.method;
  logged.path = req.path;
  // From the raw target rather than req.params: for a form POST httplib mixes the body's
  // fields into req.params, and the log should show what was in the URL.
  size_t q = req.target.find('?');
  if (q != std::string::npos)
    logged.params = parse_form(std::string_view(req.target).substr(q + 1));
  for (const auto& [name, value] : req.headers) {
    // httplib files the peer's address among the headers; it was not sent by the client.
    if (name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" ||
        name == "LOCAL_PORT")
      continue;
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    logged.headers.emplace(std::move(lower), value);
  }
  logged.body = req.body;

  std::optional<Fault> fault;
  {
    std::lock_guard lock(mu_);
    fault = take_fault(logged);
    log_.push_back(std::move(logged));
  }

  Hit hit;
  if (fault) {
    const std::string why = "injected fault: " + fault_kind_name(fault->kind);
    switch (fault->kind) {
      case Fault::Kind::kStatus429:
        res.set_header("Retry-After", std::to_string(fault->retry_after_seconds));
        return send_error(res, 429, why);
      case Fault::Kind::kStatus500:
        return send_error(res, 500, why);
      case Fault::Kind::kStatus404:
        return send_error(res, 404, why);
      case Fault::Kind::kHtml502:
        res.status = 502;
        res.set_content("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html");
        return;
      case Fault::Kind::kNotJson:
        res.set_content("hello", "text/plain");
        return;
      case Fault::Kind::kDelay:
        sleep_unless_stopping(fault->delay_ms);
        break;
      case Fault::Kind::kRepeatCursor:
        hit.repeat_cursor = true;
        break;
      case Fault::Kind::kTruncated:
        break;  // below, once the endpoint has made the full body
    }
  }

  (this->*endpoint)(req, res, hit);

  if (fault && fault->kind == Fault::Kind::kTruncated) {
    // Announce the whole body's length but write only its first half, then report failure:
    // httplib then abandons the response and closes the connection, so the client sees a
    // short read (curl: "transfer closed with N bytes remaining to read"). httplib never
    // compresses a content provider with a length, so the half is of the bytes on the wire.
    std::string type = res.get_header_value("Content-Type");
    res.headers.erase("Content-Type");
    auto body = std::make_shared<std::string>(std::move(res.body));
    res.body.clear();
    res.set_content_provider(body->size(), type,
                             [body](size_t offset, size_t, httplib::DataSink& sink) {
                               size_t half = body->size() / 2;
                               if (offset < half) sink.write(body->data() + offset, half - offset);
                               return false;
                             });
  }
}

// ---------------------------------------------------------------- responses

void ApiServer::send_json_text(httplib::Response& res, std::string body, int status) const {
  res.status = status;
  // httplib compresses only the exact type "application/json" (when the client accepts it).
  res.set_content(std::move(body),
                  options_.compress ? "application/json" : "application/json; charset=utf-8");
}

void ApiServer::send_json(httplib::Response& res, const json& body, int status) const {
  send_json_text(res, body.dump(), status);
}

void ApiServer::send_error(httplib::Response& res, int status, const std::string& message) const {
  const char* code = status == 400   ? "bad_request"
                     : status == 401 ? "unauthorized"
                     : status == 404 ? "not_found"
                     : status == 429 ? "rate_limited"
                                     : "internal_error";
  send_json(res, {{"error", code}, {"message", message}}, status);
}

std::string ApiServer::link(const std::string& path, int page, int per_page) const {
  return base_url() + path + "?page=" + std::to_string(page) +
         "&per_page=" + std::to_string(per_page);
}

// ---------------------------------------------------------------- the order endpoints

void ApiServer::get_orders(const httplib::Request& req, httplib::Response& res, const Hit& hit) {
  const int n = options_.orders;
  auto limit = int_param(req, "limit", options_.page_size, 1, kMaxPageSize);
  if (!limit) return send_error(res, 400, "limit must be an integer in 1..10000");
  int first = 1;
  std::string cursor = req.get_param_value("cursor");
  if (req.has_param("cursor")) {
    // The cursor is "c<id of the last order sent>"; clients must treat it as opaque.
    int last = 0;
    auto r = std::from_chars(cursor.data() + std::min<size_t>(1, cursor.size()),
                             cursor.data() + cursor.size(), last);
    if (cursor.size() < 2 || cursor[0] != 'c' || r.ec != std::errc{} ||
        r.ptr != cursor.data() + cursor.size() || last < 0)
      return send_error(res, 400, "invalid cursor \"" + cursor + "\"");
    first = last + 1;
  }
  if (req.has_param("updated_since")) {
    auto since = parse_iso_ms(req.get_param_value("updated_since"));
    if (!since) {
      return send_error(res, 400,
                        "updated_since must be an ISO-8601 timestamp, got \"" +
                            req.get_param_value("updated_since") + "\"");
    }
    // Order i is updated at base + i minutes: the first one at or after `since`.
    std::int64_t delta = *since - kEpochBase * 1000;
    std::int64_t first_since = delta <= 0 ? 1 : (delta + 59999) / 60000;
    first = static_cast<int>(std::clamp<std::int64_t>(first_since, first, n + 1LL));
  }
  int last = std::min(n, first + *limit - 1);
  std::string body = R"({"data":)";
  body += orders_array(first, last);
  body += R"(,"meta":{"next_cursor":)";
  if (hit.repeat_cursor) {
    body += json(cursor).dump();
  } else if (first <= n && last < n) {
    body += "\"c" + std::to_string(last) + "\"";
  } else {
    body += "null";
  }
  body += "}}";
  send_json_text(res, std::move(body));
}

void ApiServer::get_orders_by_page(const httplib::Request& req, httplib::Response& res,
                                   const Hit&) {
  auto page = int_param(req, "page", 1, 1, 1 << 30);
  auto per_page = int_param(req, "per_page", options_.page_size, 1, kMaxPageSize);
  if (!page || !per_page) return send_error(res, 400, "page >= 1 and per_page in 1..10000");
  const int n = options_.orders;
  int total_pages = (n + *per_page - 1) / *per_page;
  std::int64_t first = (*page - 1LL) * *per_page + 1;
  int last = static_cast<int>(std::min<std::int64_t>(n, first + *per_page - 1));
  std::string body = R"({"items":)";
  body += first <= n ? orders_array(static_cast<int>(first), last) : "[]";
  body += R"(,"total_pages":)" + std::to_string(total_pages) + "}";
  send_json_text(res, std::move(body));
}

void ApiServer::get_orders_by_offset(const httplib::Request& req, httplib::Response& res,
                                     const Hit&) {
  auto offset = int_param(req, "offset", 0, 0, 1 << 30);
  auto limit = int_param(req, "limit", options_.page_size, 1, kMaxPageSize);
  if (!offset || !limit) return send_error(res, 400, "offset >= 0 and limit in 1..10000");
  const int n = options_.orders;
  std::int64_t first = *offset + 1LL;
  int last = static_cast<int>(std::min<std::int64_t>(n, first + *limit - 1));
  std::string body = R"({"results":)";
  body += first <= n ? orders_array(static_cast<int>(first), last) : "[]";
  body += R"(,"total":)" + std::to_string(n) + "}";
  send_json_text(res, std::move(body));
}

void ApiServer::get_orders_linked(const httplib::Request& req, httplib::Response& res, const Hit&) {
  auto page = int_param(req, "page", 1, 1, 1 << 30);
  auto per_page = int_param(req, "per_page", options_.page_size, 1, kMaxPageSize);
  if (!page || !per_page) return send_error(res, 400, "page >= 1 and per_page in 1..10000");
  const int n = options_.orders;
  int total_pages = std::max(1, (n + *per_page - 1) / *per_page);
  std::int64_t first = (*page - 1LL) * *per_page + 1;
  int last = static_cast<int>(std::min<std::int64_t>(n, first + *per_page - 1));
  // Several relations in one header, "next" neither first nor last, so a client has to
  // parse the list rather than take the first URL it sees.
  std::string links = "<" + link("/orders_linked", 1, *per_page) + ">; rel=\"first\"";
  if (*page > 1) links += ", <" + link("/orders_linked", *page - 1, *per_page) + ">; rel=\"prev\"";
  if (*page < total_pages)
    links += ", <" + link("/orders_linked", *page + 1, *per_page) + ">; rel=\"next\"";
  links += ", <" + link("/orders_linked", total_pages, *per_page) + ">; rel=\"last\"";
  res.set_header("Link", links);
  send_json_text(res, first <= n ? orders_array(static_cast<int>(first), last) : "[]");
}

void ApiServer::get_orders_next_url(const httplib::Request& req, httplib::Response& res,
                                    const Hit&) {
  auto page = int_param(req, "page", 1, 1, 1 << 30);
  auto per_page = int_param(req, "per_page", options_.page_size, 1, kMaxPageSize);
  if (!page || !per_page) return send_error(res, 400, "page >= 1 and per_page in 1..10000");
  const int n = options_.orders;
  std::int64_t first = (*page - 1LL) * *per_page + 1;
  int last = static_cast<int>(std::min<std::int64_t>(n, first + *per_page - 1));
  std::string body = R"({"items":)";
  body += first <= n ? orders_array(static_cast<int>(first), last) : "[]";
  body += R"(,"links":{"next":)";
  body += last < n ? json(link("/orders_next_url", *page + 1, *per_page)).dump() : "null";
  body += "}}";
  send_json_text(res, std::move(body));
}

void ApiServer::get_orders_jsonl(const httplib::Request& req, httplib::Response& res, const Hit&) {
  auto limit = int_param(req, "limit", options_.orders, 0, 1 << 30);
  if (!limit) return send_error(res, 400, "limit must be an integer >= 0");
  std::string body;
  for (int i = 1; i <= std::min(*limit, options_.orders); ++i) {
    append_order(body, i);
    body += '\n';
  }
  res.set_content(std::move(body), "application/x-ndjson");
}

void ApiServer::get_catalog(const httplib::Request& req, httplib::Response& res, const Hit&) {
  auto page = int_param(req, "page", 1, 1, 1 << 30);
  if (!page) return send_error(res, 400, "page must be an integer >= 1");
  send_json_text(res, catalog_page_ordered(*page).dump());
}

void ApiServer::get_catalog_objects(const httplib::Request&, httplib::Response& res, const Hit&) {
  send_json_text(res, catalog_objects_ordered().dump());
}

// ---------------------------------------------------------------- auth

void ApiServer::send_protected(httplib::Response& res, bool authorized, const char* scheme) const {
  if (authorized) return send_json_text(res, kProtectedBody);
  if (scheme) res.set_header("WWW-Authenticate", std::string(scheme) + " realm=\"ferry-test\"");
  send_error(res, 401, "missing or wrong credentials");
}

void ApiServer::get_auth_bearer(const httplib::Request& req, httplib::Response& res, const Hit&) {
  send_protected(res, auth_credentials(req, "Bearer") == "secret-token", "Bearer");
}

void ApiServer::get_auth_basic(const httplib::Request& req, httplib::Response& res, const Hit&) {
  auto cred = basic_credentials(req);
  send_protected(res, cred && cred->first == "ferry" && cred->second == "p@ss:word", "Basic");
}

void ApiServer::get_auth_header_key(const httplib::Request& req, httplib::Response& res,
                                    const Hit&) {
  send_protected(res, req.get_header_value("X-API-Key") == "key-123", nullptr);
}

void ApiServer::get_auth_query_key(const httplib::Request& req, httplib::Response& res,
                                   const Hit&) {
  send_protected(res, req.get_param_value("api_key") == "key-123", nullptr);
}

void ApiServer::get_auth_oauth(const httplib::Request& req, httplib::Response& res, const Hit&) {
  auto token = auth_credentials(req, "Bearer");
  bool valid = false;
  if (token) {
    std::lock_guard lock(mu_);
    auto it = tokens_.find(*token);
    valid = it != tokens_.end() && steady_seconds() < it->second.expires_at;
  }
  send_protected(res, valid, "Bearer");
}

void ApiServer::post_oauth_token(const httplib::Request& req, httplib::Response& res, const Hit&) {
  // RFC 6749 4.4: a form body; client credentials in it or as HTTP Basic (section 2.3.1).
  if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) != 0) {
    return send_json(res,
                     {{"error", "invalid_request"},
                      {"error_description", "expected application/x-www-form-urlencoded"}},
                     400);
  }
  auto form = parse_form(req.body);
  if (first_of(form, "grant_type") != "client_credentials")
    return send_json(res, {{"error", "unsupported_grant_type"}}, 400);
  std::string id = first_of(form, "client_id"), secret = first_of(form, "client_secret");
  if (auto basic = basic_credentials(req)) {
    id = form_decode(basic->first);
    secret = form_decode(basic->second);
  }
  if (id != "ferry-client" || secret != "s3cr3t") {
    res.set_header("WWW-Authenticate", "Basic realm=\"ferry-test\"");
    return send_json(res, {{"error", "invalid_client"}}, 401);
  }
  std::string token;
  {
    std::lock_guard lock(mu_);
    token = "tok-" + std::to_string(++tokens_issued_);
    tokens_[token] = Token{steady_seconds() + options_.token_expires_in};
  }
  json body = {
      {"access_token", token}, {"token_type", "Bearer"}, {"expires_in", options_.token_expires_in}};
  if (form.count("scope")) body["scope"] = first_of(form, "scope");
  res.set_header("Cache-Control", "no-store");
  send_json(res, body);
}

void ApiServer::not_found(const httplib::Request& req, httplib::Response& res, const Hit&) {
  send_error(res, 404, "no endpoint " + req.method + " " + req.path);
}

}  // namespace ferry::testing
