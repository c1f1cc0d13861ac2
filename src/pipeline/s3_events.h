// From an S3 event notification to the runs it asks for: which jobs of a project read the
// objects the event names, and exactly which keys each must load. Shared by
// `ferry run --s3-event FILE` and the daemon's POST /api/events/s3.
//
// A job concerns an event when its source kind is s3, its connection's bucket is the event's
// bucket, and a created object's key lies under the job's `prefix` and passes its `pattern`
// (s3::s3_event_keys). Removals and other non-creation events name nothing. The job returned
// is the project's definition with `spec.source.keys` set, which the s3 source reads instead
// of listing the prefix; its state still skips a key already loaded with the same ETag, so a
// repeated event loads nothing twice.
//
// Jobs are matched on their resolved definition (templates, params, ${ENV}); a variable that
// is not set resolves to "" for matching only (the run itself reports it), so one job with a
// missing variable does not hide the others.
//
// Thread-safety: plain functions over values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/project.h"
#include "core/status.h"
#include "sources/s3/s3_event.h"

namespace ferry {

struct S3EventRun {
  JobDefinition job;              // with spec.source.keys = keys
  std::vector<std::string> keys;  // decoded, each once, in event order
};

// The runs `events` ask for among `project`'s jobs. With `only` empty, every enabled job;
// otherwise exactly the jobs named (enabled or not), in that order: kNotFound for an id that
// is not in the project, kInvalid for a job that does not read from s3 or whose definition
// does not resolve. Jobs that match no key are left out, so the result may be empty.
Result<std::vector<S3EventRun>> jobs_for_s3_event(const Project& project,
                                                  const std::vector<s3::S3EventObject>& events,
                                                  const std::vector<std::string>& only = {});

// The same from the notification's text (any envelope s3_event.h accepts, e.g. an HTTP
// request's body): kInvalid when it is not an S3 event.
Result<std::vector<S3EventRun>> jobs_for_s3_event(const Project& project, std::string_view event,
                                                  const std::vector<std::string>& only = {});

}  // namespace ferry
