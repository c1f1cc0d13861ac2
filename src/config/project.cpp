#include "config/project.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "config/json_values.h"
#include "config/schema.h"
#include "config/validate.h"
#include "config/yaml.h"

namespace ferry {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// ---- reading values leniently (as validation allows them)

class Reader {
 public:
  std::string string(const json& object, const std::string& key, const std::string& where,
                     std::string fallback = "") {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    if (it->is_structured()) {
      fail(where, key, "expected a string");
      return fallback;
    }
    return text_of(*it);
  }

  int integer(const json& object, const std::string& key, const std::string& where, int fallback) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    int v = 0;
    if (int_of(*it, &v)) return v;
    fail(where, key, "expected an integer");
    return fallback;
  }

  bool boolean(const json& object, const std::string& key, const std::string& where,
               bool fallback) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    if (it->is_boolean()) return it->get<bool>();
    if (*it == "true") return true;
    if (*it == "false") return false;
    fail(where, key, "expected true or false");
    return fallback;
  }

  json structure(const json& object, const std::string& key, const std::string& where,
                 json fallback) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    if (it->type() != fallback.type()) {
      fail(where, key, fallback.is_array() ? "expected a list" : "expected a map");
      return fallback;
    }
    return *it;
  }

  void fail(const std::string& where, const std::string& key, const std::string& message) {
    errors_.push_back(fmt::format("{}{}: {}", where.empty() ? "" : where + ".", key, message));
  }

  Status status() const {
    if (errors_.empty()) return Status::success();
    std::string text;
    for (const std::string& e : errors_) {
      text += (text.empty() ? "" : "\n") + e;
    }
    return Status(Code::kInvalid, text);
  }

 private:
  std::vector<std::string> errors_;
};

std::string default_name(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  if (p.empty() || p == ".") {
    std::error_code ec;
    p = fs::absolute(dir, ec).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
  }
  std::string name = p.filename().string();
  return name.empty() ? "ferry" : name;
}

Result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io("cannot read {}", path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- rendering problems

struct Line {
  int file = 0;
  SourceMark mark;
  size_t seq = 0;
  std::string text;
};

// "jobs[2].target" as seen by a user of the config table: "jobs[orders_store_3].target".
std::string path_by_id(const std::string& pointer, const json& doc) {
  std::vector<std::string> segs = pointer_segments(pointer);
  if (segs.size() >= 2 && (segs[0] == "jobs" || segs[0] == "transforms")) {
    const json& list = doc.is_object() ? doc.value(segs[0], json()) : json();
    size_t i = 0;
    auto [end, ec] = std::from_chars(segs[1].data(), segs[1].data() + segs[1].size(), i);
    if (ec == std::errc() && list.is_array() && i < list.size() && list[i].is_object()) {
      std::string id = text_of(list[i].value("id", json()));
      // A duplicated id does not name one job: keep the index then.
      size_t same = 0;
      for (const json& item : list) {
        same += item.is_object() && text_of(item.value("id", json())) == id ? 1 : 0;
      }
      if (!id.empty() && same == 1) {
        std::string rest;
        for (size_t k = 2; k < segs.size(); ++k) {
          rest = pointer_child(rest, segs[k]);
        }
        std::string tail = render_pointer(rest);
        return segs[0] + "[" + id + "]" + (tail.empty() || tail[0] == '[' ? "" : ".") + tail;
      }
    }
  }
  return render_pointer(pointer);
}

struct Where {
  int file = 0;
  SourceMark mark;
  std::string path;
  bool located = false;
};

// With `at_key`, the problem is about a key of a map (unknown, wrong type, ...): the path
// names the map, the position is the key's.
Where locate(const std::string& pointer, bool at_key, const json& doc, const SourceMap* map) {
  Where w;
  std::string rest;
  const SourceEntry* e = map ? map->find(pointer, &rest) : nullptr;
  std::string parent = at_key && !pointer.empty() ? pointer.substr(0, pointer.rfind('/')) : pointer;
  if (!e) {
    w.path = path_by_id(parent, doc);
    return w;
  }
  w.located = true;
  w.file = e->file;
  w.mark = at_key && rest.empty() ? e->key : e->value;
  std::string local = e->local + rest;
  if (at_key && !local.empty()) local.resize(local.rfind('/'));
  w.path = render_pointer(local);
  return w;
}

std::string where_text(const Where& w, const SourceMap* map) {
  if (!w.located) return w.path;
  return fmt::format("{}:{}:{}", map->files[static_cast<size_t>(w.file)], w.mark.line,
                     w.mark.column);
}

Line render(const Problem& p, const json& doc, const SourceMap* map, size_t seq) {
  Where w = locate(p.pointer, p.at_key, doc, map);
  std::string message = p.message;
  if (!p.first.empty()) {
    message += " (first defined at " + where_text(locate(p.first, false, doc, map), map) + ")";
  }
  std::string prefix = w.located ? where_text(w, map) + ": " : "";
  if (!w.path.empty()) prefix += w.path + ": ";
  return {w.file, w.mark, seq, prefix + message};
}

Status problems_status(std::vector<Line> lines, bool sort) {
  if (lines.empty()) return Status::success();
  if (sort) {
    std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
      return std::tie(a.file, a.mark.line, a.mark.column, a.seq) <
             std::tie(b.file, b.mark.line, b.mark.column, b.seq);
    });
  }
  std::string text;
  std::vector<std::string> seen;
  for (const Line& l : lines) {
    if (std::find(seen.begin(), seen.end(), l.text) != seen.end()) continue;
    seen.push_back(l.text);
    text += (text.empty() ? "" : "\n") + l.text;
  }
  return Status(Code::kInvalid, text);
}

