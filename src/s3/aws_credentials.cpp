#include "s3/aws_credentials.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/redact.h"

namespace ferry::s3 {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<std::string> getenv_lookup(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

net::AwsCredentials registered(net::AwsCredentials c) {
  register_secret(c.secret_access_key);
  register_secret(c.session_token);
  return c;
}

}  // namespace

std::map<std::string, std::map<std::string, std::string>> parse_credentials_file(
    std::string_view text) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::string section;
  bool in_section = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      std::string_view name = trim(line.substr(1, line.size() - 2));
      if (name.starts_with("profile ")) name = trim(name.substr(8));
      section = std::string(name);
      in_section = true;
      out[section];  // a profile may exist with no keys
      continue;
    }
    size_t eq = line.find('=');
    if (!in_section || eq == std::string_view::npos) continue;
    out[section][std::string(trim(line.substr(0, eq)))] = std::string(trim(line.substr(eq + 1)));
  }
  return out;
}

Result<ResolvedCredentials> resolve_credentials(const CredentialOptions& o,
                                                const EnvLookup& env_in) {
  EnvLookup env = env_in ? env_in : EnvLookup(getenv_lookup);

  // 1. The connection's options: both keys or neither.
  if (!o.access_key_id.empty() || !o.secret_access_key.empty()) {
    if (o.access_key_id.empty())
      return Status::invalid("s3: the connection sets secret_access_key but not access_key_id");
    if (o.secret_access_key.empty())
      return Status::invalid("s3: the connection sets access_key_id but not secret_access_key");
    return ResolvedCredentials{registered({o.access_key_id, o.secret_access_key, o.session_token}),
                               "the connection's options"};
  }

  // 2. The standard variables, unless the connection names a profile.
  if (o.profile.empty()) {
    auto id = env("AWS_ACCESS_KEY_ID");
    auto secret = env("AWS_SECRET_ACCESS_KEY");
    if (id && secret)
      return ResolvedCredentials{registered({*id, *secret, env("AWS_SESSION_TOKEN").value_or("")}),
                                 "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"};
  }

  // 3. The shared credentials file.
  std::string profile = o.profile;
  if (profile.empty()) profile = env("AWS_PROFILE").value_or("default");
  std::string file;
  if (auto f = env("AWS_SHARED_CREDENTIALS_FILE")) {
    file = *f;
  } else if (auto home = env("HOME")) {
    file = *home + "/.aws/credentials";
  }
  std::string tried =
      "no AWS credentials: set access_key_id and secret_access_key on the connection (from "
      "${ENV}), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in " +
      (file.empty() ? std::string("~/.aws/credentials") : file);
  std::ifstream in(file);
  if (file.empty() || !in) {
    if (!o.profile.empty())
      return Status::invalid("s3: profile '{}' not found: {} cannot be read", profile,
                             file.empty() ? "~/.aws/credentials" : file);
    return Status::invalid("s3: {}", tried);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto profiles = parse_credentials_file(ss.str());
  auto it = profiles.find(profile);
  if (it == profiles.end()) {
    if (!o.profile.empty() || env("AWS_PROFILE"))
      return Status::invalid("s3: profile '{}' is not in {}", profile, file);
    return Status::invalid("s3: {}", tried);
  }
  auto get = [&](const char* k) {
    auto v = it->second.find(k);
    return v == it->second.end() ? std::string() : v->second;
  };
  net::AwsCredentials c{get("aws_access_key_id"), get("aws_secret_access_key"),
                        get("aws_session_token")};
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    return Status::invalid(
        "s3: profile '{}' in {} lacks aws_access_key_id or aws_secret_access_key", profile, file);
  return ResolvedCredentials{registered(std::move(c)), "profile '" + profile + "' of " + file};
}

}  // namespace ferry::s3
