#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "config/project.h"
#include "config/schema.h"
#include "config/test_catalog.h"
#include "testing.h"

namespace ferry {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string fixture(const std::string& name) {
  return (testing::source_dir() / "tests/data/config" / name).string();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

// The problems load_project reports, one per line; fails the test when the project loads.
std::vector<std::string> problems_at(const std::string& dir) {
  auto project = load_project(dir, testing::test_catalog());
  EXPECT_FALSE(project.ok()) << dir << " loaded without problems";
  if (project.ok()) return {};
  EXPECT_EQ(project.status().code(), Code::kInvalid) << project.status().to_string();
  return split_lines(project.status().message());
}

std::vector<std::string> problems(const std::string& name) {
  return problems_at(fixture(name));
}

std::vector<std::string> problems_of(const testing::TempDir& dir) {
  return problems_at(dir.str());
}

const JobDefinition* find_job(const Project& p, const std::string& id) {
  for (const JobDefinition& j : p.jobs) {
    if (j.id == id) return &j;
  }
  return nullptr;
}

TEST(LoadProject, GoodProject) {
  auto loaded = load_project(fixture("good"), testing::test_catalog());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const Project& p = loaded.value();
  EXPECT_EQ(p.name, "retail");
  EXPECT_EQ(p.warehouse, "wh");
  EXPECT_EQ(p.concurrency, 2);
  EXPECT_EQ(p.timezone, "Europe/Berlin");
  EXPECT_EQ(p.metastore, "sqlite:.ferry/meta.db");  // the default
  EXPECT_EQ(p.dir, fixture("good"));

  // Jobs of ferry.yml first, then those of jobs/*.yml.
  ASSERT_EQ(p.jobs.size(), 4u);
  EXPECT_EQ(p.jobs[0].id, "orders_store_1");
  EXPECT_EQ(p.jobs[3].id, "catalog");
  EXPECT_EQ(p.jobs[0].template_name, "store_orders");
  EXPECT_EQ(p.jobs[0].params, (json{{"store_id", 1}, {"region", "north"}}));
  EXPECT_EQ(p.jobs[1].priority, 5);
  EXPECT_FALSE(p.jobs[1].spec.contains("priority"));  // a column of the config table
  const JobDefinition* local = find_job(p, "local_stores");
  ASSERT_NE(local, nullptr);
  EXPECT_FALSE(local->enabled);
  EXPECT_EQ(local->spec["every"], "5m");
  EXPECT_EQ(local->spec["source"]["pattern"], "*.csv");
  EXPECT_TRUE(p.templates.contains("store_orders"));
  EXPECT_TRUE(p.templates.contains("api_replace"));  // from jobs/catalog.yml

  // Secrets stay as written.
  EXPECT_EQ(p.connections["shop_api"]["token"], "${SHOP_TOKEN}");
  EXPECT_EQ(p.api["admin_token"], "${FERRY_ADMIN_TOKEN}");

  ASSERT_EQ(p.transforms.size(), 2u);
  EXPECT_EQ(p.transforms[0].id, "dim_store");
  EXPECT_EQ(p.transforms[0].sql_path, "transforms/dim_store.sql");
  EXPECT_THAT(p.transforms[0].sql, HasSubstr("create table if not exists dim_store"));
  EXPECT_EQ(p.transforms[0].connection, "wh");  // the warehouse by default
  EXPECT_THAT(p.transforms[1].after, ElementsAre("dim_store", "catalog"));
  ASSERT_EQ(p.control.size(), 1u);
  EXPECT_EQ(p.control[0]["on"], "batch_failed");
}

TEST(LoadProject, YamlScalarsKeepTheirTypes) {
  testing::TempDir dir;
  dir.write("ferry.yml", R"(
project: types
warehouse: wh
connections:
  wh: {type: sqlite, path: w.db}
  files: {type: file, path: data/}
jobs:
  - id: j
    params: {n: 7, code: "007", zip: 01234, ratio: 1.5, yes: true, none: ~, word: on}
    source: {connection: files, path: "x"}
    target: {table: t}
    on: new_objects
)");
  auto loaded = load_project(dir.str(), testing::test_catalog());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const json& params = loaded->jobs[0].params;
  EXPECT_EQ(params["n"], 7);
  EXPECT_EQ(params["code"], "007");
  EXPECT_EQ(params["zip"], "01234");  // a leading zero keeps the digits
  EXPECT_EQ(params["ratio"], 1.5);
  EXPECT_EQ(params["yes"], true);
  EXPECT_TRUE(params["none"].is_null());
  EXPECT_EQ(params["word"], "on");  // YAML 1.2: only true/false are booleans
  EXPECT_EQ(loaded->jobs[0].spec["on"], "new_objects");
  EXPECT_EQ(loaded->name, "types");
}

TEST(LoadProject, UnknownKeyNamesFileLineColumnAndPath) {
  auto lines = problems("unknown_key");
  EXPECT_THAT(lines, Contains("ferry.yml:17:7: jobs[1].target: unknown key 'mdoe' (did you mean "
                              "'mode'?)"));
  EXPECT_THAT(lines, Contains("ferry.yml:14:7: jobs[1].source: unknown key 'pth' (did you mean "
                              "'path'?)"));
  // The required `path` is missing too; reported at the source map.
  EXPECT_THAT(lines, Contains("ferry.yml:13:7: jobs[1].source: missing required key 'path'"));
  EXPECT_EQ(lines.size(), 3u) << ::testing::PrintToString(lines);
}

TEST(LoadProject, TemplateParamMissing) {
  auto lines = problems("template_param");
  EXPECT_THAT(lines, ElementsAre(AllOf(
                         HasSubstr("ferry.yml:13:"),
                         HasSubstr("jobs[1]: job orders_store_3: template store_orders needs param "
                                   "'store_id'"))));
}

TEST(LoadProject, UnknownTemplate) {
  auto lines = problems("unknown_template");
  ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[0],
            "ferry.yml:12:36: jobs[0].template: unknown template 'store_order' (did you mean "
            "'store_orders'?)");
}

TEST(LoadProject, TransformCycle) {
  auto lines = problems("transform_cycle");
  ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  EXPECT_THAT(lines[0], HasSubstr("transforms[1]: transform cycle: a -> b -> a"));
  EXPECT_THAT(lines[0], HasSubstr("ferry.yml:11:"));
}

TEST(LoadProject, MergeWithoutPrimaryKey) {
  auto lines = problems("merge_without_key");
  EXPECT_THAT(lines, ElementsAre("ferry.yml:10:33: jobs[0].target: mode merge needs a "
                                 "primary_key (the columns that identify a row)"));
}

TEST(LoadProject, SecretGivenAsLiteral) {
  auto lines = problems("secret_literal");
  ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  EXPECT_THAT(lines[0], HasSubstr("ferry.yml:5:"));
  EXPECT_THAT(lines[0], HasSubstr("connections.shop_api: secret 'token' must come from the "
                                  "environment, e.g. ${SHOP_API_TOKEN}"));
  EXPECT_THAT(lines[0], ::testing::Not(HasSubstr("s3cr3t")));  // never echoed
}

TEST(LoadProject, DuplicateJobIdAcrossFiles) {
  auto lines = problems("duplicate_job");
  ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  // Reported in the jobs/ file, with its own path, pointing back at the first definition.
  EXPECT_EQ(lines[0],
            "jobs/more.yml:5:9: jobs[1].id: duplicate job id 'stores' (first defined at "
            "ferry.yml:8:9)");
}

TEST(LoadProject, UnknownConnection) {
  auto lines = problems("unknown_connection");
  ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[0],
            "ferry.yml:9:26: jobs[0].source.connection: unknown connection 'file' (did you mean "
            "'files'?)");
}

