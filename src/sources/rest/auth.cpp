#include "sources/rest/auth.h"

#include <chrono>
#include <map>
#include <mutex>

#include "core/redact.h"

namespace ferry::rest {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

Result<std::string> required_text(const json& auth, const std::string& type,
                                  const std::string& key) {
  if (!auth.contains(key) || !auth[key].is_string() || auth[key].get<std::string>().empty())
    return Status::invalid("auth type {} needs '{}'", type, key);
  return auth[key].get<std::string>();
}

class NoAuth final : public Auth {
 public:
  Status apply(net::HttpClient&, net::Headers&, Params&) override { return Status::success(); }
};

class HeaderAuth final : public Auth {
 public:
  HeaderAuth(std::string name, std::string value)
      : name_(std::move(name)), value_(std::move(value)) {}
  Status apply(net::HttpClient&, net::Headers& headers, Params&) override {
    headers.emplace_back(name_, value_);
    return Status::success();
  }

 private:
  std::string name_, value_;
};

class QueryAuth final : public Auth {
 public:
  QueryAuth(std::string name, std::string value)
      : name_(std::move(name)), value_(std::move(value)) {}
  Status apply(net::HttpClient&, net::Headers&, Params& query) override {
    set_param(query, name_, value_);
    return Status::success();
  }
  std::vector<std::string> secret_params() const override { return {name_}; }

 private:
  std::string name_, value_;
};

// Access tokens shared by every run of the process that uses the same client.
struct CachedToken {
  std::string token;
  Clock::time_point expires;
};
std::mutex token_mu;
std::map<std::string, CachedToken>& token_cache() {
  static std::map<std::string, CachedToken> cache;
  return cache;
}

class OAuth2 final : public Auth {
 public:
  OAuth2(std::string token_url, std::string client_id, std::string secret, std::string scope,
         net::RetryPolicy retry)
      : token_url_(std::move(token_url)),
        client_id_(std::move(client_id)),
        secret_(std::move(secret)),
        scope_(std::move(scope)),
        retry_(retry),
        key_(token_url_ + "\n" + client_id_ + "\n" + scope_) {}

  Status apply(net::HttpClient& client, net::Headers& headers, Params&) override {
    std::string token;
    {
      std::lock_guard lock(token_mu);
      auto it = token_cache().find(key_);
      if (it != token_cache().end() && it->second.expires > Clock::now()) token = it->second.token;
    }
    if (token.empty()) {
      FERRY_ASSIGN(token, fetch(client));
    }
    headers.emplace_back("Authorization", "Bearer " + token);
    return Status::success();
  }

  bool refresh() override {
    std::lock_guard lock(token_mu);
    token_cache().erase(key_);
    return true;
  }

 private:
  Result<std::string> fetch(net::HttpClient& client) {
    net::HttpRequest req;
    req.method = "POST";
    req.url = token_url_;
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                   {"Accept", "application/json"}};
    req.body = "grant_type=client_credentials&client_id=" + net::url_encode(client_id_) +
               "&client_secret=" + net::url_encode(secret_);
    if (!scope_.empty()) req.body += "&scope=" + net::url_encode(scope_);
    FERRY_ASSIGN(auto res, net::send_with_retries(client, req, retry_, {}));
    if (res.status != 200) {
      return Status::invalid("OAuth2 token request failed: {}",
                             redact(net::describe_failure(req, res)));
    }
    json body = json::parse(res.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("access_token") ||
        !body["access_token"].is_string()) {
      return Status::invalid("OAuth2 token response from {} has no access_token", token_url_);
    }
    std::string token = body["access_token"].get<std::string>();
    register_secret(token);
    int64_t expires_in = body.value("expires_in", int64_t{3600});
    // Renew a little early so a token does not expire between check and use.
    auto expires = Clock::now() + std::chrono::seconds(std::max<int64_t>(expires_in - 30, 1));
    std::lock_guard lock(token_mu);
    token_cache()[key_] = {token, expires};
    return token;
  }

  std::string token_url_, client_id_, secret_, scope_;
  net::RetryPolicy retry_;
  std::string key_;
};

}  // namespace

Result<std::unique_ptr<Auth>> make_auth(const json& auth, const net::RetryPolicy& retry) {
  if (auth.is_null()) return std::unique_ptr<Auth>(std::make_unique<NoAuth>());
  if (!auth.is_object()) return Status::invalid("auth must be a map with a type");
  std::string type = auth.value("type", "");
  auto secret = [&](const std::string& key) -> Result<std::string> {
    FERRY_ASSIGN(std::string v, required_text(auth, type, key));
    register_secret(v);
    return v;
  };
  if (type == "none") return std::unique_ptr<Auth>(std::make_unique<NoAuth>());
  if (type == "bearer") {
    FERRY_ASSIGN(std::string token, secret("token"));
    return std::unique_ptr<Auth>(std::make_unique<HeaderAuth>("Authorization", "Bearer " + token));
  }
  if (type == "basic") {
    FERRY_ASSIGN(std::string user, required_text(auth, type, "username"));
    FERRY_ASSIGN(std::string password, secret("password"));
    std::string encoded = net::base64_encode(user + ":" + password);
    register_secret(encoded);
    return std::unique_ptr<Auth>(std::make_unique<HeaderAuth>("Authorization", "Basic " + encoded));
  }
  if (type == "api_key") {
    FERRY_ASSIGN(std::string value, secret("value"));
    std::string name = auth.value("name", "X-API-Key");
    std::string in = auth.value("in", "header");
    if (in == "header") return std::unique_ptr<Auth>(std::make_unique<HeaderAuth>(name, value));
    if (in == "query") return std::unique_ptr<Auth>(std::make_unique<QueryAuth>(name, value));
    return Status::invalid("auth.in must be header or query, not '{}'", in);
  }
  if (type == "oauth2") {
    FERRY_ASSIGN(std::string url, required_text(auth, type, "token_url"));
    FERRY_ASSIGN(std::string id, required_text(auth, type, "client_id"));
    FERRY_ASSIGN(std::string client_secret, secret("client_secret"));
    return std::unique_ptr<Auth>(
        std::make_unique<OAuth2>(url, id, client_secret, auth.value("scope", ""), retry));
  }
  return Status::invalid("auth type '{}' is not known (none, bearer, basic, api_key, oauth2)",
                         type);
}

}  // namespace ferry::rest
