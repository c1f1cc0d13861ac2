// The order in which transforms run, and which of them a batch runs or skips.
//
// A transform runs after its inputs (`after`: jobs or other transforms). Within one batch:
//   - a transform is part of the batch when one of its inputs is (a job run in the batch,
//     or a transform that is part of it);
//   - it runs once every input of the batch has succeeded;
//   - it is skipped when an input failed or was skipped; the skip names that input and the
//     failure it goes back to, for the audit table and the batch summary.
// Inputs outside the batch do not hold a transform back: their tables are as last loaded.
//
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/project.h"
#include "core/status.h"

namespace ferry {

// Transform ids in an order where each comes after its inputs; ties keep file order.
// kInvalid when an `after` names neither a job in `job_ids` nor a transform, or on a cycle
// ("transform cycle: a -> b -> a").
Result<std::vector<std::string>> transform_order(const std::vector<TransformDef>& transforms,
                                                 const std::set<std::string>& job_ids);

enum class StepState { kPending, kSucceeded, kFailed, kSkipped };

struct SkippedTransform {
  std::string id;
  std::string input;         // the input that failed or was skipped
  std::string cause;         // the failed job or transform it goes back to (= input when it failed)
  bool input_failed = true;  // false: the input was skipped

  // "dim_store skipped: input orders_store_1 failed", or
  // "fact_sales skipped: input dim_store was skipped (orders_store_1 failed)".
  std::string describe() const;
  bool operator==(const SkippedTransform&) const = default;
};

struct TransformStep {
  std::vector<std::string> run;        // may start now, in transform_order
  std::vector<SkippedTransform> skip;  // to record as skipped now
  bool done = false;                   // nothing of the batch is left to run or wait for
};

// What to do next in a batch. `batch` holds the state of every job of the batch and of every
// transform already started, finished or skipped; a transform missing from it has not been
// decided. Call again whenever something finishes: transforms already in `batch` are never
// returned again. kInvalid on a cycle.
Result<TransformStep> transforms_ready(const std::vector<TransformDef>& transforms,
                                       const std::map<std::string, StepState>& batch);

}  // namespace ferry
