#include "config/validate.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "config/graph.h"
#include "config/json_values.h"
#include "config/schema.h"
#include "config/template.h"
#include "config/yaml.h"

namespace ferry {
namespace {

using json = nlohmann::json;

// A string that is set and fully known (no {{param}} or ${ENV} left in it).
bool plain_string(const json& v) {
  return v.is_string() && !is_unresolved(v);
}

bool valid_id(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string env_hint(const std::string& owner, const std::string& key) {
  std::string out = owner + "_" + key;
  for (char& c : out) {
    c = std::isalnum(static_cast<unsigned char>(c))
            ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
            : '_';
  }
  return out;
}

std::vector<std::string> keys_of(const json& object) {
  std::vector<std::string> out;
  if (object.is_object()) {
    for (const auto& [k, v] : object.items()) {
      out.push_back(k);
    }
  }
  return out;
}

std::vector<std::string> except(const std::vector<std::string>& all, const std::string& key) {
  std::vector<std::string> out;
  for (const std::string& k : all) {
    if (k != key) out.push_back(k);
  }
  return out;
}

std::vector<OptionDecl> relaxed(std::vector<OptionDecl> decls) {
  for (OptionDecl& d : decls) {
    d.required = false;
  }
  return decls;
}

// ferry's own keys, then the plugin's; a key both declare is kept once (ferry's).
std::vector<OptionDecl> concat(std::vector<OptionDecl> a, const std::vector<OptionDecl>& b) {
  for (const OptionDecl& d : b) {
    bool have = false;
    for (const OptionDecl& x : a)
      have = have || x.name == d.name;
    if (!have) a.push_back(d);
  }
  return a;
}

std::string suggestion(const std::string& name, const std::vector<std::string>& candidates) {
  std::string s = did_you_mean(name, candidates);
  return s.empty() ? "" : " (did you mean '" + s + "'?)";
}

std::string list_text(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    out += (out.empty() ? "" : ", ") + v;
  }
  return out;
}

bool is_cron(const std::string& text) {
  static const std::set<std::string> kNamed = {"@yearly", "@annually", "@monthly", "@weekly",
                                               "@daily",  "@midnight", "@hourly"};
  if (!text.empty() && text.front() == '@') return kNamed.count(text) > 0;
  int fields = 0;
  bool in_field = false;
  for (char c : text) {
    if (c == ' ' || c == '\t') {
      in_field = false;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && !std::strchr("*/,-?", c)) return false;
    if (!in_field) ++fields;
    in_field = true;
  }
  return fields == 5;
}

// Where environment variables and params may appear.
enum class Refs { kAllowed, kForbidden, kIgnored };

class Checker {
 public:
  Checker(const json& doc, const PluginCatalog& catalog, const std::string& dir)
      : doc_(doc), catalog_(catalog), dir_(dir) {}

  std::vector<Problem> run() {
    if (!doc_.is_object()) {
      add("", doc_.is_null() ? "the project is empty: it needs at least connections and jobs"
                             : "expected a map of project settings");
      return std::move(problems_);
    }
    options("", doc_, project_options());
    check_top();
    check_connections();
    check_templates();
    check_jobs();
    check_transforms();
    check_control();
    return std::move(problems_);
  }

 private:
  // ---- reporting

  void add(const std::string& pointer, std::string message, bool at_key = false,
           std::string first = "") {
    std::string where = translate(pointer);
    problems_.push_back({std::move(where), std::move(message), at_key, std::move(first)});
  }

  // While a job that uses a template is checked, pointers into the merged job are mapped
  // back to where each value was written (the job or the template).
  std::string translate(const std::string& pointer) const {
    std::string p = pointer;
    for (;;) {
      auto it = origins_.find(p);
      if (it != origins_.end()) return it->second + pointer.substr(p.size());
      if (p.empty()) return pointer;
      p.resize(p.rfind('/'));
    }
  }