Line yaml_line(const YamlProblem& p, int file, const SourceMap& map, size_t seq) {
  std::string path = render_pointer(p.pointer);
  return {file, p.mark, seq,
          fmt::format("{}:{}:{}: {}{}", map.files[static_cast<size_t>(file)], p.mark.line,
                      p.mark.column, path.empty() ? "" : path + ": ", p.message)};
}

// Moves the entries of one jobs/ file into the project's map: its jobs[k] become jobs[offset+k]
// of the combined document, its templates keep their pointers.
void merge_entries(const SourceMap& from, size_t offset, SourceMap* into) {
  for (const auto& [pointer, entry] : from.entries) {
    std::vector<std::string> segs = pointer_segments(pointer);
    if (segs.size() < 2) continue;
    if (segs[0] == "jobs") {
      size_t k = std::stoul(segs[1]);
      std::string p = pointer_child("/jobs", offset + k);
      for (size_t i = 2; i < segs.size(); ++i) {
        p = pointer_child(p, segs[i]);
      }
      into->entries[p] = entry;
    } else if (segs[0] == "templates") {
      into->entries[pointer] = entry;
    }
  }
}

}  // namespace

json Project::to_json() const {
  json doc = json::object();
  doc["project"] = name;
  doc["metastore"] = metastore;
  if (!warehouse.empty()) doc["warehouse"] = warehouse;
  doc["concurrency"] = concurrency;
  doc["timezone"] = timezone;
  if (!api.empty()) doc["api"] = api;
  doc["connections"] = connections;
  doc["templates"] = templates;
  json jobs_json = json::array();
  for (const JobDefinition& job : jobs) {
    json j = job.spec.is_object() ? job.spec : json::object();
    for (const char* key : {"id", "template", "params", "enabled", "priority"}) {
      j.erase(key);
    }
    j["id"] = job.id;
    if (!job.template_name.empty()) j["template"] = job.template_name;
    if (!job.params.empty()) j["params"] = job.params;
    if (!job.enabled) j["enabled"] = false;
    if (job.priority != 0) j["priority"] = job.priority;
    jobs_json.push_back(std::move(j));
  }
  doc["jobs"] = std::move(jobs_json);
  json transforms_json = json::array();
  for (const TransformDef& t : transforms) {
    json j = {{"id", t.id}, {"sql", t.sql_path}, {"after", t.after}};
    if (!t.sql.empty()) j["sql_text"] = t.sql;
    if (!t.connection.empty()) j["connection"] = t.connection;
    transforms_json.push_back(std::move(j));
  }
  doc["transforms"] = std::move(transforms_json);
  doc["control"] = control;
  return doc;
}

