// The keys of a project file that belong to ferry itself (not to a plugin), declared once
// like plugin options: validation, "did you mean" and the project-file reference in
// docs/config.md all come from these tables.
//
// Thread-safety: the tables are built on first use (thread-safe statics) and then read-only.
#pragma once

#include <string>
#include <vector>

#include "core/plugin.h"

namespace ferry {

const std::vector<OptionDecl>& project_options();      // top level of ferry.yml
const std::vector<OptionDecl>& jobs_file_options();    // top level of jobs/*.yml
const std::vector<OptionDecl>& api_options();          // api:
const std::vector<OptionDecl>& connection_options();   // every connection, before its kind's own
const std::vector<OptionDecl>& job_options();          // a job (jobs: - ...)
const std::vector<OptionDecl>& template_options();     // a template (templates: name: ...)
const std::vector<OptionDecl>& source_options();       // source:, before the kind's own options
const std::vector<OptionDecl>& target_options();       // target:, before the kind's own options
const std::vector<OptionDecl>& incremental_options();  // incremental:
const std::vector<OptionDecl>& nesting_options();      // nesting:
const std::vector<OptionDecl>& retries_options();      // retries:
const std::vector<OptionDecl>& transform_options();    // transforms: - ...
const std::vector<OptionDecl>& control_options();      // control: - ...
const std::vector<OptionDecl>& email_options();        // control: - email:
const std::vector<OptionDecl>& webhook_options();      // control: - webhook:

// Allowed values of the enumerated keys.
const std::vector<std::string>& write_modes();      // append, merge, replace
const std::vector<std::string>& schema_policies();  // evolve, freeze, discard_row, discard_value
const std::vector<std::string>& catchup_modes();    // none, all
const std::vector<std::string>& job_events();       // new_objects
const std::vector<std::string>& batch_events();     // batch_succeeded, batch_failed, ...
const std::vector<std::string>& webhook_methods();  // GET, POST, PUT, PATCH, DELETE

// The Markdown reference of every key above, for docs/config.md (the plugins' own options
// come from render_markdown in core/plugin.h).
std::string render_project_reference();

}  // namespace ferry