  // Checks an options map; returns whether `value` is a map to look into further.
  bool options(const std::string& pointer, const json& value, const std::vector<OptionDecl>& decls,
               const std::vector<std::string>& ignore = {}) {
    for (const OptionProblem& p : validate_options(decls, value, ignore)) {
      if (p.key.empty()) {
        add(pointer, p.message);
      } else {
        add(pointer_child(pointer, p.key), p.message, true);
      }
    }
    return value.is_object();
  }

  void check_enum(const json& object, const std::string& key, const std::string& pointer,
                  const std::vector<std::string>& allowed) {
    const json& v = member(object, key);
    if (v.is_null() || is_unresolved(v)) return;
    if (v.is_string() &&
        std::find(allowed.begin(), allowed.end(), v.get<std::string>()) != allowed.end()) {
      return;
    }
    std::string got = v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump();
    add(pointer_child(pointer, key),
        fmt::format("'{}' must be one of {}, got {}{}", key, list_text(allowed), got,
                    v.is_string() ? suggestion(v.get<std::string>(), allowed) : ""),
        true);
  }

  void check_min(const json& object, const std::string& key, const std::string& pointer, int min) {
    const json& v = member(object, key);
    int n = 0;
    if (!int_of(v, &n)) return;  // not a number: a type problem, reported by options()
    if (n < min) {
      add(pointer_child(pointer, key), fmt::format("'{}' must be at least {}", key, min), true);
    }
  }

  void check_string_list(const json& object, const std::string& key, const std::string& pointer) {
    const json& v = member(object, key);
    if (!v.is_array()) return;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string()) add(pointer_child(pointer_child(pointer, key), i), "expected a name");
    }
  }

  // Options a plugin declares secret must be ${ENV} references, never literals.
  void check_secrets(const std::vector<OptionDecl>& decls, const json& object,
                     const std::string& pointer, const std::string& owner) {
    for (const OptionDecl& d : decls) {
      const json& v = member(object, d.name);
      if (!d.secret || v.is_null()) continue;
      if (v.is_string() && v.get<std::string>().find("${") != std::string::npos) continue;
      add(pointer_child(pointer, d.name),
          fmt::format("secret '{}' must come from the environment, e.g. ${{{}}}", d.name,
                      env_hint(owner, d.name)),
          true);
    }
  }

  // Syntax of {{param}} and ${ENV} in every string of `value`, and whether they may be used.
  void check_refs(const json& value, const std::string& pointer, Refs env, Refs params) {
    if (value.is_structured()) {
      for (const auto& [k, v] : value.items()) {
        check_refs(
            v,
            value.is_object() ? pointer_child(pointer, k) : pointer_child(pointer, std::stoul(k)),
            env, params);
      }
      return;
    }
    if (!value.is_string()) return;
    auto tokens = tokenize_template(value.get<std::string>(), params != Refs::kIgnored);
    if (!tokens.ok()) {
      add(pointer, tokens.status().message());
      return;
    }
    for (const TemplateToken& t : tokens.value()) {
      if (t.kind == TemplateToken::Kind::kEnv && env == Refs::kForbidden) {
        add(pointer, fmt::format("${{{}}} is not resolved here: environment variables work in "
                                 "connections, api, control and a job's source and target",
                                 t.text));
      } else if (t.kind == TemplateToken::Kind::kParam && params == Refs::kForbidden) {
        add(pointer, fmt::format("{{{{{}}}}} is not filled in here: params work in jobs and "
                                 "templates, outside their params",
                                 t.text));
      }
    }
  }

  // ---- connections

  const json& connections() const { return member(doc_, "connections"); }

  bool connection_exists(const std::string& name) const {
    return connections().is_object() && connections().contains(name);
  }

  // The declaration of a connection's kind, or nullptr when the connection or kind is unknown.
  const PluginDecl* kind_of(const std::string& name) const {
    const json& type = member(member(connections(), name), "type");
    if (!type.is_string()) return nullptr;
    auto it = catalog_.find(type.get<std::string>());
    return it == catalog_.end() ? nullptr : &it->second;
  }

  void unknown_connection(const std::string& pointer, const std::string& name) {
    add(pointer,
        fmt::format("unknown connection '{}'{}", name, suggestion(name, keys_of(connections()))));
  }

