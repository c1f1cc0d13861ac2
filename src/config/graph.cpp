#include "config/graph.h"

#include <algorithm>
#include <map>
#include <set>

namespace ferry {

Result<std::vector<size_t>> stable_topological_order(const std::vector<std::string>& names,
                                                     const std::vector<std::vector<size_t>>& deps,
                                                     std::string_view what) {
  const size_t n = names.size();
  std::vector<size_t> waiting_on(n, 0);            // unfinished deps per node
  std::vector<std::vector<size_t>> dependents(n);  // reverse edges
  for (size_t i = 0; i < n; ++i) {
    for (size_t d : deps[i]) {
      ++waiting_on[i];
      dependents[d].push_back(i);
    }
  }
  std::set<size_t> ready;
  for (size_t i = 0; i < n; ++i) {
    if (waiting_on[i] == 0) ready.insert(i);
  }
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (size_t j : dependents[i]) {
      if (--waiting_on[j] == 0) ready.insert(j);
    }
  }
  if (order.size() == n) return order;

  // Every node left waits on another node left, so walking deps from any of them must come
  // back to a node already on the path: that loop is the cycle.
  std::vector<bool> left(n, true);
  for (size_t i : order) {
    left[i] = false;
  }
  size_t cur = std::find(left.begin(), left.end(), true) - left.begin();
  std::vector<size_t> path;
  std::map<size_t, size_t> position;
  while (!position.count(cur)) {
    position[cur] = path.size();
    path.push_back(cur);
    for (size_t d : deps[cur]) {
      if (left[d]) {
        cur = d;
        break;
      }
    }
  }
  // path[position[cur]..] follows "runs after" edges; reverse it to read "runs before".
  std::vector<size_t> cycle(path.begin() + static_cast<std::ptrdiff_t>(position[cur]), path.end());
  std::reverse(cycle.begin(), cycle.end());
  std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
  std::string text;
  for (size_t i : cycle) {
    text += names[i] + " -> ";
  }
  text += names[cycle.front()];
  return Status::invalid("{} cycle: {}", what, text);
}

}  // namespace ferry
