// Where the S3 source's AWS credentials come from, in this order:
//   1. the connection's access_key_id / secret_access_key / session_token options (which may
//      themselves be ${ENV} references, resolved before this);
//   2. the standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN variables;
//   3. a profile of the shared credentials file: the connection's `profile`, else
//      AWS_PROFILE, else "default"; the file is AWS_SHARED_CREDENTIALS_FILE, else
//      ~/.aws/credentials.
// A source (1, 2 or 3) is used only when it has both the key id and the secret; a session
// token is taken from the same source only, never mixed from another.
//
// Every secret found is registered with core/redact.h so that no message prints it.
// Failure: kInvalid when no source has credentials (naming what was tried, never a value), or
// a named profile does not exist. Thread-safety: reads the environment; no shared state.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "net/sigv4.h"

namespace ferry::s3 {

// The profiles of a credentials file (INI): {"default": {"aws_access_key_id": ...}, ...}.
// Keys and section names are trimmed; "[profile name]" (config-file style) is read as
// "name"; comments (# or ;) and blank lines are skipped.
std::map<std::string, std::map<std::string, std::string>> parse_credentials_file(
    std::string_view text);

struct CredentialOptions {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  std::string profile;
};

// Reads an environment variable; a test seam (default: getenv). Returns nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const char*)>;

struct ResolvedCredentials {
  net::AwsCredentials credentials;
  std::string source;  // "the connection's options", "the environment", "profile 'x' of FILE"
};

Result<ResolvedCredentials> resolve_credentials(const CredentialOptions& options,
                                                const EnvLookup& env = {});

}  // namespace ferry::s3
