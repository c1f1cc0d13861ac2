// Fault injection for crash tests: the process kills itself with SIGKILL at a named point,
// chosen by environment variables, so a test can prove that a run killed at any moment
// leaves all or none of its rows and its watermark.
//
//   FERRY_FAULT_KILL_AFTER_BATCHES=N   after the N-th batch this process writes to a destination
//                                      (counted across all its jobs)
//   FERRY_FAULT_KILL_AT=before_commit  just before the load commits
//   FERRY_FAULT_KILL_AT=after_commit   just after the commit, before the metastore hears of it
//
// Without these variables each point costs one predictable branch.
#pragma once

#include <cstdint>

namespace ferry {

// Call after each batch written to a destination.
void fault_point_after_batch();
void fault_point(const char* name);

}  // namespace ferry
