// Server-free parts of the S3 client and source: addressing, error wording, key selection.
// The client's requests and streaming are tested against a real S3 server in
// tests/integration/s3_test.cpp.
#include "s3/s3_client.h"

#include <gtest/gtest.h>

#include "sources/s3/s3_source.h"

namespace ferry::s3 {
namespace {

S3Config config(std::string bucket, std::string endpoint = "") {
  S3Config c;
  c.bucket = std::move(bucket);
  c.region = "eu-west-1";
  c.endpoint = std::move(endpoint);
  c.credentials = {"AKID", "secret-value-1234", ""};
  return c;
}

TEST(S3Addressing, VirtualHostedStyleOnAws) {
  S3Client c(config("my-bucket"));
  EXPECT_EQ(c.host(), "my-bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(c.url("in/a b+c.csv", {}),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/in/a%20b%2Bc.csv");
  EXPECT_EQ(c.url("", {{"list-type", "2"}, {"prefix", "in/"}}),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/?list-type=2&prefix=in%2F");
}

TEST(S3Addressing, PathStyleForDottedBucketsAndEndpoints) {
  S3Client dotted(config("my.bucket"));
  EXPECT_EQ(dotted.url("k", {}), "https://s3.eu-west-1.amazonaws.com/my.bucket/k");
  S3Client local(config("b1", "http://127.0.0.1:4568/"));
  EXPECT_EQ(local.host(), "127.0.0.1:4568");
  EXPECT_EQ(local.url("x/y.csv", {}), "http://127.0.0.1:4568/b1/x/y.csv");
  EXPECT_EQ(local.url("", {{"list-type", "2"}}), "http://127.0.0.1:4568/b1?list-type=2");
  S3Client prefixed(config("b1", "https://minio.example.com/s3"));
  EXPECT_EQ(prefixed.host(), "minio.example.com");
  EXPECT_EQ(prefixed.url("k", {}), "https://minio.example.com/s3/b1/k");
  EXPECT_EQ(prefixed.display("k"), "s3://b1/k");
}

TEST(S3Errors, PlainWords) {
  S3Config c = config("b1");
  auto st = s3_error_status(
      403, "<Error><Code>SignatureDoesNotMatch</Code><Message>m</Message></Error>", "listing x", c);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_NE(st.message().find("the secret access key is wrong"), std::string::npos);
  EXPECT_EQ(st.message().find("secret-value-1234"), std::string::npos);
  st = s3_error_status(403, "<Error><Code>InvalidAccessKeyId</Code></Error>", "w", c);
  EXPECT_NE(st.message().find("the access key id is wrong"), std::string::npos);
  st = s3_error_status(404, "<Error><Code>NoSuchBucket</Code></Error>", "listing s3://b1/", c);
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.message(), "listing s3://b1/: bucket 'b1' does not exist (region eu-west-1)");
  st = s3_error_status(403, "<Error><Code>AccessDenied</Code></Error>", "reading s3://b1/k", c);
  EXPECT_NE(st.message().find("access denied"), std::string::npos);
  st =
      s3_error_status(503, "<Error><Code>SlowDown</Code><Message>Reduce</Message></Error>", "w", c);
  EXPECT_EQ(st.code(), Code::kRetry);
  EXPECT_EQ(st.message(), "w: S3 answered 503 SlowDown: Reduce");
  st = s3_error_status(500, "", "w", c);
  EXPECT_EQ(st.code(), Code::kRetry);
  st = s3_error_status(400, "<html>proxy\nerror</html>", "w", c);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_EQ(st.message(), "w: S3 answered HTTP 400: <html>proxy error</html>");
  st = s3_error_status(301, "<Error><Code>PermanentRedirect</Code></Error>", "w", c);
  EXPECT_NE(st.message().find("set the connection's region"), std::string::npos);
}

TEST(S3Keys, PatternOnRelativeKeyOrLastSegment) {
  EXPECT_TRUE(key_matches("in/2026/a.csv", "in/", "2026/*.csv"));
  EXPECT_TRUE(key_matches("in/2026/a.csv", "in/", "*.csv"));  // the last segment
  EXPECT_FALSE(key_matches("in/2026/a.json", "in/", "*.csv"));
  EXPECT_TRUE(key_matches("in/a.csv.gz", "in/", "*.csv*"));
  EXPECT_TRUE(key_matches("anything", "", ""));
}

TEST(S3Keys, EventKeysForAJob) {
  std::vector<S3EventObject> events = {
      {"b1", "in/a.csv", "ObjectCreated:Put", 1, "e"},
      {"b1", "in/a.csv", "ObjectCreated:Put", 1, "e"},     // twice: once
      {"b2", "in/b.csv", "ObjectCreated:Put", 1, "e"},     // another bucket
      {"b1", "out/c.csv", "ObjectCreated:Put", 1, "e"},    // another prefix
      {"b1", "in/d.json", "ObjectCreated:Put", 1, "e"},    // another pattern
      {"b1", "in/e.csv", "ObjectRemoved:Delete", 1, "e"},  // not a creation
      {"b1", "in/f.csv", "Object Created", 1, "e"},
  };
  EXPECT_EQ(s3_event_keys(events, "b1", "in/", "*.csv"),
            (std::vector<std::string>{"in/a.csv", "in/f.csv"}));
}

}  // namespace
}  // namespace ferry::s3
