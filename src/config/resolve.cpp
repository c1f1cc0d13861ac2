#include "config/project.h"

#include <cstdlib>
#include <map>
#include <set>

#include <fmt/format.h>

#include "config/json_values.h"
#include "config/template.h"
#include "config/validate.h"
#include "core/redact.h"

namespace ferry {
namespace {

using json = nlohmann::json;

// Fills {{params}} and/or ${ENV} in one left-to-right pass over each string, so that nothing
// inserted is itself expanded again.
class Expander {
 public:
  Expander(const json* params, const std::string& watermark, const EnvLookup* env,
           std::vector<std::string>* errors)
      : params_(params), watermark_(watermark), env_(env), errors_(errors) {}

  json expand(const json& value, const std::string& path) {
    if (value.is_object()) {
      json out = json::object();
      for (const auto& [k, v] : value.items()) {
        out[k] = expand(v, path + "." + k);
      }
      return out;
    }
    if (value.is_array()) {
      json out = json::array();
      for (size_t i = 0; i < value.size(); ++i) {
        out.push_back(expand(value[i], fmt::format("{}[{}]", path, i)));
      }
      return out;
    }
    if (!value.is_string()) return value;

    const std::string& text = value.get_ref<const std::string&>();
    auto tokens = tokenize_template(text, params_ != nullptr);
    if (!tokens.ok()) {
      errors_->push_back(path + ": " + tokens.status().message());
      return value;
    }
    const auto& list = tokens.value();
    // "{{store_id}}" alone keeps the param's type.
    if (list.size() == 1 && list[0].kind == TemplateToken::Kind::kParam) {
      const std::string& name = list[0].text;
      if (name == "watermark") return watermark_;
      if (params_->contains(name)) return (*params_)[name];
    }
    std::string out;
    for (const TemplateToken& t : list) {
      switch (t.kind) {
        case TemplateToken::Kind::kText:
          out += t.text;
          break;
        case TemplateToken::Kind::kParam:
          if (t.text == "watermark") {
            out += watermark_;
          } else if (params_->contains(t.text)) {
            const json& v = (*params_)[t.text];
            out += v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
          } else {
            missing_.insert(t.text);
            out += "{{" + t.text + "}}";
          }
          break;
        case TemplateToken::Kind::kEnv:
          if (!env_) {
            out += "${" + t.text + "}";
          } else if (std::optional<std::string> v = (*env_)(t.text)) {
            register_secret(*v);
            out += *v;
          } else {
            errors_->push_back(fmt::format("{}: environment variable {} is not set", path, t.text));
          }
          break;
      }
    }
    return out;
  }

  const std::set<std::string>& missing() const { return missing_; }

