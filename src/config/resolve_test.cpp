#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "config/graph.h"
#include "config/project.h"
#include "config/template.h"
#include "config/test_catalog.h"
#include "config/yaml.h"
#include "core/redact.h"
#include "testing.h"

namespace ferry {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

class ResolveJob : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = load_project((testing::source_dir() / "tests/data/config/good").string(),
                               testing::test_catalog());
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    project_ = loaded.value();
  }

  const JobDefinition& job(const std::string& id) const {
    for (const JobDefinition& j : project_.jobs) {
      if (j.id == id) return j;
    }
    throw std::runtime_error("no job " + id);
  }

  Project project_;
  EnvLookup env_ = env_of({{"SHOP_TOKEN", "tok-0123456789"}});
};

TEST_F(ResolveJob, TemplateParamsFilledKeepingTypes) {
  auto spec = resolve_job(project_, job("orders_store_1"), "", env_);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->id, "orders_store_1");
  EXPECT_EQ(spec->source_connection, "shop_api");
  EXPECT_EQ(spec->source_kind, "http");
  EXPECT_EQ(spec->source["path"], "/stores/1/orders");
  EXPECT_FALSE(spec->source.contains("connection"));
  EXPECT_EQ(spec->source["params"]["limit"], 100);  // the template's default, still an int
  EXPECT_EQ(spec->columns, (json{{"store_id", 1}, {"region", "north"}}));
  EXPECT_TRUE(spec->columns["store_id"].is_number_integer());
  EXPECT_EQ(spec->table, "ods_orders");
  EXPECT_EQ(spec->mode, WriteMode::kMerge);
  EXPECT_THAT(spec->primary_key, ElementsAre("id"));
  EXPECT_EQ(spec->target_connection, "wh");  // the warehouse
  EXPECT_EQ(spec->target_connection_options, (json{{"type", "sqlite"}, {"path", "warehouse.db"}}));
  EXPECT_EQ(spec->schedule, "*/15 * * * *");
  EXPECT_EQ(spec->incremental.cursor_field, "updated_at");
  EXPECT_EQ(spec->incremental.lookback, "10m");
  EXPECT_EQ(spec->priority, 0);
  EXPECT_TRUE(spec->enabled);
}

TEST_F(ResolveJob, JobParamsOverrideTemplateDefaults) {
  auto spec = resolve_job(project_, job("orders_store_2"), "", env_);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->source["params"]["limit"], 20);
  EXPECT_EQ(spec->source["path"], "/stores/2/orders");
  EXPECT_EQ(spec->priority, 5);
}

TEST_F(ResolveJob, WatermarkIsInitialOnTheFirstRun) {
  auto spec = resolve_job(project_, job("orders_store_1"), "", env_);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->watermark, "2024-01-01T00:00:00Z");
  EXPECT_EQ(spec->source["params"]["updated_since"], "2024-01-01T00:00:00Z");
  EXPECT_EQ(spec->incremental.initial, "2024-01-01T00:00:00Z");
}

TEST_F(ResolveJob, GivenWatermarkIsUsedAsIs) {
  // The caller has already applied incremental.lookback (pipeline/watermark.h).
  auto spec = resolve_job(project_, job("orders_store_1"), "2024-05-01T09:50:00Z", env_);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->watermark, "2024-05-01T09:50:00Z");
  EXPECT_EQ(spec->source["params"]["updated_since"], "2024-05-01T09:50:00Z");
  EXPECT_EQ(spec->incremental.initial, "2024-01-01T00:00:00Z");
}

TEST_F(ResolveJob, SecretFromEnvironmentIsResolvedAndRedacted) {
  auto spec = resolve_job(project_, job("orders_store_1"), "", env_);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->connection["token"], "tok-0123456789");
  EXPECT_EQ(spec->connection["base_url"], "https://api.shop.example/v2");
  EXPECT_EQ(spec->connection["type"], "http");
  EXPECT_EQ(redact("GET /orders with tok-0123456789 failed"), "GET /orders with *** failed");
  // The project itself still holds the reference only.
  EXPECT_EQ(project_.connections["shop_api"]["token"], "${SHOP_TOKEN}");
}

TEST_F(ResolveJob, MissingEnvironmentVariableNamesItAndWhere) {
  auto spec = resolve_job(project_, job("orders_store_1"), "", env_of({}));
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), Code::kInvalid);
  EXPECT_EQ(spec.status().message(),
            "connections.shop_api.token: environment variable SHOP_TOKEN is not set");
}

TEST_F(ResolveJob, TemplateFromJobsFile) {
  auto spec = resolve_job(project_, job("catalog"), "", env_);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->source["path"], "/catalog");
  EXPECT_EQ(spec->source["page_size"], "50");
  EXPECT_EQ(spec->mode, WriteMode::kReplace);  // from the template
  EXPECT_EQ(spec->table, "ods_products");      // from the job
  EXPECT_EQ(spec->watermark, "");
}