  void check_top() {
    check_min(doc_, "concurrency", "", 1);
    const json& metastore = member(doc_, "metastore");
    if (plain_string(metastore)) {
      const std::string& m = metastore.get_ref<const std::string&>();
      bool url = m.find("://") != std::string::npos;
      if (url && m.rfind("postgres://", 0) != 0 && m.rfind("postgresql://", 0) != 0) {
        add("/metastore",
            fmt::format("expected sqlite:PATH or postgres://user@host:5432/db, got '{}'", m));
      }
    }
    check_refs(metastore, "/metastore", Refs::kAllowed, Refs::kForbidden);

    const json& warehouse = member(doc_, "warehouse");
    if (plain_string(warehouse)) {
      const std::string& name = warehouse.get_ref<const std::string&>();
      if (!connection_exists(name)) {
        unknown_connection("/warehouse", name);
      } else if (const PluginDecl* kind = kind_of(name); kind && !kind->is_destination) {
        add("/warehouse", fmt::format("connection '{}' is a {} connection, which cannot be "
                                      "written to (not a destination)",
                                      name, kind->kind));
      }
    }

    const json& api = member(doc_, "api");
    if (api.is_object()) {
      options("/api", api, api_options());
      check_secrets(api_options(), api, "/api", "ferry");
      check_refs(api, "/api", Refs::kAllowed, Refs::kIgnored);
    }
  }

  void check_connections() {
    if (!connections().is_object()) return;
    std::vector<std::string> kinds;
    for (const auto& [kind, decl] : catalog_) {
      kinds.push_back(kind);
    }
    for (const auto& [name, conn] : connections().items()) {
      std::string pointer = pointer_child("/connections", name);
      if (!valid_id(name)) {
        add(pointer,
            fmt::format("connection name '{}' may only have letters, digits, _, . and -", name),
            true);
      }
      if (!conn.is_object()) {
        add(pointer, "expected a map: {type: KIND, ...options}");
        continue;
      }
      const json& type = member(conn, "type");
      const PluginDecl* kind = kind_of(name);
      if (kind) {
        options(pointer, conn, concat(connection_options(), kind->connection_options));
        check_secrets(kind->connection_options, conn, pointer, name);
      } else {
        if (type.is_string()) {
          add(pointer_child(pointer, "type"),
              fmt::format("unknown connection type '{}'{}; known: {}", type.get<std::string>(),
                          suggestion(type.get<std::string>(), kinds), list_text(kinds)));
        }
        // The kind's options cannot be checked; the common ones still can.
        std::vector<std::string> others;
        for (const std::string& k : keys_of(conn)) {
          if (k != "type" && k != "description" && k != "max_concurrency") others.push_back(k);
        }
        options(pointer, conn, connection_options(), others);
      }
      check_min(conn, "max_concurrency", pointer, 1);
      check_refs(conn, pointer, Refs::kAllowed, Refs::kForbidden);
    }
  }

  // ---- jobs and templates

  const json& templates() const { return member(doc_, "templates"); }

  void check_templates() {
    if (!templates().is_object()) return;
    for (const auto& [name, tmpl] : templates().items()) {
      std::string pointer = pointer_child("/templates", name);
      if (!valid_id(name)) {
        add(pointer,
            fmt::format("template name '{}' may only have letters, digits, _, . and -", name),
            true);
      }
      check_job(tmpl, pointer, /*is_template=*/true, /*loose=*/true);
    }
  }

  // Merges `over` into `base` like deep_merge, recording for every key of the result whether
  // it was written in the job or in the template.
  json merge_tracked(const json& base, const json& over, const std::string& at,
                     const std::string& base_at) {
    json out = base;
    for (const auto& [k, v] : base.items()) {
      origins_[pointer_child(at, k)] = pointer_child(base_at, k);
    }
    for (const auto& [k, v] : over.items()) {
      std::string p = pointer_child(at, k);
      origins_.erase(p);  // written in the job: its own pointer
      if (v.is_object() && out.contains(k) && out[k].is_object()) {
        out[k] = merge_tracked(out[k], v, p, pointer_child(base_at, k));
        origins_.erase(p);
      } else {
        out[k] = v;
        // Drop origins recorded below p for the template's value that was replaced.
        for (auto it = origins_.lower_bound(p + "/");
             it != origins_.end() && it->first.rfind(p + "/", 0) == 0;) {
          it = origins_.erase(it);
        }
      }
    }
    return out;
  }