TEST(LoadProject, MissingSqlFile) {
  auto lines = problems("missing_sql");
  ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  EXPECT_THAT(lines[0], HasSubstr("transforms[0].sql: SQL file 'transforms/dim_store.sql' not "
                                  "found in the project folder"));
}

TEST(LoadProject, ReportsEveryProblemInFileOrder) {
  auto lines = problems("many_errors");
  const std::vector<std::string> expected = {
      "ferry.yml:2:1: 'concurrency' must be at least 1",
      "unknown key 'warehose' (did you mean 'warehouse'?)",
      "connections.files.type: unknown connection type 'fiel' (did you mean 'file'?)",
      "jobs[0].id: job id 'bad id' may only have",
      "jobs[0].source.connection: connection 'wh' is a sqlite connection, which cannot be read",
      "jobs[0].target: 'mode' must be one of append, merge, replace, got 'upsert'",
      "jobs[0]: schedule must be a cron expression",
      "jobs[0]: use either schedule or every, not both",
      "jobs[0]: 'max_rejects' must be an integer, got \"lots\"",
      "jobs[0]: 'schema' must be one of evolve, freeze, discard_row, discard_value",
      "transforms[0].sql: SQL file 'transforms/nope.sql' not found",
      "transforms[0].after[0]: 'nothing' is neither a job nor a transform",
      "control[0]: 'on' must be one of batch_succeeded",
      "control[0]: a control rule needs email, webhook or sql",
      "jobs[0].target: no connection given and the project has no warehouse",
      "transforms[0]: no connection given and the project has no warehouse",
  };
  for (const std::string& e : expected) {
    EXPECT_THAT(lines, Contains(HasSubstr(e))) << ::testing::PrintToString(lines);
  }
  EXPECT_EQ(lines.size(), expected.size()) << ::testing::PrintToString(lines);
  // Sorted by position: each line's "ferry.yml:LINE:" does not go down.
  int last = 0;
  for (const std::string& l : lines) {
    int line = std::stoi(l.substr(l.find(':') + 1));
    EXPECT_GE(line, last) << l;
    last = line;
  }
}

