// Option declarations for connections, sources and destinations.
//
// Every plugin (a connection kind such as `file` or `sqlite`) declares its options once,
// here-shaped: name, type, default, description, required, secret. Validation of project
// files, unknown-key errors with "did you mean", `ferry help source <kind>` and
// docs/config.md all come from these declarations.
//
// Thread-safety: plain values; the catalog is built once at startup and then read-only.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ferry {

enum class OptionType { kString, kInt, kBool, kDuration, kList, kMap, kAny };
const char* option_type_name(OptionType t);

struct OptionDecl {
  std::string name;
  OptionType type = OptionType::kString;
  std::string default_value;  // "" = no default
  std::string description;
  bool required = false;
  bool secret = false;  // never printed; must come from ${ENV} in project files
};

// The options of one connection kind: those of the connection itself, those a job's
// `source:` block may use with such a connection, and those a job's `target:` may use.
struct PluginDecl {
  std::string kind;         // "file", "sqlite", ...
  std::string description;  // one line
  bool is_source = false;
  bool is_destination = false;
  std::vector<OptionDecl> connection_options;
  std::vector<OptionDecl> source_options;
  std::vector<OptionDecl> target_options;
};

// A problem with one key of an options object.
struct OptionProblem {
  std::string key;      // the offending key (may be "" for the object itself)
  std::string message;  // e.g. "unknown key 'pth' (did you mean 'path'?)"
};

// Checks `given` (a JSON object) against `decls`: unknown keys (with a suggestion),
// missing required keys, values of the wrong type. Keys in `ignore` are accepted as is.
// Values that still contain "{{...}}" templates are not type-checked.
std::vector<OptionProblem> validate_options(const std::vector<OptionDecl>& decls,
                                            const nlohmann::json& given,
                                            const std::vector<std::string>& ignore = {});

// The closest candidate by edit distance, or "" when none is close enough.
std::string did_you_mean(std::string_view key, const std::vector<std::string>& candidates);

// Human-readable help for `ferry help source <kind>`.
std::string render_help(const PluginDecl& plugin);
// Markdown reference of all plugins, for docs/config.md.
std::string render_markdown(const std::vector<PluginDecl>& plugins);
// One Markdown table (Option | Type | Default | Required | Description) of `options`; used by
// render_markdown and by the project-file reference (config/schema.h).
std::string render_options_markdown(const std::vector<OptionDecl>& options);
// True when `value` is a string still holding a "{{param}}" or "${ENV}" reference, whose type
// is only known once it is resolved.
bool is_unresolved(const nlohmann::json& value);

// Every plugin known to this binary, by kind. Built by pipeline/registry.
using PluginCatalog = std::map<std::string, PluginDecl>;

}  // namespace ferry