Result<Project> Project::from_json(const json& doc, std::string dir) {
  if (!doc.is_object()) return Status::invalid("a project must be a map, got {}", doc.type_name());
  Reader r;
  Project p;
  p.dir = std::move(dir);
  p.name = r.string(doc, "project", "", default_name(p.dir));
  p.metastore = r.string(doc, "metastore", "", p.metastore);
  p.warehouse = r.string(doc, "warehouse", "");
  p.concurrency = r.integer(doc, "concurrency", "", p.concurrency);
  p.timezone = r.string(doc, "timezone", "", p.timezone);
  p.api = r.structure(doc, "api", "", json::object());
  p.connections = r.structure(doc, "connections", "", json::object());
  p.templates = r.structure(doc, "templates", "", json::object());
  p.control = r.structure(doc, "control", "", json::array());

  json jobs = r.structure(doc, "jobs", "", json::array());
  for (size_t i = 0; i < jobs.size(); ++i) {
    std::string where = fmt::format("jobs[{}]", i);
    if (!jobs[i].is_object()) {
      r.fail("jobs", std::to_string(i), "expected a map");
      continue;
    }
    JobDefinition job;
    job.id = r.string(jobs[i], "id", where);
    job.template_name = r.string(jobs[i], "template", where);
    job.params = r.structure(jobs[i], "params", where, json::object());
    job.enabled = r.boolean(jobs[i], "enabled", where, true);
    job.priority = r.integer(jobs[i], "priority", where, 0);
    job.spec = jobs[i];
    for (const char* key : {"id", "template", "params", "enabled", "priority"}) {
      job.spec.erase(key);
    }
    p.jobs.push_back(std::move(job));
  }

  json transforms = r.structure(doc, "transforms", "", json::array());
  for (size_t i = 0; i < transforms.size(); ++i) {
    std::string where = fmt::format("transforms[{}]", i);
    if (!transforms[i].is_object()) {
      r.fail("transforms", std::to_string(i), "expected a map");
      continue;
    }
    TransformDef t;
    t.id = r.string(transforms[i], "id", where);
    t.sql_path = r.string(transforms[i], "sql", where);
    t.sql = r.string(transforms[i], "sql_text", where);
    for (const json& a : r.structure(transforms[i], "after", where, json::array())) {
      t.after.push_back(text_of(a));
    }
    t.connection = r.string(transforms[i], "connection", where, p.warehouse);
    p.transforms.push_back(std::move(t));
  }
  FERRY_TRY(r.status());
  return p;
}