TEST(LoadProject, BadYamlNamesThePosition) {
  auto lines = problems("bad_yaml");
  ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  EXPECT_THAT(lines[0], ::testing::StartsWith("ferry.yml:"));
  EXPECT_THAT(lines[0], HasSubstr("invalid YAML"));
}

TEST(LoadProject, NoProject) {
  testing::TempDir dir;
  auto loaded = load_project(dir.str(), testing::test_catalog());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Code::kNotFound);
  EXPECT_THAT(loaded.status().message(), HasSubstr("no ferry.yml"));
}

TEST(LoadProject, DuplicateKeyAndJobsFileKeys) {
  testing::TempDir dir;
  dir.write("ferry.yml",
            "warehouse: wh\n"
            "connections:\n"
            "  wh: {type: sqlite, path: a.db, path: b.db}\n");
  dir.write("jobs/x.yml", "jobs: []\ntransforms: []\n");
  auto lines = problems_of(dir);
  EXPECT_THAT(lines, Contains("ferry.yml:3:34: connections.wh: duplicate key 'path'"));
  EXPECT_THAT(lines, Contains("jobs/x.yml:2:1: unknown key 'transforms'; a jobs/ "
                              "file holds jobs and templates"));
}

TEST(LoadProject, DuplicateTemplateAcrossFiles) {
  testing::TempDir dir;
  dir.write("ferry.yml",
            "warehouse: wh\n"
            "connections: {wh: {type: sqlite, path: a.db}}\n"
            "templates:\n"
            "  t: {target: {table: x}}\n");
  dir.write("jobs/x.yml", "templates:\n  t: {target: {table: y}}\n");
  auto lines = problems_of(dir);
  EXPECT_THAT(lines, ElementsAre("jobs/x.yml:2:3: templates: duplicate template 't' (first "
                                 "defined at ferry.yml:4:3)"));
}

TEST(LoadProject, TemplateProblemReportedOnceAtTheTemplate) {
  testing::TempDir dir;
  dir.write("ferry.yml",
            "warehouse: wh\n"
            "connections: {wh: {type: sqlite, path: a.db}, files: {type: file, path: d/}}\n"
            "templates:\n"
            "  t:\n"
            "    source: {connection: files, path: x, formt: csv}\n"
            "    target: {table: x}\n"
            "jobs:\n"
            "  - {id: a, template: t}\n"
            "  - {id: b, template: t}\n");
  auto lines = problems_of(dir);
  EXPECT_THAT(lines, ElementsAre("ferry.yml:5:42: templates.t.source: unknown key 'formt' (did "
                                 "you mean 'format'?)"));
}

