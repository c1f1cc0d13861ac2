// Authentication of REST requests, from a connection's `auth:` map.
//
//   {type: none}
//   {type: bearer, token: "${TOKEN}"}                       Authorization: Bearer <token>
//   {type: basic, username: u, password: "${PASSWORD}"}     Authorization: Basic <base64>
//   {type: api_key, name: X-API-Key, value: "${KEY}", in: header|query}
//   {type: oauth2, token_url: ..., client_id: ..., client_secret: "${SECRET}", scope: ...}
//
// OAuth2 uses the client-credentials grant: the access token is fetched on first use, cached
// process-wide (per token URL, client and scope) until shortly before it expires, and fetched
// again after a 401 once; a second 401 in a row is an error. Every secret value, and every
// access token, is registered with core/redact.h so no message can show it.
//
// Thread-safety: an Auth belongs to one run; the OAuth2 token cache is shared and locked.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "net/http.h"
#include "net/retry.h"
#include "sources/rest/paginator.h"

namespace ferry::rest {

class Auth {
 public:
  virtual ~Auth() = default;
  // Adds the credentials to a request: headers, or query params marked secret by the caller.
  virtual Status apply(net::HttpClient& client, net::Headers& headers, Params& query) = 0;
  // The server answered 401: true when trying again with fresh credentials makes sense
  // (OAuth2 drops its cached token); false for static credentials. The caller tries again
  // once per request, so a second 401 in a row is an error.
  virtual bool refresh() { return false; }
  // Names of query params that carry secrets (kept out of display URLs).
  virtual std::vector<std::string> secret_params() const { return {}; }
};

// Builds the Auth of a connection's `auth` option (null = none); kInvalid names the key.
Result<std::unique_ptr<Auth>> make_auth(const nlohmann::json& auth, const net::RetryPolicy& retry);

}  // namespace ferry::rest
