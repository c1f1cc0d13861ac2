// ApiServer: the local HTTP API that ferry's REST-source tests and the REST benchmark run
// against. It serves a deterministic data set of nested orders behind every pagination style
// the rest source supports (cursor, page number, offset, RFC 8288 Link header, next URL, JSON
// Lines), a schema-carrying catalog API, one endpoint per auth type, and switchable faults
// (429, 500, 404, an HTML 502, a stall, a truncated body, a non-JSON body, a repeating
// cursor). Every request is recorded so a test can assert what ferry actually sent.
//
// Real sockets on 127.0.0.1 (cpp-httplib); nothing is mocked. Tests start it in-process:
//
//   ApiServer server({.orders = 250});
//   server.start();
//   run ferry with base_url = server.base_url() ...
//   EXPECT_EQ(server.requests("/orders").size(), 3u);
//
// The standalone binary ferry_test_api_server (api_server_main.cpp) serves the same API for
// the benchmark and for poking at it by hand; faults, the log and tokens are then reachable
// over HTTP (these requests are neither logged nor faulted):
//   POST   /_control/fault          body: a Fault as JSON (see fault_from_json) -> arms it
//   DELETE /_control/fault          clear_faults()
//   GET    /_control/faults         the armed faults, as JSON
//   GET    /_control/requests?path= the request log, as a JSON array of LoggedRequest::to_json
//   DELETE /_control/requests       clear_log()
//   POST   /_control/revoke_tokens  revoke_tokens()
//
// Thread-safety: start() and stop() belong to the owning thread; every other method may be
// called from any thread while the server runs. Requests are served by cpp-httplib's thread
// pool; the fault list, the request log and the token table are guarded by one mutex.
//
// Lifetime: start() once; stop() (or the destructor) closes the listening socket, wakes any
// request sleeping in a `delay` fault and joins every server thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace ferry::testing {

// A switchable failure. It hits requests to `path` (exact, without the query string) and,
// when match_param is set, only those whose query parameter match_param equals match_value.
// Each hit decrements `times`; at 0 the fault is spent (and no longer listed).
struct Fault {
  enum class Kind {
    kStatus429,     // 429 with `Retry-After: <retry_after_seconds>` and a JSON error body
    kStatus500,     // 500 with a JSON error body
    kStatus404,     // 404 with a JSON error body
    kHtml502,       // 502, Content-Type text/html, an HTML error page
    kDelay,         // sleep delay_ms, then answer normally (a client with a shorter timeout
                    // sees a timeout)
    kTruncated,     // Content-Length of the full body, but only its first half, then the
                    // connection is closed
    kNotJson,       // 200, Content-Type text/plain, body "hello"
    kRepeatCursor,  // GET /orders only: next_cursor equals the request's own cursor. Only
                    // requests that carry a `cursor` parameter match (the first page cannot
                    // repeat anything).
  };
  std::string path;
  std::string match_param;  // empty: every request to `path` matches
  std::string match_value;
  Kind kind = Kind::kStatus500;
  int times = 1;  // matching requests it hits; -1 = every one, forever
  int retry_after_seconds = 1;
  int delay_ms = 0;
};

// "status_429", "status_500", "status_404", "html_502", "delay", "truncated", "not_json",
// "repeat_cursor" <-> Fault::Kind.
std::optional<Fault::Kind> parse_fault_kind(const std::string& name);
std::string fault_kind_name(Fault::Kind kind);
// A Fault from the JSON the control endpoint takes: {"path", "kind" (required),
// "match_param", "match_value", "times", "retry_after_seconds", "delay_ms"}. nullopt and
// `error` set when a field is missing or has the wrong type.
std::optional<Fault> fault_from_json(const nlohmann::json& j, std::string& error);

// One request as the server received it.
struct LoggedRequest {
  std::string method;
  std::string path;                                 // without the query string
  std::multimap<std::string, std::string> params;   // the URL's query, decoded
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // The first value of a query parameter / header (name lower-case), or "" when absent.
  std::string param(const std::string& name) const;
  bool has_param(const std::string& name) const { return params.count(name) > 0; }
  std::string header(const std::string& lower_name) const;
  nlohmann::json to_json() const;
};

class ApiServer {
 public:
  struct Options {
    int orders = 2500;    // orders 1..orders
    int page_size = 100;  // default `limit` / `per_page`
    int port = 0;         // 0: an ephemeral port chosen by the kernel
    // false: JSON is sent as "application/json; charset=utf-8", which cpp-httplib never
    // compresses, so every client gets the same uncompressed bytes (the benchmark's setting).
    // true: gzip or brotli when the client accepts them (as a real API would).
    bool compress = true;
    int token_expires_in = 3600;  // seconds an OAuth token is valid (and reported)
  };

