#include "sources/s3/s3_event.h"

#include <nlohmann/json.hpp>

#include "net/http.h"
#include "s3/s3_xml.h"

namespace ferry::s3 {
namespace {

using nlohmann::json;

// Envelopes inside envelopes (SNS inside SQS inside a batch) are rare beyond three levels;
// the limit stops a self-referencing or hostile document.
constexpr int kMaxNesting = 8;

std::string form_decode(std::string_view s) {
  std::string plus(s);
  for (char& c : plus)
    if (c == '+') c = ' ';
  return net::url_decode(plus);
}

std::string string_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t size_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}

Status parse_value(const json& j, int depth, std::vector<S3EventObject>& out);

// A string holding JSON (an SNS Message, an SQS body).
Status parse_embedded(const std::string& text, int depth, std::vector<S3EventObject>& out) {
  json inner = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (inner.is_discarded())
    return Status::invalid("S3 event: an SNS message or SQS body that is not JSON");
  return parse_value(inner, depth + 1, out);
}

Status parse_record(const json& r, int depth, std::vector<S3EventObject>& out) {
  if (!r.is_object()) return Status::invalid("S3 event: a record that is not an object");
  if (auto s3 = r.find("s3"); s3 != r.end() && s3->is_object()) {
    S3EventObject e;
    e.event_name = string_at(r, "eventName");
    if (auto b = s3->find("bucket"); b != s3->end() && b->is_object())
      e.bucket = string_at(*b, "name");
    auto o = s3->find("object");
    if (o == s3->end() || !o->is_object() || string_at(*o, "key").empty())
      return Status::invalid("S3 event: a record without s3.object.key");
    e.key = form_decode(string_at(*o, "key"));
    e.size = size_at(*o, "size");
    e.etag = unquote_etag(string_at(*o, "eTag"));
    out.push_back(std::move(e));
    return Status::success();
  }
  if (auto sns = r.find("Sns"); sns != r.end() && sns->is_object())
    return parse_embedded(string_at(*sns, "Message"), depth, out);
  if (r.contains("body") && r["body"].is_string())
    return parse_embedded(r["body"].get<std::string>(), depth, out);
  return Status::invalid("S3 event: a record with neither s3, Sns nor body");
}

Status parse_value(const json& j, int depth, std::vector<S3EventObject>& out) {
  if (depth > kMaxNesting) return Status::invalid("S3 event: envelopes nested too deeply");
  if (j.is_array()) {
    for (const json& item : j)
      FERRY_TRY(parse_value(item, depth + 1, out));
    return Status::success();
  }
  if (!j.is_object()) return Status::invalid("S3 event: expected a JSON object");
  if (auto rec = j.find("Records"); rec != j.end() && rec->is_array()) {
    for (const json& r : *rec)
      FERRY_TRY(parse_record(r, depth, out));
    return Status::success();
  }
  if (j.contains("Message") && j["Message"].is_string())  // an SNS notification
    return parse_embedded(j["Message"].get<std::string>(), depth, out);
  if (j.contains("Body") && j["Body"].is_string())  // an SQS message
    return parse_embedded(j["Body"].get<std::string>(), depth, out);
  if (auto d = j.find("detail");
      d != j.end() && d->is_object() && string_at(j, "source") == "aws.s3") {
    S3EventObject e;
    e.event_name = string_at(j, "detail-type");
    if (auto b = d->find("bucket"); b != d->end() && b->is_object())
      e.bucket = string_at(*b, "name");
    auto o = d->find("object");
    if (o == d->end() || !o->is_object() || string_at(*o, "key").empty())
      return Status::invalid("S3 event: an EventBridge event without detail.object.key");
    e.key = string_at(*o, "key");
    e.size = size_at(*o, "size");
    e.etag = unquote_etag(string_at(*o, "etag"));
    out.push_back(std::move(e));
    return Status::success();
  }
  if (string_at(j, "Event") == "s3:TestEvent") return Status::success();
  return Status::invalid(
      "S3 event: not an S3 notification (expected Records, an SNS or SQS envelope, or an "
      "EventBridge event from aws.s3)");
}

}  // namespace

Result<std::vector<S3EventObject>> parse_s3_event(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::invalid("S3 event: not valid JSON");
  std::vector<S3EventObject> out;
  FERRY_TRY(parse_value(j, 0, out));
  return out;
}

bool is_object_created(const S3EventObject& event) {
  return event.event_name.starts_with("ObjectCreated") ||
         event.event_name.starts_with("s3:ObjectCreated") || event.event_name == "Object Created";
}

}  // namespace ferry::s3
