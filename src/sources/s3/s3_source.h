// The `s3` source: CSV, JSON and JSON Lines objects (gzipped or not) under a prefix of an S3
// bucket, or of an S3-compatible server, each loaded exactly once.
//
// The job's state keeps, per loaded key, its ETag and size ("objects": {key: {"etag",
// "size", "last_modified"}}), committed in the same transaction as the rows. On the next
// run a key with the same ETag is skipped; a key whose ETag changed (overwritten) is loaded
// again, skipped, or fails the run, per `on_change: reload|skip|error`. New objects are
// loaded in key order (or LastModified order with `order: last_modified`).
//
// With the source option `keys` (a list, as an S3 event names them: see s3_event.h and
// s3_event_keys) only those keys are considered instead of listing the prefix.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "sources/s3/s3_event.h"
#include "sources/source.h"

namespace ferry {

SourceDescriptor s3_source_descriptor();

namespace s3 {

// The keys of `events` that a job reading `bucket` under `prefix` (and matching the glob
// `pattern`, "" = any) must load: object-created events only, each key once, in event order.
std::vector<std::string> s3_event_keys(const std::vector<S3EventObject>& events,
                                       const std::string& bucket, const std::string& prefix,
                                       const std::string& pattern);

// Whether `key` under `prefix` passes the glob `pattern`: matched against the key relative to
// the prefix (with '/' matched only by '/'), or against its last path segment.
bool key_matches(const std::string& key, const std::string& prefix, const std::string& pattern);

}  // namespace s3
}  // namespace ferry