  explicit ApiServer(Options options);
  ApiServer() : ApiServer(Options{}) {}
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds 127.0.0.1 (Options::port, or an ephemeral port), starts serving on a background
  // thread and returns the port; the socket is listening when this returns. -1 when the
  // port cannot be bound. REQUIRES: not started before.
  int start();
  // Stops serving and joins the server threads. Idempotent.
  void stop();
  int port() const { return port_; }
  std::string base_url() const;  // "http://127.0.0.1:PORT"

  // ---- the data set (what tests compute their expectations from)
  const Options& options() const { return options_; }
  // Order i (1-based); the JSON exactly as every endpoint serves it.
  static nlohmann::json order(int i);
  // Order i's updated_at: "2024-01-01T00:00:00Z" plus i minutes.
  static std::string updated_at(int i);
  // The whole body of GET /catalog?page=N (pages 1..3; any other page has no rows).
  static nlohmann::json catalog_page(int page);
  // The body of GET /catalog_objects: page 1's schema and rows, rows as objects.
  static nlohmann::json catalog_objects();

  // ---- faults
  // Arms a fault. Faults are checked in the order they were set; the first armed one that
  // matches a request hits it.
  void set_fault(Fault fault);
  void clear_faults();
  // Faults still armed (times != 0).
  std::vector<Fault> faults() const;

  // ---- auth
  // Invalidates every issued OAuth token: the next /auth/oauth call with one gets 401.
  void revoke_tokens();
  int tokens_issued() const;

  // ---- request log (requests under /_control/ are not logged)
  // Requests in arrival order; with `path`, only those to that exact path.
  std::vector<LoggedRequest> requests(const std::string& path = "") const;
  void clear_log();

 private:
  // What a matched fault leaves for the endpoint itself to do.
  struct Hit {
    bool repeat_cursor = false;
  };
  using Endpoint = void (ApiServer::*)(const httplib::Request&, httplib::Response&, const Hit&);

  // Registers `endpoint` behind serve(), so it is logged and faults apply.
  void route(const char* method, const char* pattern, Endpoint endpoint);
  // Logs the request, applies the first matching fault, and (unless the fault answered it)
  // calls the endpoint.
  void serve(const httplib::Request& req, httplib::Response& res, Endpoint endpoint);
  std::optional<Fault> take_fault(const LoggedRequest& request);  // REQUIRES: mu_ held
  void sleep_unless_stopping(int ms);
  void send_json(httplib::Response& res, const nlohmann::json& body, int status = 200) const;
  void send_json_text(httplib::Response& res, std::string body, int status = 200) const;
  void send_error(httplib::Response& res, int status, const std::string& message) const;
  std::string orders_array(int first, int last) const;  // "[order first, ..., order last]"
  std::string link(const std::string& path, int page, int per_page) const;

  void get_orders(const httplib::Request&, httplib::Response&, const Hit&);
  void get_orders_by_page(const httplib::Request&, httplib::Response&, const Hit&);
  void get_orders_by_offset(const httplib::Request&, httplib::Response&, const Hit&);
  void get_orders_linked(const httplib::Request&, httplib::Response&, const Hit&);
  void get_orders_next_url(const httplib::Request&, httplib::Response&, const Hit&);
  void get_orders_jsonl(const httplib::Request&, httplib::Response&, const Hit&);
  void get_catalog(const httplib::Request&, httplib::Response&, const Hit&);
  void get_catalog_objects(const httplib::Request&, httplib::Response&, const Hit&);
  void get_auth_bearer(const httplib::Request&, httplib::Response&, const Hit&);
  void get_auth_basic(const httplib::Request&, httplib::Response&, const Hit&);
  void get_auth_header_key(const httplib::Request&, httplib::Response&, const Hit&);
  void get_auth_query_key(const httplib::Request&, httplib::Response&, const Hit&);
  void get_auth_oauth(const httplib::Request&, httplib::Response&, const Hit&);
  void post_oauth_token(const httplib::Request&, httplib::Response&, const Hit&);
  void not_found(const httplib::Request&, httplib::Response&, const Hit&);
  void send_protected(httplib::Response& res, bool authorized, const char* scheme) const;

  const Options options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = -1;
  bool stopped_ = false;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable stopping_cv_;
  bool stopping_ = false;
  std::vector<Fault> faults_;
  std::vector<LoggedRequest> log_;
  struct Token {
    std::int64_t expires_at;  // steady-clock seconds
  };
  std::map<std::string, Token> tokens_;  // the valid ones
  int tokens_issued_ = 0;
};

}  // namespace ferry::testing