  void check_jobs() {
    const json& jobs = member(doc_, "jobs");
    if (!jobs.is_array()) return;
    std::map<std::string, std::string> first;  // id -> pointer
    for (size_t i = 0; i < jobs.size(); ++i) {
      const json& job = jobs[i];
      std::string pointer = pointer_child("/jobs", i);
      if (!job.is_object()) {
        options(pointer, job, job_options());
        continue;
      }
      std::string id = text_of(member(job, "id"));
      if (!id.empty()) {
        auto [it, inserted] = first.emplace(id, pointer);
        if (!inserted) {
          add(pointer_child(pointer, "id"), fmt::format("duplicate job id '{}'", id), false,
              pointer_child(it->second, "id"));
        }
      } else {
        id = "#" + std::to_string(i);
      }

      json merged = job;
      bool loose = false;
      std::string template_name;
      const json& tmpl_name = member(job, "template");
      if (tmpl_name.is_string()) {
        template_name = tmpl_name.get<std::string>();
        const json& tmpl = member(templates(), template_name);
        if (tmpl.is_null()) {
          add(pointer_child(pointer, "template"),
              fmt::format("unknown template '{}'{}", template_name,
                          suggestion(template_name, keys_of(templates()))));
          template_name.clear();
          loose = true;  // what the job lacks may be meant to come from the template
        } else if (tmpl.is_object()) {
          merged = merge_tracked(tmpl, job, pointer, pointer_child("/templates", template_name));
        }
      }
      check_job(merged, pointer, /*is_template=*/false, loose);
      origins_.clear();

      // Every {{param}} must have a value.
      json body = merged;
      body.erase("params");
      const json& params = member(merged, "params");
      std::set<std::string> in_template;
      if (!template_name.empty()) {
        json t = member(templates(), template_name);
        t.erase("params");
        in_template = template_params(t);
      }
      for (const std::string& name : template_params(body)) {
        if (name == "watermark" || (params.is_object() && params.contains(name))) continue;
        std::string at = job.contains("params") ? pointer_child(pointer, "params") : pointer;
        if (in_template.count(name)) {
          add(at, fmt::format("job {}: template {} needs param '{}'", id, template_name, name),
              job.contains("params"));
        } else {
          add(at, fmt::format("job {}: param '{}' is used but not given", id, name),
              job.contains("params"));
        }
      }
    }
  }

