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

// Whether the job (`ctx`: its resolved connection and source options and its committed
// state) has something to load, for the scheduler's cheap "anything new?" poll; reads no
// object. With `order: key`, one ListObjectsV2 with start-after the greatest key in the state
// (usually a single short page): it sees new keys, not objects overwritten under keys already
// loaded, nor keys sorting before that greatest one (possible only after `keys`/event runs);
// the job's own runs still list everything. With `order: last_modified`, a full listing
// compared with the state: a new key, or (unless on_change is skip) a changed ETag.
// Fails as a listing does (wrong credentials, missing bucket: kInvalid / kNotFound; kRetry).
Result<bool> has_new_objects(const SourceContext& ctx);

}  // namespace s3
}  // namespace ferry
