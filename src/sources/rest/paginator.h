// Paginators: how the REST source walks an API's pages.
//
// One paginator per request chain. The source asks start() to set the first page's query
// params, sends the request, then asks next() with what came back; next() sets the params (or
// an absolute URL) of the following page and returns true, or returns false when the last page
// has been read. Kinds, as a job's `paginate: {type: ...}` names them:
//
//   none         one request
//   page_number  `param` (page) from `start` (1); stops on an empty page or when the page
//                number reaches the value at the `total_pages` pointer
//   offset       `param` (offset) from `start` (0) and `limit_param` (limit) = `limit` (100,
//                or the job's params); stops on a short page or at the `total` pointer
//   cursor       the value at the `cursor` pointer, sent as `param` (cursor); stops when it is
//                absent, null or ""
//   next_url     the URL at the `next` pointer (relative ones resolved against the request)
//   link_header  the RFC 8288 `Link: <url>; rel="next"` header
//
// Every kind stops with an error when a page would be requested twice (a server that repeats
// its cursor would otherwise be read forever); `max_pages` on the source is a further guard.
//
// Thread-safety: one instance per request chain.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "core/status.h"
#include "net/http.h"

namespace ferry::rest {

using Params = std::vector<std::pair<std::string, std::string>>;

// Sets (replacing) or removes a query parameter.
void set_param(Params& params, const std::string& name, const std::string& value);
std::optional<std::string> get_param(const Params& params, const std::string& name);

// What the source knows after reading one page.
struct Page {
  const net::HttpResponse* response = nullptr;
  simdjson::dom::element body;  // the parsed body (null element for JSON Lines bodies)
  bool has_body = false;
  size_t records = 0;  // records on this page
};

// Where the next request goes: params to send, or an absolute URL that carries its own.
struct PageRequest {
  std::string url;  // "" = the source's own URL
  Params params;
};

class Paginator {
 public:
  virtual ~Paginator() = default;
  virtual void start(PageRequest& request) = 0;
  // Prepares `request` for the next page; false when the last page has been read.
  virtual Result<bool> next(const Page& page, PageRequest& request) = 0;
};

// Builds the paginator that `paginate` (a job's `paginate:` object, or null) describes; a
// wrong option is kInvalid naming the key.
Result<std::unique_ptr<Paginator>> make_paginator(const nlohmann::json& paginate);

// The target of the Link header's rel="next" entry (RFC 8288), if any.
std::optional<std::string> link_next(std::string_view header);
// `ref` resolved against `base` (absolute URLs, "/path" and "?query" forms).
std::string resolve_url(const std::string& base, const std::string& ref);

}  // namespace ferry::rest
