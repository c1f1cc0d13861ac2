// Internal to src/config: the checks behind load_project and validate_project.
//
// The checker works on the project as one JSON document (the form of Project::to_json and of
// the loaded YAML) and reports problems by JSON pointer; the caller turns pointers into
// "file:line:col: path" (with a SourceMap) or into paths naming jobs by id (without).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/plugin.h"

namespace ferry {

struct Problem {
  std::string pointer;  // where, in the document
  std::string message;
  bool at_key = false;  // about the key ending `pointer`: the message names the key, the
                        // path shown is the map holding it, the position is the key's
  std::string first;    // for duplicates: pointer of the first definition ("" when none)
};

// Every problem of the project document `doc`. A template's problem comes once per job using
// it (same pointer and message); the caller drops the repeats. `dir` is the project folder, for SQL
// files of transforms that carry no `sql_text`.
std::vector<Problem> check_project(const nlohmann::json& doc, const PluginCatalog& catalog,
                                   const std::string& dir);

// `over` merged into `base`: maps merge key by key (recursively), anything else in `over`
// replaces what `base` has. How a job's own fields override its template's.
nlohmann::json deep_merge(const nlohmann::json& base, const nlohmann::json& over);

}  // namespace ferry