TEST_F(ResolveJob, InlineJob) {
  auto spec = resolve_job(project_, job("local_stores"), "", env_);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_FALSE(spec->enabled);
  EXPECT_EQ(spec->every, "5m");
  EXPECT_EQ(spec->source_kind, "file");
  EXPECT_EQ(spec->connection, (json{{"type", "file"}, {"path", "data/"}}));
  EXPECT_EQ(spec->source, (json{{"path", "stores/"}, {"pattern", "*.csv"}, {"format", "csv"}}));
  EXPECT_EQ(spec->mode, WriteMode::kReplace);
  EXPECT_EQ(spec->schema, SchemaPolicy::kEvolve);
  EXPECT_EQ(spec->max_attempts, 1);
}

TEST_F(ResolveJob, MissingParam) {
  JobDefinition def;
  def.id = "orders_store_3";
  def.template_name = "store_orders";
  def.params = {{"region", "east"}};
  auto spec = resolve_job(project_, def, "", env_);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(),
              HasSubstr("job orders_store_3: template store_orders needs param 'store_id'"));
}

TEST_F(ResolveJob, UnknownTemplate) {
  JobDefinition def;
  def.id = "x";
  def.template_name = "nope";
  auto spec = resolve_job(project_, def, "", env_);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message(), "job x: unknown template 'nope'");
}

TEST_F(ResolveJob, EnvironmentInSourceOptionsButNotInParams) {
  JobDefinition def;
  def.id = "j";
  def.template_name = "store_orders";
  // A config-table row cannot read the environment through a param.
  def.params = {{"store_id", "${SHOP_TOKEN}"}, {"region", "r"}};
  def.spec = {{"source", {{"records", "${RECORDS}"}}}};
  auto spec = resolve_job(project_, def, "",
                          env_of({{"SHOP_TOKEN", "tok-0123456789"}, {"RECORDS", "/items"}}));
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->source["path"], "/stores/${SHOP_TOKEN}/orders");
  EXPECT_EQ(spec->source["records"], "/items");

  auto missing = resolve_job(project_, def, "", env_of({{"SHOP_TOKEN", "tok-0123456789"}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "job j: source.records: environment variable RECORDS is not set");
}

TEST_F(ResolveJob, TypedFieldsAreChecked) {
  JobDefinition def;
  def.id = "j";
  def.spec = {{"source", {{"connection", "files"}, {"path", "x"}}},
              {"target", {{"table", "t"}, {"mode", "merge"}}},
              {"max_rejects", "{{limit}}"},
              {"schema", "freeze"},
              {"nesting", {{"max_depth", 2}, {"json", {"a.b"}}}},
              {"retries", {{"max_attempts", 3}, {"backoff", "30s"}}}};
  def.params = {{"limit", "lots"}};
  auto spec = resolve_job(project_, def, "", env_);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(), HasSubstr("job j: max_rejects: expected an integer"));
  EXPECT_THAT(spec.status().message(),
              HasSubstr("job j: target.mode: mode merge needs a primary_key"));

  def.params = {{"limit", 7}};
  def.spec["target"]["primary_key"] = "id";
  spec = resolve_job(project_, def, "", env_);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->max_rejects, 7);
  EXPECT_EQ(spec->schema, SchemaPolicy::kFreeze);
  EXPECT_EQ(spec->max_depth, 2);
  EXPECT_THAT(spec->json_paths, ElementsAre("a.b"));
  EXPECT_EQ(spec->max_attempts, 3);
  EXPECT_EQ(spec->backoff, "30s");
  EXPECT_THAT(spec->primary_key, ElementsAre("id"));
}

TEST_F(ResolveJob, NestingFlattenIsRefusedUntilSupported) {
  JobDefinition def;
  def.id = "j";
  def.spec = {{"source", {{"connection", "files"}, {"path", "x"}}},
              {"target", {{"table", "t"}}},
              {"nesting", {{"flatten", {"items"}}}}};
  auto spec = resolve_job(project_, def, "", env_);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(), HasSubstr("job j: nesting.flatten: not supported yet"));
}

TEST(ResolveEnv, ListsEveryMissingVariableAndUnescapes) {
  json value = {{"url", "postgres://etl:${PW}@db/${DB}"}, {"note", "cost $${X}"}};
  auto missing = resolve_env(value, "connections.crm", env_of({}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "connections.crm.url: environment variable PW is not set\n"
            "connections.crm.url: environment variable DB is not set");
  auto ok = resolve_env(value, "connections.crm", env_of({{"PW", "pa55word!"}, {"DB", "crm"}}));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value()["url"], "postgres://etl:pa55word!@db/crm");
  EXPECT_EQ(ok.value()["note"], "cost ${X}");
  EXPECT_EQ(redact("login pa55word! failed"), "login *** failed");
}

