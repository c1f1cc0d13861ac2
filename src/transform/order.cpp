#include "transform/order.h"

#include <fmt/format.h>

#include "config/graph.h"

namespace ferry {
namespace {

// Indices of `transforms` in dependency order (edges to jobs are not edges here).
Result<std::vector<size_t>> ordered(const std::vector<TransformDef>& transforms) {
  std::map<std::string, size_t> index;
  std::vector<std::string> names;
  for (size_t i = 0; i < transforms.size(); ++i) {
    index.emplace(transforms[i].id, i);
    names.push_back(transforms[i].id);
  }
  std::vector<std::vector<size_t>> deps(transforms.size());
  for (size_t i = 0; i < transforms.size(); ++i) {
    for (const std::string& input : transforms[i].after) {
      if (auto it = index.find(input); it != index.end()) deps[i].push_back(it->second);
    }
  }
  return stable_topological_order(names, deps, "transform");
}

}  // namespace

std::string SkippedTransform::describe() const {
  if (input_failed) return fmt::format("{} skipped: input {} failed", id, input);
  if (input == cause) return fmt::format("{} skipped: input {} was skipped", id, input);
  return fmt::format("{} skipped: input {} was skipped ({} failed)", id, input, cause);
}

Result<std::vector<std::string>> transform_order(const std::vector<TransformDef>& transforms,
                                                 const std::set<std::string>& job_ids) {
  std::set<std::string> ids;
  for (const TransformDef& t : transforms) {
    if (!ids.insert(t.id).second) return Status::invalid("duplicate transform id '{}'", t.id);
  }
  for (const TransformDef& t : transforms) {
    for (const std::string& input : t.after) {
      if (!ids.count(input) && !job_ids.count(input)) {
        return Status::invalid("transform {}: '{}' is neither a job nor a transform", t.id, input);
      }
    }
  }
  FERRY_ASSIGN(std::vector<size_t> order, ordered(transforms));
  std::vector<std::string> out;
  for (size_t i : order) {
    out.push_back(transforms[i].id);
  }
  return out;
}

Result<TransformStep> transforms_ready(const std::vector<TransformDef>& transforms,
                                       const std::map<std::string, StepState>& batch) {
  FERRY_ASSIGN(std::vector<size_t> order, ordered(transforms));
  // The state of everything, as decided so far (including by this call), and for failed or
  // skipped steps the failure they go back to.
  std::map<std::string, StepState> state = batch;
  std::map<std::string, std::string> cause;
  for (const auto& [id, s] : batch) {
    if (s == StepState::kFailed || s == StepState::kSkipped) cause[id] = id;
  }
  // A transform skipped before this call goes back to the cause of its first input that did
  // not succeed (in order, so an input's cause is known before it is needed).
  for (size_t i : order) {
    const TransformDef& t = transforms[i];
    if (!batch.count(t.id) || batch.at(t.id) != StepState::kSkipped) continue;
    for (const std::string& input : t.after) {
      if (input != t.id && cause.count(input)) {
        cause[t.id] = cause[input];
        break;
      }
    }
  }

  TransformStep step;
  bool waiting = false;
  for (const auto& [id, s] : batch) {
    waiting = waiting || s == StepState::kPending;
  }
  for (size_t i : order) {
    const TransformDef& t = transforms[i];
    if (state.count(t.id)) continue;  // decided before
    bool in_batch = false, pending = false;
    const std::string* bad = nullptr;
    for (const std::string& input : t.after) {
      auto it = state.find(input);
      if (it == state.end()) continue;  // not part of this batch
      in_batch = true;
      if (it->second == StepState::kPending) pending = true;
      if ((it->second == StepState::kFailed || it->second == StepState::kSkipped) && !bad) {
        bad = &input;
      }
    }
    if (!in_batch) continue;
    if (bad) {
      step.skip.push_back({t.id, *bad, cause[*bad], state[*bad] == StepState::kFailed});
      state[t.id] = StepState::kSkipped;
      cause[t.id] = cause[*bad];
    } else if (pending) {
      state[t.id] = StepState::kPending;  // its dependents wait too
      waiting = true;
    } else {
      step.run.push_back(t.id);
      state[t.id] = StepState::kPending;
      waiting = true;
    }
  }
  step.done = !waiting;
  return step;
}

}  // namespace ferry
