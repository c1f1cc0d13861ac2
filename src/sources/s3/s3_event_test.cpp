#include "sources/s3/s3_event.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ferry::s3 {
namespace {

using nlohmann::json;

// The documented shape of an S3 notification record (event version 2.1), two objects.
json notification() {
  auto record = [](const char* key, int64_t size, const char* etag) {
    return json{
        {"eventVersion", "2.1"},
        {"eventSource", "aws:s3"},
        {"awsRegion", "us-west-2"},
        {"eventTime", "1970-01-01T00:00:00.000Z"},
        {"eventName", "ObjectCreated:Put"},
        {"s3",
         {{"s3SchemaVersion", "1.0"},
          {"configurationId", "testConfigRule"},
          {"bucket", {{"name", "mybucket"}, {"arn", "arn:aws:s3:::mybucket"}}},
          {"object", {{"key", key}, {"size", size}, {"eTag", etag}, {"sequencer", "0A1B2C3D"}}}}}};
  };
  return json{{"Records",
               {record("in/red+flower.csv", 1024, "0123456789abcdef"),
                record("in/a%2Bb+%28copy%29.csv", 7, "\"q\"")}}};
}

void expect_two_objects(const Result<std::vector<S3EventObject>>& result) {
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  const std::vector<S3EventObject>* r = &result.value();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].bucket, "mybucket");
  EXPECT_EQ((*r)[0].key, "in/red flower.csv");  // '+' is a space
  EXPECT_EQ((*r)[0].size, 1024);
  EXPECT_EQ((*r)[0].etag, "0123456789abcdef");
  EXPECT_TRUE(is_object_created((*r)[0]));
  EXPECT_EQ((*r)[1].key, "in/a+b (copy).csv");  // %2B is a plus
  EXPECT_EQ((*r)[1].etag, "q");
}

TEST(S3Event, DirectRecords) {
  expect_two_objects(parse_s3_event(notification().dump()));
}

TEST(S3Event, SnsNotificationWithTheEventAsAString) {
  json sns{{"Type", "Notification"},
           {"MessageId", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"},
           {"TopicArn", "arn:aws:sns:us-west-2:123456789012:MyTopic"},
           {"Subject", "Amazon S3 Notification"},
           {"Message", notification().dump()}};
  expect_two_objects(parse_s3_event(sns.dump()));
  // SNS delivered to Lambda.
  json lambda{{"Records", {{{"EventSource", "aws:sns"}, {"Sns", sns}}}}};
  expect_two_objects(parse_s3_event(lambda.dump()));
}

TEST(S3Event, SqsBodyAndSnsInsideSqs) {
  json sqs_lambda{{"Records", {{{"eventSource", "aws:sqs"}, {"body", notification().dump()}}}}};
  expect_two_objects(parse_s3_event(sqs_lambda.dump()));
  json sns{{"Type", "Notification"}, {"Message", notification().dump()}};
  json received{{"MessageId", "m"}, {"Body", sns.dump()}};  // ReceiveMessage output
  expect_two_objects(parse_s3_event(received.dump()));
  expect_two_objects(parse_s3_event(json::array({received}).dump()));
}

TEST(S3Event, EventBridgeKeysAreNotDecoded) {
  json eb{{"version", "0"},
          {"detail-type", "Object Created"},
          {"source", "aws.s3"},
          {"detail",
           {{"version", "0"},
            {"bucket", {{"name", "b1"}}},
            {"object", {{"key", "in/x+y.csv"}, {"size", 5}, {"etag", "e1"}}},
            {"reason", "PutObject"}}}};
  auto r = parse_s3_event(eb.dump());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].bucket, "b1");
  EXPECT_EQ((*r)[0].key, "in/x+y.csv");
  EXPECT_EQ((*r)[0].size, 5);
  EXPECT_TRUE(is_object_created((*r)[0]));
}

TEST(S3Event, TestEventNamesNothingAndRemovalsAreNotCreations) {
  auto r = parse_s3_event(R"({"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  json n = notification();
  n["Records"][0]["eventName"] = "ObjectRemoved:Delete";
  auto removed = parse_s3_event(n.dump());
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(is_object_created((*removed)[0]));
  EXPECT_TRUE(is_object_created((*removed)[1]));
}

TEST(S3Event, NotAnEventIsAnError) {
  for (const char* bad :
       {"", "not json", "[1]", R"({"hello":"world"})", R"({"Records":[{"s3":{"object":{}}}]})",
        R"({"Type":"Notification","Message":"not json"})"}) {
    auto r = parse_s3_event(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalid) << bad;
  }
}

}  // namespace
}  // namespace ferry::s3
