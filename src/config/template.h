// Placeholders in project strings.
//
//   {{name}}   a job parameter, filled from the job's `params` (and the template's defaults)
//              when a job is resolved; {{watermark}} is always available. Spaces inside the
//              braces are allowed: {{ store_id }}.
//   ${NAME}    an environment variable, resolved at run time only (secrets never sit in the
//              project or the config table). NAME is [A-Za-z_][A-Za-z0-9_]*.
//   $${        a literal "${".
//
// Thread-safety: pure functions.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace ferry {

struct TemplateToken {
  enum class Kind { kText, kParam, kEnv };
  Kind kind = Kind::kText;
  std::string text;  // the literal text, or the param / variable name
};

// Splits `text` into literal text and placeholders. Fails (kInvalid) on an unterminated
// "{{" or "${" and on a name that is not a valid identifier; the message quotes the part.
// With `params` false, "{{" is plain text (for places where params are not filled in, such
// as a webhook body).
Result<std::vector<TemplateToken>> tokenize_template(std::string_view text, bool params = true);

// Names of the {{params}} used in any string of `value` (recursively; keys are not scanned).
// Malformed placeholders are skipped (validation reports them).
std::set<std::string> template_params(const nlohmann::json& value);

// `text` with each {{param}} replaced: {{watermark}} by `watermark`, others by
// params[name] (strings as is, other JSON values as their JSON text, null as ""). A param
// missing from `params` is left as written and its name appended to *missing (when given).
// ${NAME} references and "$${" escapes are kept as written. Malformed text is returned as is.
std::string render_template(std::string_view text, const nlohmann::json& params,
                            const std::string& watermark,
                            std::vector<std::string>* missing = nullptr);

}  // namespace ferry
