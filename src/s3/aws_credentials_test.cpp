#include "s3/aws_credentials.h"

#include <gtest/gtest.h>

#include "core/redact.h"
#include "testing.h"

namespace ferry::s3 {
namespace {

using Env = std::map<std::string, std::string>;

EnvLookup fake_env(Env vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

constexpr const char* kFile = R"(# a comment
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret-default-1234

[ci]
aws_access_key_id=AKIDCI
aws_secret_access_key=secret/ci+5678
aws_session_token = token-ci-9999
; another comment
[profile other]
aws_access_key_id = AKIDOTHER
[empty]
)";

TEST(AwsCredentialsFile, ParsesProfiles) {
  auto p = parse_credentials_file(kFile);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p["default"]["aws_access_key_id"], "AKIDDEFAULT");
  EXPECT_EQ(p["ci"]["aws_secret_access_key"], "secret/ci+5678");
  EXPECT_EQ(p["ci"]["aws_session_token"], "token-ci-9999");
  EXPECT_EQ(p["other"]["aws_access_key_id"], "AKIDOTHER");
  EXPECT_TRUE(p["empty"].empty());
}

TEST(AwsCredentials, ExplicitOptionsComeFirst) {
  CredentialOptions o{"AKIDOPT", "secret-opt-1234", "tok-opt-1234", ""};
  auto r = resolve_credentials(
      o, fake_env({{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", "secret-env"}}));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->credentials.access_key_id, "AKIDOPT");
  EXPECT_EQ(r->credentials.session_token, "tok-opt-1234");
  EXPECT_EQ(r->source, "the connection's options");
  // Secrets are registered for redaction.
  EXPECT_EQ(redact("x secret-opt-1234 y"), "x *** y");
}

TEST(AwsCredentials, HalfOfAKeyPairIsAnError) {
  auto r = resolve_credentials({"AKIDOPT", "", "", ""}, fake_env({}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not secret_access_key"), std::string::npos);
}

TEST(AwsCredentials, EnvironmentThenProfile) {
  ::ferry::testing::TempDir dir;
  std::string file = dir.write("credentials", kFile).string();
  auto r = resolve_credentials({}, fake_env({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                             {"AWS_SECRET_ACCESS_KEY", "secret-env-1234"},
                                             {"AWS_SESSION_TOKEN", "tok-env-1234"},
                                             {"AWS_SHARED_CREDENTIALS_FILE", file}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->credentials.access_key_id, "AKIDENV");
  EXPECT_EQ(r->credentials.session_token, "tok-env-1234");

  // Without the variables: the default profile.
  r = resolve_credentials({}, fake_env({{"AWS_SHARED_CREDENTIALS_FILE", file}}));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->credentials.access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(r->credentials.session_token, "");
  EXPECT_EQ(r->source, "profile 'default' of " + file);

  // AWS_PROFILE picks another, and the connection's profile beats both it and the variables.
  r = resolve_credentials({},
                          fake_env({{"AWS_SHARED_CREDENTIALS_FILE", file}, {"AWS_PROFILE", "ci"}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->credentials.access_key_id, "AKIDCI");
  EXPECT_EQ(r->credentials.session_token, "token-ci-9999");
  r = resolve_credentials({"", "", "", "ci"},
                          fake_env({{"AWS_SHARED_CREDENTIALS_FILE", file},
                                    {"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                    {"AWS_SECRET_ACCESS_KEY", "secret-env-1234"},
                                    {"AWS_PROFILE", "default"}}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->credentials.access_key_id, "AKIDCI");
}

TEST(AwsCredentials, HomeDirectoryFile) {
  ::ferry::testing::TempDir dir;
  dir.write(".aws/credentials", kFile);
  auto r = resolve_credentials({}, fake_env({{"HOME", dir.str()}}));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->credentials.access_key_id, "AKIDDEFAULT");
}

TEST(AwsCredentials, MissingProfilesAndKeysAreClearErrors) {
  ::ferry::testing::TempDir dir;
  std::string file = dir.write("credentials", kFile).string();
  auto r =
      resolve_credentials({"", "", "", "nope"}, fake_env({{"AWS_SHARED_CREDENTIALS_FILE", file}}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "s3: profile 'nope' is not in " + file);
  r = resolve_credentials({"", "", "", "other"}, fake_env({{"AWS_SHARED_CREDENTIALS_FILE", file}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("lacks aws_access_key_id or aws_secret_access_key"),
            std::string::npos);
  r = resolve_credentials({}, fake_env({{"HOME", dir.str() + "/nowhere"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no AWS credentials"), std::string::npos);
  // A variable pair that is incomplete is not used.
  r = resolve_credentials(
      {}, fake_env({{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"HOME", dir.str() + "/nowhere"}}));
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace ferry::s3