  // `loose`: keys that are required of a job may be missing (a template leaves them to its
  // jobs).
  void check_job(const json& job, const std::string& pointer, bool is_template, bool loose) {
    if (!options(pointer, job,
                 is_template ? template_options()
                 : loose     ? relaxed(job_options())
                             : job_options())) {
      return;
    }
    const std::string id = text_of(member(job, "id"));
    if (!is_template && !id.empty() && !valid_id(id)) {
      add(pointer_child(pointer, "id"),
          fmt::format("job id '{}' may only have letters, digits, _, . and -", id));
    }
    if (const json& source = member(job, "source"); source.is_object()) {
      check_source(source, pointer_child(pointer, "source"), loose);
    }
    if (const json& target = member(job, "target"); target.is_object()) {
      check_target(target, pointer_child(pointer, "target"), loose);
    }
    if (const json& inc = member(job, "incremental"); inc.is_object()) {
      options(pointer_child(pointer, "incremental"), inc,
              loose ? relaxed(incremental_options()) : incremental_options());
    }
    if (const json& nesting = member(job, "nesting"); nesting.is_object()) {
      std::string p = pointer_child(pointer, "nesting");
      options(p, nesting, nesting_options());
      check_min(nesting, "max_depth", p, 0);
      check_string_list(nesting, "json", p);
      check_string_list(nesting, "flatten", p);
    }
    if (const json& retries = member(job, "retries"); retries.is_object()) {
      std::string p = pointer_child(pointer, "retries");
      options(p, retries, retries_options());
      check_min(retries, "max_attempts", p, 1);
    }
    check_enum(job, "schema", pointer, schema_policies());
    check_enum(job, "on", pointer, job_events());
    check_enum(job, "catchup", pointer, catchup_modes());
    check_min(job, "max_rejects", pointer, 0);
    const json& schedule = member(job, "schedule");
    if (plain_string(schedule) && !is_cron(schedule.get<std::string>())) {
      add(pointer_child(pointer, "schedule"),
          fmt::format("schedule must be a cron expression of 5 fields (minute hour day month "
                      "weekday) or @hourly, @daily, @weekly, @monthly; got '{}'",
                      schedule.get<std::string>()),
          true);
    }
    if (!schedule.is_null() && !member(job, "every").is_null()) {
      add(pointer_child(pointer, "every"), "use either schedule or every, not both", true);
    }
    if (const json& columns = member(job, "columns"); columns.is_object()) {
      for (const auto& [name, value] : columns.items()) {
        if (value.is_structured()) {
          add(pointer_child(pointer_child(pointer, "columns"), name),
              fmt::format("constant column '{}' must be a single value", name), true);
        }
      }
    }
    for (const auto& [key, value] : job.items()) {
      std::string p = pointer_child(pointer, key);
      if (key == "source" || key == "target") {
        check_refs(value, p, Refs::kAllowed, Refs::kAllowed);
      } else if (key == "params") {
        check_refs(value, p, Refs::kForbidden, Refs::kForbidden);
      } else {
        check_refs(value, p, Refs::kForbidden, Refs::kAllowed);
      }
    }
  }

  void check_source(const json& source, const std::string& pointer, bool loose) {
    std::vector<OptionDecl> decls = loose ? relaxed(source_options()) : source_options();
    const std::vector<std::string> others = except(keys_of(source), "connection");
    const json& conn = member(source, "connection");
    if (!plain_string(conn)) {
      options(pointer, source, decls, others);  // the connection's kind is not known here
      return;
    }
    const std::string& name = conn.get_ref<const std::string&>();
    const PluginDecl* kind = kind_of(name);
    if (!connection_exists(name)) unknown_connection(pointer_child(pointer, "connection"), name);
    if (!kind) {
      options(pointer, source, decls, others);
      return;
    }
    if (!kind->is_source) {
      add(pointer_child(pointer, "connection"),
          fmt::format("connection '{}' is a {} connection, which cannot be read from (not a "
                      "source)",
                      name, kind->kind));
      return;
    }
    options(pointer, source,
            concat(decls, loose ? relaxed(kind->source_options) : kind->source_options));
    check_secrets(kind->source_options, source, pointer, name);
  }

  void check_target(const json& target, const std::string& pointer, bool loose) {
    std::vector<OptionDecl> decls = loose ? relaxed(target_options()) : target_options();
    std::vector<std::string> others;
    for (const std::string& k : keys_of(target)) {
      if (std::none_of(decls.begin(), decls.end(),
                       [&](const OptionDecl& d) { return d.name == k; })) {
        others.push_back(k);
      }
    }
    const json& conn = member(target, "connection");
    const json& warehouse = member(doc_, "warehouse");
    const PluginDecl* kind = nullptr;
    if (plain_string(conn)) {
      const std::string& name = conn.get_ref<const std::string&>();
      kind = kind_of(name);
      if (!connection_exists(name)) {
        unknown_connection(pointer_child(pointer, "connection"), name);
      } else if (kind && !kind->is_destination) {
        add(pointer_child(pointer, "connection"),
            fmt::format("connection '{}' is a {} connection, which cannot be written to (not a "
                        "destination)",
                        name, kind->kind));
        kind = nullptr;
      }
    } else if (conn.is_null()) {
      if (plain_string(warehouse)) {
        kind = kind_of(warehouse.get<std::string>());
        if (kind && !kind->is_destination) kind = nullptr;  // reported at `warehouse`
      } else if (!loose && warehouse.is_null()) {
        add(pointer, "no connection given and the project has no warehouse");
      }
    }
    if (kind) {
      options(pointer, target,
              concat(decls, loose ? relaxed(kind->target_options) : kind->target_options));
      check_secrets(kind->target_options, target, pointer,
                    conn.is_string() ? conn.get<std::string>() : warehouse.get<std::string>());
    } else {
      options(pointer, target, decls, others);
    }
    check_enum(target, "mode", pointer, write_modes());
    check_string_list(target, "primary_key", pointer);
    const json& mode = member(target, "mode");
    const json& key = member(target, "primary_key");
    if (!loose && mode == "merge" && (key.is_null() || (key.is_array() && key.empty()))) {
      add(pointer_child(pointer, "mode"),
          "mode merge needs a primary_key (the columns that identify a row)", true);
    }
  }

