// Dependency order of named steps (transforms), shared by validation and the executor.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ferry {

// A topological order of nodes 0..names.size()-1, where deps[i] lists the nodes that must
// come before node i. Stable: among nodes ready at the same time the lowest index comes first,
// so file order is kept wherever dependencies allow.
// On a cycle returns kInvalid "<what> cycle: a -> b -> a", read as "a runs before b", starting
// from the cycle's first node in index order. REQUIRES: every index in deps < names.size().
Result<std::vector<size_t>> stable_topological_order(const std::vector<std::string>& names,
                                                     const std::vector<std::vector<size_t>>& deps,
                                                     std::string_view what);

}  // namespace ferry