 private:
  const json* params_;  // nullptr: {{...}} is plain text
  const std::string& watermark_;
  const EnvLookup* env_;  // nullptr: ${...} is kept as written
  std::vector<std::string>* errors_;
  std::set<std::string> missing_;
};

bool to_bool(const json& v, bool* out) {
  if (v.is_boolean()) {
    *out = v.get<bool>();
    return true;
  }
  if (v != "true" && v != "false") return false;
  *out = v == "true";
  return true;
}

// The enum value named by `v` (null = the default), or nullopt when the name is not known.
template <typename E>
std::optional<E> named(const json& v, const std::map<std::string, E>& names, E fallback) {
  if (v.is_null()) return fallback;
  auto it = names.find(text_of(v));
  if (!v.is_string() || it == names.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> names(const json& v) {
  std::vector<std::string> out;
  if (v.is_string()) out.push_back(v.get<std::string>());
  if (v.is_array()) {
    for (const json& item : v) {
      out.push_back(text_of(item));
    }
  }
  return out;
}

class Resolver {
 public:
  Resolver(const Project& project, const JobDefinition& job, const EnvLookup& env)
      : project_(project), job_(job), env_(env), prefix_("job " + job.id + ": ") {}

  Result<JobSpec> run(const std::string& watermark) {
    // 1. The job over its template.
    json merged = job_.spec.is_object() ? job_.spec : json::object();
    json params = job_.params.is_object() ? job_.params : json::object();
    if (!job_.template_name.empty()) {
      const json& tmpl = member(project_.templates, job_.template_name);
      if (!tmpl.is_object()) {
        return Status::invalid("{}unknown template '{}'", prefix_, job_.template_name);
      }
      json base = tmpl;
      params =
          deep_merge(member(base, "params").is_object() ? base["params"] : json::object(), params);
      base.erase("params");
      merged = deep_merge(base, merged);
    }
    for (const char* key : {"id", "template", "params"}) {
      merged.erase(key);
    }

    // 2 + 3. Params, the watermark and the environment.
    const json& inc = member(merged, "incremental");
    std::vector<std::string> ignored;
    std::string initial = render_template(text_of(member(inc, "initial")), params, "", &ignored);
    spec_.watermark = watermark.empty() ? initial : watermark;

    Expander params_only(&params, spec_.watermark, nullptr, &errors_);
    Expander params_and_env(&params, spec_.watermark, &env_, &errors_);
    json job = json::object();
    for (const auto& [key, value] : merged.items()) {
      bool with_env = key == "source" || key == "target";
      job[key] = (with_env ? params_and_env : params_only).expand(value, prefix_ + key);
    }
    std::set<std::string> missing = params_only.missing();
    missing.insert(params_and_env.missing().begin(), params_and_env.missing().end());
    for (const std::string& name : missing) {
      errors_.push_back(job_.template_name.empty()
                            ? fmt::format("{}param '{}' is used but not given", prefix_, name)
                            : fmt::format("job {}: template {} needs param '{}'", job_.id,
                                          job_.template_name, name));
    }

    // 4. Typed fields.
    spec_.id = job_.id;
    spec_.description = text_of(member(job, "description"));
    source(member(job, "source"));
    target(member(job, "target"));
    const json& resolved_inc = member(job, "incremental");
    spec_.incremental = {text_of(member(resolved_inc, "cursor_field")),
                         text_of(member(resolved_inc, "initial")),
                         text_of(member(resolved_inc, "lookback"))};
    if (const json& columns = member(job, "columns"); columns.is_object()) spec_.columns = columns;
    spec_.schedule = text_of(member(job, "schedule"));
    spec_.every = text_of(member(job, "every"));
    spec_.on = text_of(member(job, "on"));
    spec_.poll = text_of(member(job, "poll"));
    spec_.timeout = text_of(member(job, "timeout"));
    spec_.catchup = text_of(member(job, "catchup"));
    if (const json& tags = member(job, "tags"); tags.is_array()) {
      for (const json& t : tags)
        if (t.is_string()) spec_.tags.push_back(t.get<std::string>());
    }
    integer(job, "max_rejects", "max_rejects", &spec_.max_rejects, 0);
    schema(member(job, "schema"));
    const json& nesting = member(job, "nesting");
    integer(nesting, "max_depth", "nesting.max_depth", &spec_.max_depth, 0);
    spec_.json_paths = names(member(nesting, "json"));
    spec_.flatten_paths = names(member(nesting, "flatten"));
    if (!spec_.flatten_paths.empty()) {  // declared in CONFIG.md; the normaliser lacks it yet
      errors_.push_back(prefix_ +
                        "nesting.flatten: not supported yet (arrays become child tables; "
                        "nesting.json keeps them as JSON text)");
    }
    const json& retries = member(job, "retries");
    integer(retries, "max_attempts", "retries.max_attempts", &spec_.max_attempts, 1);
    spec_.backoff = text_of(member(retries, "backoff"));
    bool enabled = true;
    if (const json& e = member(job, "enabled"); !e.is_null() && !to_bool(e, &enabled)) {
      errors_.push_back(prefix_ + "enabled: expected true or false");
    }
    spec_.enabled = job_.enabled && enabled;
    spec_.priority = job_.priority;
    if (spec_.priority == 0) integer(job, "priority", "priority", &spec_.priority, -1 << 30);

    if (!errors_.empty()) {
      std::string text;
      for (const std::string& e : errors_) {
        text += (text.empty() ? "" : "\n") + e;
      }
      return Status(Code::kInvalid, text);
    }
    return std::move(spec_);
  }

 private:
  // The connection named `name`, its options resolved; false (with an error) when unknown.
  bool connection(const std::string& name, const std::string& field, std::string* kind,
                  json* options) {
    if (!member(project_.connections, name).is_object()) {
      errors_.push_back(fmt::format("{}{}: unknown connection '{}'", prefix_, field, name));
      return false;
    }
    auto resolved = resolve_connection(project_, name, env_);
    if (!resolved.ok()) {
      errors_.push_back(resolved.status().message());
      return false;
    }
    *options = std::move(resolved).value();
    *kind = text_of(member(*options, "type"));
    return true;
  }

  void source(const json& src) {
    if (!src.is_object()) {
      errors_.push_back(prefix_ + "source: missing (a job needs a source)");
      return;
    }
    spec_.source_connection = text_of(member(src, "connection"));
    if (spec_.source_connection.empty()) {
      errors_.push_back(prefix_ + "source: missing required key 'connection'");
    } else {
      connection(spec_.source_connection, "source.connection", &spec_.source_kind,
                 &spec_.connection);
    }
    spec_.source = src;
    spec_.source.erase("connection");
  }

  void target(const json& tgt) {
    if (!tgt.is_object()) {
      errors_.push_back(prefix_ + "target: missing (a job needs a target table)");
      return;
    }
    spec_.target_connection = text_of(member(tgt, "connection"));
    if (spec_.target_connection.empty()) spec_.target_connection = project_.warehouse;
    if (spec_.target_connection.empty()) {
      errors_.push_back(prefix_ + "target: no connection given and the project has no warehouse");
    } else {
      std::string kind;
      connection(spec_.target_connection, "target.connection", &kind,
                 &spec_.target_connection_options);
    }
    spec_.table = text_of(member(tgt, "table"));
    if (spec_.table.empty()) errors_.push_back(prefix_ + "target: missing required key 'table'");
    static const std::map<std::string, WriteMode> kModes = {{"append", WriteMode::kAppend},
                                                            {"merge", WriteMode::kMerge},
                                                            {"replace", WriteMode::kReplace}};
    const json& mode = member(tgt, "mode");
    if (auto m = named(mode, kModes, WriteMode::kAppend)) {
      spec_.mode = *m;
    } else {
      errors_.push_back(fmt::format("{}target.mode: {} is not one of append, merge, replace",
                                    prefix_, mode.dump()));
    }
    spec_.primary_key = names(member(tgt, "primary_key"));
    if (spec_.mode == WriteMode::kMerge && spec_.primary_key.empty()) {
      errors_.push_back(prefix_ + "target.mode: mode merge needs a primary_key");
    }
    spec_.target = tgt;
    for (const char* key : {"connection", "table", "mode", "primary_key"}) {
      spec_.target.erase(key);
    }
  }

  void schema(const json& v) {
    static const std::map<std::string, SchemaPolicy> kPolicies = {
        {"evolve", SchemaPolicy::kEvolve},
        {"freeze", SchemaPolicy::kFreeze},
        {"discard_row", SchemaPolicy::kDiscardRow},
        {"discard_value", SchemaPolicy::kDiscardValue}};
    if (auto policy = named(v, kPolicies, SchemaPolicy::kEvolve)) {
      spec_.schema = *policy;
    } else {
      errors_.push_back(
          fmt::format("{}schema: {} is not one of evolve, freeze, discard_row, discard_value",
                      prefix_, v.dump()));
    }
  }

  void integer(const json& object, const std::string& key, const std::string& path, int* out,
               int min) {
    const json& v = member(object, key);
    if (v.is_null()) return;
    int n = 0;
    if (!int_of(v, &n)) {
      errors_.push_back(fmt::format("{}{}: expected an integer, got {}", prefix_, path, v.dump()));
    } else if (n < min) {
      errors_.push_back(fmt::format("{}{}: must be at least {}", prefix_, path, min));
    } else {
      *out = n;
    }
  }

  const Project& project_;
  const JobDefinition& job_;
  const EnvLookup& env_;
  std::string prefix_;
  JobSpec spec_;
  std::vector<std::string> errors_;
};

}  // namespace

EnvLookup default_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Result<JobSpec> resolve_job(const Project& project, const JobDefinition& job,
                            const std::string& watermark, const EnvLookup& env) {
  return Resolver(project, job, env).run(watermark);
}

Result<nlohmann::json> resolve_env(const nlohmann::json& value, const std::string& where,
                                   const EnvLookup& env) {
  std::vector<std::string> errors;
  const std::string no_watermark;
  Expander expander(nullptr, no_watermark, &env, &errors);
  nlohmann::json out = expander.expand(value, where);
  if (errors.empty()) return out;
  std::string text;
  for (const std::string& e : errors) {
    text += (text.empty() ? "" : "\n") + e;
  }
  return Status(Code::kInvalid, text);
}

Result<nlohmann::json> resolve_connection(const Project& project, const std::string& name,
                                          const EnvLookup& env) {
  const json& conn = member(project.connections, name);
  if (!conn.is_object()) return Status::not_found("unknown connection '{}'", name);
  return resolve_env(conn, "connections." + name, env);
}

}  // namespace ferry