  // ---- transforms

  void check_transforms() {
    const json& transforms = member(doc_, "transforms");
    if (!transforms.is_array()) return;
    std::set<std::string> job_ids;
    if (const json& jobs = member(doc_, "jobs"); jobs.is_array()) {
      for (const json& job : jobs) {
        if (std::string id = text_of(member(job, "id")); !id.empty()) job_ids.insert(id);
      }
    }
    std::map<std::string, size_t> index;  // transform id -> position
    for (size_t i = 0; i < transforms.size(); ++i) {
      std::string id = text_of(member(transforms[i], "id"));
      if (!id.empty()) index.emplace(id, i);
    }
    std::vector<std::string> known(job_ids.begin(), job_ids.end());
    for (const auto& [id, i] : index) {
      known.push_back(id);
    }

    for (size_t i = 0; i < transforms.size(); ++i) {
      const json& t = transforms[i];
      std::string pointer = pointer_child("/transforms", i);
      if (!options(pointer, t, transform_options(), {"sql_text"})) continue;
      if (const std::string name = text_of(member(t, "id")); !name.empty()) {
        if (!valid_id(name)) {
          add(pointer_child(pointer, "id"),
              fmt::format("transform id '{}' may only have letters, digits, _, . and -", name));
        }
        if (index[name] != i) {
          add(pointer_child(pointer, "id"), fmt::format("duplicate transform id '{}'", name), false,
              pointer_child(pointer_child("/transforms", index[name]), "id"));
        }
        if (job_ids.count(name)) {
          add(pointer_child(pointer, "id"),
              fmt::format("transform id '{}' is also a job id: `after` could not tell them apart",
                          name));
        }
      }
      const json& sql = member(t, "sql");
      if (sql.is_string() && !t.contains("sql_text")) {
        std::filesystem::path path = std::filesystem::path(dir_) / sql.get<std::string>();
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec)) {
          add(pointer_child(pointer, "sql"),
              fmt::format("SQL file '{}' not found in the project folder", sql.get<std::string>()));
        }
      }
      const json& conn = member(t, "connection");
      if (plain_string(conn)) {
        const std::string& name = conn.get_ref<const std::string&>();
        const PluginDecl* kind = kind_of(name);
        if (!connection_exists(name)) {
          unknown_connection(pointer_child(pointer, "connection"), name);
        } else if (kind && !kind->is_destination) {
          add(pointer_child(pointer, "connection"),
              fmt::format("connection '{}' is a {} connection, where SQL cannot run", name,
                          kind->kind));
        }
      } else if (conn.is_null() && member(doc_, "warehouse").is_null()) {
        add(pointer, "no connection given and the project has no warehouse");
      }
      const json& after = member(t, "after");
      if (after.is_array()) {
        if (after.empty()) {
          add(pointer_child(pointer, "after"), "a transform needs at least one input");
        }
        for (size_t k = 0; k < after.size(); ++k) {
          std::string p = pointer_child(pointer_child(pointer, "after"), k);
          if (!after[k].is_string()) {
            add(p, "expected a job or transform id");
          } else if (!job_ids.count(after[k].get<std::string>()) &&
                     !index.count(after[k].get<std::string>())) {
            const std::string& name = after[k].get_ref<const std::string&>();
            add(p, fmt::format("'{}' is neither a job nor a transform{}", name,
                               suggestion(name, known)));
          }
        }
      }
    }

    // Cycles, among the transforms with distinct ids.
    std::vector<std::string> names;
    std::vector<size_t> position;  // node -> index in transforms
    std::map<std::string, size_t> node;
    for (size_t i = 0; i < transforms.size(); ++i) {
      std::string id = text_of(member(transforms[i], "id"));
      if (!id.empty() && index[id] == i) {
        node[id] = names.size();
        names.push_back(id);
        position.push_back(i);
      }
    }
    std::vector<std::vector<size_t>> deps(names.size());
    for (size_t n = 0; n < names.size(); ++n) {
      const json& after = member(transforms[position[n]], "after");
      if (!after.is_array()) continue;
      for (const json& a : after) {
        if (a.is_string() && node.count(a.get<std::string>())) {
          deps[n].push_back(node[a.get<std::string>()]);
        }
      }
    }
    auto order = stable_topological_order(names, deps, "transform");
    if (!order.ok()) {
      // Point at the first transform of the cycle, which the message starts with.
      const std::string& message = order.status().message();
      size_t start = message.find(": ") + 2;
      std::string first = message.substr(start, message.find(" -> ", start) - start);
      add(pointer_child(pointer_child("/transforms", position[node[first]]), "after"), message,
          true);
    }
  }

  // ---- control

  void check_control() {
    const json& control = member(doc_, "control");
    if (!control.is_array()) return;
    for (size_t i = 0; i < control.size(); ++i) {
      const json& rule = control[i];
      std::string pointer = pointer_child("/control", i);
      if (!options(pointer, rule, control_options())) continue;
      check_enum(rule, "on", pointer, batch_events());
      const json& email = member(rule, "email");
      const json& webhook = member(rule, "webhook");
      const json& sql = member(rule, "sql");
      int actions = !email.is_null() + !webhook.is_null() + !sql.is_null();
      if (actions != 1) {
        add(pointer, actions == 0 ? "a control rule needs email, webhook or sql"
                                  : "a control rule has one action: email, webhook or sql");
      }
      if (email.is_object() && options(pointer_child(pointer, "email"), email, email_options())) {
        std::string p = pointer_child(pointer, "email");
        const json& conn = member(email, "connection");
        if (plain_string(conn) && !connection_exists(conn.get<std::string>())) {
          unknown_connection(pointer_child(p, "connection"), conn.get<std::string>());
        }
        check_string_list(email, "to", p);
        if (!member(email, "cc").is_null()) check_string_list(email, "cc", p);
      }
      if (webhook.is_object() &&
          options(pointer_child(pointer, "webhook"), webhook, webhook_options())) {
        std::string p = pointer_child(pointer, "webhook");
        check_enum(webhook, "method", p, webhook_methods());
        if (const json& headers = member(webhook, "headers"); headers.is_object()) {
          for (const auto& [name, value] : headers.items()) {
            if (value.is_structured()) {
              add(pointer_child(pointer_child(p, "headers"), name),
                  fmt::format("header '{}' must be text", name), true);
            }
          }
        }
      }
      check_refs(rule, pointer, Refs::kAllowed, Refs::kIgnored);
    }
  }

  const json& doc_;
  const PluginCatalog& catalog_;
  std::string dir_;
  std::map<std::string, std::string> origins_;
  std::vector<Problem> problems_;
};

}  // namespace

std::vector<Problem> check_project(const nlohmann::json& doc, const PluginCatalog& catalog,
                                   const std::string& dir) {
  return Checker(doc, catalog, dir).run();
}

nlohmann::json deep_merge(const nlohmann::json& base, const nlohmann::json& over) {
  if (!base.is_object() || !over.is_object()) return over;
  nlohmann::json out = base;
  for (const auto& [k, v] : over.items()) {
    out[k] = out.contains(k) ? deep_merge(out[k], v) : v;
  }
  return out;
}

}  // namespace ferry
