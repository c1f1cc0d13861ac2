// S3 event notifications: which objects an event names.
//
// S3 announces a new object in several envelopes, all accepted here, nested to any depth:
//   - the notification itself: {"Records": [{"eventName", "s3": {"bucket": {"name"},
//     "object": {"key", "size", "eTag"}}}]} (as Lambda and SQS receive it);
//   - SNS: {"Type": "Notification", "Message": "<the notification as a JSON string>"}, or
//     through Lambda {"Records": [{"Sns": {"Message": "..."}}]};
//   - SQS: {"Body": "..."} (ReceiveMessage) or through Lambda {"Records": [{"body": "..."}]};
//   - EventBridge: {"source": "aws.s3", "detail-type": "Object Created", "detail":
//     {"bucket": {"name"}, "object": {"key", "size", "etag"}}};
//   - a JSON array of any of these (a batch of messages).
// Keys in "Records" notifications are URL-encoded with '+' for a space ("red flower.jpg"
// arrives as "red+flower.jpg") and are decoded; EventBridge sends keys as they are. The
// s3:TestEvent S3 sends when notifications are configured names no object.
//
// Failure: text that is not JSON, or JSON in none of these shapes, is Code::kInvalid.
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ferry::s3 {

struct S3EventObject {
  std::string bucket;
  std::string key;         // decoded
  std::string event_name;  // e.g. "ObjectCreated:Put" or EventBridge's "Object Created"
  int64_t size = -1;       // -1 when the event does not say
  std::string etag;        // unquoted; "" when the event does not say
};

// The objects named by an event, in the order they appear (duplicates kept).
Result<std::vector<S3EventObject>> parse_s3_event(std::string_view json);

// True for events that announce a new or overwritten object (ObjectCreated:*, "Object
// Created"), false for removals, restores and the like.
bool is_object_created(const S3EventObject& event);

}  // namespace ferry::s3