TEST_F(ResolveJob, ResolveConnectionKeepsTypeAndResolvesSecrets) {
  auto conn = resolve_connection(project_, "shop_api", env_of({{"SHOP_TOKEN", "tok-abcdefgh"}}));
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  EXPECT_EQ(conn.value()["type"], "http");
  EXPECT_EQ(conn.value()["token"], "tok-abcdefgh");
  EXPECT_EQ(conn.value()["max_concurrency"], 2);
  EXPECT_EQ(redact("tok-abcdefgh"), "***");
  auto missing = resolve_connection(project_, "nope", env_);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  auto unset = resolve_connection(project_, "shop_api", env_of({}));
  EXPECT_EQ(unset.status().message(),
            "connections.shop_api.token: environment variable SHOP_TOKEN is not set");
}

TEST(Template, RenderFillsParamsAndWatermark) {
  json params = {{"store_id", 3}, {"name", "north"}, {"tags", {"a", "b"}}};
  EXPECT_EQ(render_template("/stores/{{store_id}}/{{ name }}", params, "w"), "/stores/3/north");
  EXPECT_EQ(render_template("since={{watermark}}", params, "2024-01-01"), "since=2024-01-01");
  EXPECT_EQ(render_template("{{tags}}", params, ""), "[\"a\",\"b\"]");
  std::vector<std::string> missing;
  EXPECT_EQ(render_template("{{a}}-{{store_id}}-${TOKEN}", params, "", &missing),
            "{{a}}-3-${TOKEN}");
  EXPECT_THAT(missing, ElementsAre("a"));
}

TEST(Template, Tokenize) {
  auto tokens = tokenize_template("a{{x}}b${Y}c$${z}");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 5u);
  EXPECT_EQ((*tokens)[1].kind, TemplateToken::Kind::kParam);
  EXPECT_EQ((*tokens)[1].text, "x");
  EXPECT_EQ((*tokens)[3].kind, TemplateToken::Kind::kEnv);
  EXPECT_EQ((*tokens)[3].text, "Y");
  EXPECT_EQ((*tokens)[4].text, "c${z}");
  EXPECT_THAT(tokenize_template("{{x").status().message(), HasSubstr("unterminated '{{'"));
  EXPECT_THAT(tokenize_template("${X").status().message(), HasSubstr("unterminated '${'"));
  EXPECT_THAT(tokenize_template("{{a b}}").status().message(), HasSubstr("bad placeholder"));
  EXPECT_THAT(tokenize_template("${1X}").status().message(),
              HasSubstr("bad environment variable '${1X}'"));
  // Without params, "{{" is text (a webhook body).
  auto body = tokenize_template("{\"text\": \"{{batch}}\"}", /*params=*/false);
  ASSERT_TRUE(body.ok());
  ASSERT_EQ(body->size(), 1u);
  EXPECT_EQ((*body)[0].kind, TemplateToken::Kind::kText);
}

TEST(Template, ParamsUsed) {
  json v = {{"a", "{{x}}"}, {"b", {"{{y}}-{{watermark}}", 3}}, {"{{key}}", "plain"}};
  EXPECT_EQ(template_params(v), (std::set<std::string>{"x", "y", "watermark"}));
}

TEST(Pointer, RenderAndSegments) {
  EXPECT_EQ(render_pointer("/jobs/2/target/mode"), "jobs[2].target.mode");
  EXPECT_EQ(render_pointer(""), "");
  EXPECT_EQ(render_pointer(pointer_child("/connections", "a/b.c")), "connections[\"a/b.c\"]");
  EXPECT_EQ(pointer_child("/x", "a~/b"), "/x/a~0~1b");
  EXPECT_THAT(pointer_segments("/x/a~0~1b/3"), ElementsAre("x", "a~/b", "3"));
}

TEST(Graph, StableOrderKeepsIndexOrderAmongEquals) {
  // 0 after 2, 1 free, 2 free: 1 and 2 are ready first (in index order), then 0.
  auto order = stable_topological_order({"a", "b", "c"}, {{2}, {}, {}}, "transform");
  ASSERT_TRUE(order.ok());
  EXPECT_THAT(order.value(), ElementsAre(1, 2, 0));
}

TEST(Graph, CycleNamedInRunOrder) {
  // x after z, y after x, z after y: z -> x -> y -> z; starts at x (index 0).
  auto order = stable_topological_order({"x", "y", "z", "w"}, {{2}, {0}, {1}, {0}}, "transform");
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().message(), "transform cycle: x -> y -> z -> x");
  auto self = stable_topological_order({"s"}, {{0}}, "transform");
  EXPECT_EQ(self.status().message(), "transform cycle: s -> s");
}

}  // namespace
}  // namespace ferry