TEST(LoadProject, TemplateLeavesRequiredKeysToItsJobs) {
  testing::TempDir dir;
  dir.write(
      "ferry.yml",
      "warehouse: wh\n"
      "connections: {wh: {type: sqlite, path: a.db}, files: {type: file, path: d/}}\n"
      "templates:\n"
      "  t: {source: {connection: files}, target: {mode: merge}}\n"
      "jobs:\n"
      "  - {id: a, template: t, source: {path: a.csv}, target: {table: a, primary_key: [id]}}\n"
      "  - {id: b, template: t, source: {path: b.csv}, target: {table: b}}\n");
  auto lines = problems_of(dir);
  // Only b lacks something (its key for merge); a is complete with its template.
  ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  EXPECT_THAT(lines[0], HasSubstr("mode merge needs a primary_key"));
  EXPECT_THAT(lines[0],
              HasSubstr("templates.t.target: mode merge"));  // where `mode: merge` is written
}

TEST(ValidateProject, NamesJobsByIdWithoutFiles) {
  auto loaded = load_project(fixture("good"), testing::test_catalog());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  Project p = loaded.value();
  EXPECT_TRUE(validate_project(p, testing::test_catalog()).is_ok());

  // A job added by hand (the CLI or the API) with two mistakes.
  JobDefinition added;
  added.id = "orders_store_9";
  added.template_name = "store_orders";
  added.params = {{"region", "east"}};
  added.spec = {{"target", {{"mdoe", "append"}}}};
  p.jobs.push_back(added);
  Status st = validate_project(p, testing::test_catalog());
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), Code::kInvalid);
  auto lines = split_lines(st.message());
  EXPECT_THAT(lines, Contains("jobs[orders_store_9].target: unknown key 'mdoe' (did you mean "
                              "'mode'?)"));
  EXPECT_THAT(lines, Contains("jobs[orders_store_9]: job orders_store_9: template "
                              "store_orders needs param 'store_id'"));
  EXPECT_EQ(lines.size(), 2u) << st.message();

  // The same id twice.
  p.jobs.back() = p.jobs.front();
  st = validate_project(p, testing::test_catalog());
  EXPECT_THAT(st.message(), HasSubstr("jobs[4].id: duplicate job id 'orders_store_1' (first "
                                      "defined at jobs[0].id)"));
}

TEST(ValidateProject, TransformFileCheckedWhenNoSqlText) {
  auto loaded = load_project(fixture("good"), testing::test_catalog());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  Project p = loaded.value();
  p.transforms[0].sql.clear();  // found again in p.dir
  EXPECT_TRUE(validate_project(p, testing::test_catalog()).is_ok());
  p.transforms[0].sql_path = "transforms/gone.sql";
  Status st = validate_project(p, testing::test_catalog());
  EXPECT_THAT(st.message(), HasSubstr("transforms[dim_store].sql: SQL file 'transforms/gone.sql'"));
}

TEST(ValidateProject, TransformIdsAndInputs) {
  auto loaded = load_project(fixture("good"), testing::test_catalog());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  Project p = loaded.value();
  TransformDef t = p.transforms[0];
  t.after = {"dim_stor"};
  p.transforms.push_back(t);  // dim_store again, reading a misspelled input
  t.id = "catalog";           // a job's id
  t.after = {"dim_store"};
  p.transforms.push_back(t);
  Status st = validate_project(p, testing::test_catalog());
  auto lines = split_lines(st.message());
  EXPECT_THAT(lines, Contains("transforms[2].id: duplicate transform id 'dim_store' (first "
                              "defined at transforms[0].id)"));
  EXPECT_THAT(lines, Contains("transforms[2].after[0]: 'dim_stor' is neither a job nor a "
                              "transform (did you mean 'dim_store'?)"));
  EXPECT_THAT(lines, Contains(HasSubstr("transforms[catalog].id: transform id 'catalog' is also "
                                        "a job id")));
  EXPECT_EQ(lines.size(), 3u) << st.message();
}