Result<Project> load_project(const std::string& dir, const PluginCatalog& catalog) {
  std::error_code ec;
  const fs::path root(dir);
  if (!fs::is_directory(root, ec)) return Status::not_found("no project folder {}", dir);
  fs::path main_file = root / "ferry.yml";
  if (!fs::exists(main_file, ec) && fs::exists(root / "ferry.yaml", ec)) {
    main_file = root / "ferry.yaml";
  }
  if (!fs::exists(main_file, ec)) {
    return Status::not_found("no ferry.yml in {} (`ferry init` writes a starter project)", dir);
  }

  SourceMap map;
  std::vector<Line> lines;
  std::vector<std::string> syntax_errors;
  map.files.push_back(main_file.filename().string());
  FERRY_ASSIGN(std::string text, read_text(main_file));
  std::vector<YamlProblem> yaml_problems;
  json doc;
  if (auto parsed = parse_yaml(text, 0, &map, &yaml_problems); parsed.ok()) {
    doc = std::move(parsed).value();
  } else {
    syntax_errors.push_back(parsed.status().message());
  }
  for (const YamlProblem& p : yaml_problems) {
    lines.push_back(yaml_line(p, 0, map, lines.size()));
  }

  // jobs/*.yml, in name order.
  std::vector<fs::path> job_files;
  if (fs::is_directory(root / "jobs", ec)) {
    for (const auto& entry : fs::directory_iterator(root / "jobs", ec)) {
      std::string ext = entry.path().extension().string();
      if (entry.is_regular_file(ec) && (ext == ".yml" || ext == ".yaml")) {
        job_files.push_back(entry.path());
      }
    }
  }
  std::sort(job_files.begin(), job_files.end());
  for (const fs::path& path : job_files) {
    const int file = static_cast<int>(map.files.size());
    map.files.push_back("jobs/" + path.filename().string());
    FERRY_ASSIGN(std::string job_text, read_text(path));
    SourceMap local;
    local.files = map.files;
    std::vector<YamlProblem> local_problems;
    auto parsed = parse_yaml(job_text, file, &local, &local_problems);
    if (!parsed.ok()) {
      syntax_errors.push_back(parsed.status().message());
      continue;
    }
    for (const YamlProblem& p : local_problems) {
      lines.push_back(yaml_line(p, file, map, lines.size()));
    }
    const json& part = parsed.value();
    if (part.is_null()) continue;  // an empty file
    for (const OptionProblem& p : validate_options(jobs_file_options(), part)) {
      std::string pointer = p.key.empty() ? "" : pointer_child("", p.key);
      std::string message = p.message;
      if (message.rfind("unknown key", 0) == 0) {
        message += "; a jobs/ file holds jobs and templates";
      }
      lines.push_back(render({pointer, message, true, ""}, part, &local, lines.size()));
    }
    if (!part.is_object() || !doc.is_object()) continue;
    if (const json& jobs = part.value("jobs", json()); jobs.is_array()) {
      if (!doc.contains("jobs") || doc["jobs"].is_null()) doc["jobs"] = json::array();
      if (doc["jobs"].is_array()) {
        size_t offset = doc["jobs"].size();
        for (const json& job : jobs) {
          doc["jobs"].push_back(job);
        }
        SourceMap jobs_only;
        for (const auto& [pointer, entry] : local.entries) {
          if (pointer.rfind("/jobs/", 0) == 0) jobs_only.entries[pointer] = entry;
        }
        merge_entries(jobs_only, offset, &map);
      }
    }
    if (const json& templates = part.value("templates", json()); templates.is_object()) {
      if (!doc.contains("templates") || doc["templates"].is_null()) {
        doc["templates"] = json::object();
      }
      if (!doc["templates"].is_object()) continue;
      for (const auto& [name, tmpl] : templates.items()) {
        std::string pointer = pointer_child("/templates", name);
        if (doc["templates"].contains(name)) {
          Line first = render({pointer, "", true, ""}, doc, &map, 0);
          std::string at = fmt::format("{}:{}:{}", map.files[static_cast<size_t>(first.file)],
                                       first.mark.line, first.mark.column);
          lines.push_back(render(
              {pointer, fmt::format("duplicate template '{}' (first defined at {})", name, at),
               true, ""},
              part, &local, lines.size()));
          continue;
        }
        doc["templates"][name] = tmpl;
        SourceMap one;
        for (const auto& [p, entry] : local.entries) {
          if (p == pointer || p.rfind(pointer + "/", 0) == 0) one.entries[p] = entry;
        }
        merge_entries(one, 0, &map);
      }
    }
  }
  if (!syntax_errors.empty()) {
    std::string message;
    for (const std::string& e : syntax_errors) {
      message += (message.empty() ? "" : "\n") + e;
    }
    return Status(Code::kInvalid, message);
  }

  // The transforms' SQL, so that the project (and a stored version of it) is self-contained.
  if (doc.is_object() && doc.contains("transforms") && doc["transforms"].is_array()) {
    for (json& t : doc["transforms"]) {
      if (!t.is_object() || !t.contains("sql") || !t["sql"].is_string() || t.contains("sql_text")) {
        continue;
      }
      fs::path sql = root / t["sql"].get<std::string>();
      if (fs::is_regular_file(sql, ec)) {
        FERRY_ASSIGN(std::string content, read_text(sql));
        t["sql_text"] = std::move(content);
      }
    }
  }

  for (const Problem& p : check_project(doc, catalog, dir)) {
    lines.push_back(render(p, doc, &map, lines.size()));
  }
  FERRY_TRY(problems_status(std::move(lines), /*sort=*/true));
  return Project::from_json(doc, dir);
}

Status validate_project(const Project& project, const PluginCatalog& catalog) {
  const json doc = project.to_json();
  std::vector<Line> lines;
  for (const Problem& p : check_project(doc, catalog, project.dir)) {
    lines.push_back(render(p, doc, nullptr, lines.size()));
  }
  return problems_status(std::move(lines), /*sort=*/false);
}

}  // namespace ferry
