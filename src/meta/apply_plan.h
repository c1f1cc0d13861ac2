// apply_version's work apart from the database, shared by both metastore backends so that an
// apply means the same on each: the checks of its input (made before any write) and, given
// the config table's rows, which rows to remove and write and what to audit. The contract is
// Metastore::apply_version's (meta/metastore.h).
//
// Thread-safety: plain functions of their arguments.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "meta/metastore.h"

namespace ferry::meta {

struct ApplyInput {
  std::map<std::string, const JobRow*> wanted;     // the jobs to apply, by id (borrowed)
  nlohmann::json rules = nlohmann::json::array();  // the control rules, objects
  std::string project_text;                        // the project as stored
};

// kInvalid for a job check_job refuses, two jobs with one id, or control rules that are not
// a list of objects. The result borrows `jobs`.
Result<ApplyInput> check_apply(const nlohmann::json& project, const std::vector<JobRow>& jobs);

struct ApplyPlan {
  struct Write {
    const JobRow* job;      // borrowed from the ApplyInput
    std::string watermark;  // the row's watermark when it has reached one, else the job's
  };
  std::vector<std::string> remove;  // ids of origin-apply rows no longer wanted
  std::vector<Write> write;         // new or changed jobs, to write with origin apply
  // Sorted id lists for the audit row.
  nlohmann::json added = nlohmann::json::array(), removed = nlohmann::json::array(),
                 changed = nlohmann::json::array(), kept = nlohmann::json::array();
};

// What applying `input` to a config table holding `existing` (every row, ordered by id) does.
ApplyPlan plan_apply(std::vector<JobRow> existing, const ApplyInput& input);

// The 'config_applied' audit row of version `version`.
AuditEvent config_applied_event(int64_t version, const std::string& note, ApplyPlan plan);

// The `on` event of a control rule, "" when it has none.
std::string control_rule_event(const nlohmann::json& rule);

}  // namespace ferry::meta