TEST(LoadProject, ControlRules) {
  testing::TempDir dir;
  dir.write("ferry.yml",
            "warehouse: wh\n"
            "connections: {wh: {type: sqlite, path: a.db}}\n"
            "control:\n"
            "  - on: batch_succeeded\n"
            "    webhook: {url: \"https://x.example/${SITE}\", method: post, headers: {A: [1]}}\n"
            "  - on: batch_failed\n"
            "    email: {connection: smtp, to: [a@b.example]}\n"
            "    webhook: {url: \"https://x.example\", body: {text: \"{{batch}} failed\"}}\n"
            "  - {on: batch_finished, email: {connection: wh}}\n");
  auto lines = problems_of(dir);
  EXPECT_THAT(lines, ElementsAre("ferry.yml:5:49: control[0].webhook: 'method' must be one of "
                                 "GET, POST, PUT, PATCH, DELETE, got 'post' (did you mean "
                                 "'POST'?)",
                                 "ferry.yml:5:73: control[0].webhook.headers: header 'A' must be "
                                 "text",
                                 "ferry.yml:6:5: control[1]: a control rule has one action: "
                                 "email, webhook or sql",
                                 "ferry.yml:7:25: control[1].email.connection: unknown connection "
                                 "'smtp'",
                                 "ferry.yml:9:33: control[2].email: missing required key 'to'"));
}

TEST(ProjectReference, CoversEveryBlock) {
  std::string md = render_project_reference();
  for (const char* heading : {"### Project (`ferry.yml`)", "### Jobs (`jobs: - ...`)",
                              "### `target`", "### `incremental`", "### `webhook`"}) {
    EXPECT_THAT(md, HasSubstr(heading));
  }
  EXPECT_THAT(md, HasSubstr("| `primary_key` | list |  |  | Columns that identify a row; "
                            "required for `merge`. |"));
  EXPECT_THAT(md, HasSubstr("| `admin_token` | string |  |  | Bearer token that may change jobs "
                            "and start runs. Secret: give it as `${ENV_VAR}`. |"));
}

TEST(ProjectJson, RoundTrip) {
  auto loaded = load_project(fixture("good"), testing::test_catalog());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const Project& p = loaded.value();
  json doc = p.to_json();
  EXPECT_EQ(doc["connections"]["shop_api"]["token"], "${SHOP_TOKEN}");  // unresolved
  EXPECT_EQ(doc["jobs"][1]["priority"], 5);
  EXPECT_EQ(doc["jobs"][2]["enabled"], false);
  EXPECT_FALSE(doc["jobs"][0].contains("enabled"));
  EXPECT_THAT(doc["transforms"][0]["sql_text"].get<std::string>(), HasSubstr("dim_store"));

  auto back = Project::from_json(doc, p.dir);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value(), p);
  EXPECT_EQ(back->to_json(), doc);
  // Through text too, as the metastore stores it.
  auto again = Project::from_json(json::parse(doc.dump()), p.dir);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value(), p);
}

TEST(ProjectJson, FromJsonReportsBadShapes) {
  auto bad = Project::from_json(
      json{{"concurrency", "many"}, {"jobs", {{{"id", "a"}, {"priority", "high"}}}}}, "/tmp/x");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("concurrency: expected an integer"));
  EXPECT_THAT(bad.status().message(), HasSubstr("jobs[0].priority: expected an integer"));
  EXPECT_FALSE(Project::from_json(json::array(), "/tmp/x").ok());
  auto named = Project::from_json(json::object(), "/srv/projects/sales/");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named->name, "sales");  // the folder's name by default
}

TEST(StarterProject, WritesAValidProject) {
  testing::TempDir dir;
  std::string root = (dir.path() / "new").string();
  ASSERT_TRUE(write_starter_project(root).is_ok());
  auto loaded = load_project(root, testing::test_catalog());
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->jobs.size(), 1u);
  EXPECT_EQ(loaded->jobs[0].spec["source"]["path"], "cities.csv");
  EXPECT_THAT(testing::read_file(dir.path() / "new/data/cities.csv"), HasSubstr("Berlin"));
  // Never overwrites.
  Status again = write_starter_project(root);
  EXPECT_EQ(again.code(), Code::kInvalid);
  EXPECT_THAT(again.message(), HasSubstr("already exists"));
}

}  // namespace
}  // namespace ferry
