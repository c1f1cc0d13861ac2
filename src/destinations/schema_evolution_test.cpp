#include "destinations/schema_evolution.h"

#include <gtest/gtest.h>

#include "core/infer.h"
#include "destinations/test_batch.h"

namespace ferry {
namespace {

using testing::make_batch;
using testing::Row;

TableSchema schema(const std::string& name, std::vector<Field> fields) {
  TableSchema s;
  s.name = name;
  s.fields = std::move(fields);
  return s;
}

PlanOptions policy(SchemaPolicy p) {
  PlanOptions o;
  o.policy = p;
  return o;
}

TEST(SchemaEvolution, NewTableIsCreatedFromTheBatch) {
  Batch b = make_batch("t", {"id", "name", "empty"}, {{"1", "a", std::nullopt}});
  auto plan = plan_schema(nullptr, b, policy(SchemaPolicy::kFreeze));
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_TRUE(plan->create_table);
  ASSERT_EQ(plan->changes.size(), 1u);
  EXPECT_EQ(plan->changes[0].kind, SchemaChange::Kind::kCreateTable);
  EXPECT_EQ(plan->changes[0].describe(), "created table t");
  // The all-null column has no type yet, so it is not created.
  ASSERT_EQ(plan->table.fields.size(), 2u);
  EXPECT_EQ(plan->table.fields[0].type, Type::kInt);
  EXPECT_EQ(plan->table.fields[1].type, Type::kText);
  EXPECT_EQ(plan->column_field, (std::vector<int>{0, 1, -1}));
}

TEST(SchemaEvolution, EvolveAddsColumnsAndWidensTypes) {
  TableSchema t = schema("t", {{"id", Type::kInt}, {"amount", Type::kInt}});
  Batch b = make_batch("t", {"amount", "coupon", "id"}, {{"1.5", "X1", "1"}});
  auto plan = plan_schema(&t, b, policy(SchemaPolicy::kEvolve));
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->create_table);
  ASSERT_EQ(plan->changes.size(), 2u);
  EXPECT_EQ(plan->changes[0].describe(), "widened column t.amount from int to double");
  EXPECT_EQ(plan->changes[1].describe(), "added column t.coupon (text)");
  EXPECT_EQ(plan->table.find("amount")->type, Type::kDouble);
  EXPECT_EQ(plan->column_field, (std::vector<int>{1, 2, 0}));
  EXPECT_TRUE(plan->rejects.empty());
}

TEST(SchemaEvolution, EvolveKeepsFittingTypes) {
  TableSchema t = schema("t", {{"amount", Type::kDouble}, {"s", Type::kText}});
  Batch b = make_batch("t", {"amount", "s"}, {{"2", "3"}});
  auto plan = plan_schema(&t, b, policy(SchemaPolicy::kEvolve));
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->changes.empty());
  EXPECT_EQ(plan->table.find("amount")->type, Type::kDouble);
}

TEST(SchemaEvolution, FreezeFailsOnANewColumn) {
  TableSchema t = schema("ods_orders", {{"id", Type::kInt}});
  Batch b = make_batch("ods_orders", {"id", "coupon"}, {{"1", "X"}});
  auto plan = plan_schema(&t, b, policy(SchemaPolicy::kFreeze));
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Code::kInvalid);
  EXPECT_NE(plan.status().message().find("ods_orders"), std::string::npos);
  EXPECT_NE(plan.status().message().find("coupon"), std::string::npos);
  EXPECT_NE(plan.status().message().find("freeze"), std::string::npos);
}

TEST(SchemaEvolution, FreezeRejectsRowsWithMisfitValues) {
  TableSchema t = schema("t", {{"id", Type::kInt}, {"amount", Type::kInt}});
  Batch b = make_batch("t", {"id", "amount"}, {{"1", "5"}, {"2", "abc"}, {"3", std::nullopt}});
  auto plan = plan_schema(&t, b, policy(SchemaPolicy::kFreeze));
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->changes.empty());
  EXPECT_EQ(plan->table.find("amount")->type, Type::kInt);
  ASSERT_EQ(plan->rejects.size(), 1u);
  EXPECT_EQ(plan->rejects[0].reason, "column amount is int, value 'abc' is text (schema: freeze)");
  EXPECT_EQ(plan->rejects[0].origin.source, "in.csv");
  EXPECT_EQ(plan->rejects[0].origin.line, 3);
  EXPECT_EQ(plan->rejects[0].raw, R"({"amount":"abc","id":"2"})");
  EXPECT_FALSE(plan->skipped(0));
  EXPECT_TRUE(plan->skipped(1));
  EXPECT_FALSE(plan->skipped(2));
  EXPECT_EQ(plan->rows_to_write(b), 2u);
}

TEST(SchemaEvolution, FreezeAcceptsValuesThatFit) {
  TableSchema t = schema("t", {{"amount", Type::kDouble}, {"at", Type::kTimestamp}});
  Batch b = make_batch("t", {"amount", "at"}, {{"1", "2024-01-02"}});
  auto plan = plan_schema(&t, b, policy(SchemaPolicy::kFreeze));
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->rejects.empty());
  EXPECT_TRUE(plan->changes.empty());
}

TEST(SchemaEvolution, DiscardRowRejectsNewColumnValuesAndMisfits) {
  TableSchema t = schema("t", {{"id", Type::kInt}});
  Batch b =
      make_batch("t", {"id", "extra"}, {{"1", std::nullopt}, {"2", "x"}, {"three", std::nullopt}});
  auto plan = plan_schema(&t, b, policy(SchemaPolicy::kDiscardRow));
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->changes.empty());
  EXPECT_EQ(plan->table.fields.size(), 1u);
  EXPECT_EQ(plan->column_field[1], -1);
  ASSERT_EQ(plan->rejects.size(), 2u);
  EXPECT_EQ(plan->rejects[0].reason, "value in new column t.extra (schema: discard_row)");
  EXPECT_EQ(plan->rejects[1].reason,
            "column id is int, value 'three' is text (schema: discard_row)");
  EXPECT_EQ(plan->rows_to_write(b), 1u);
  EXPECT_FALSE(plan->skipped(0));
}

TEST(SchemaEvolution, DiscardValueNullsMisfitsAndDropsNewColumns) {
  TableSchema t = schema("t", {{"id", Type::kInt}, {"n", Type::kInt}});
  Batch b = make_batch("t", {"id", "n", "extra"}, {{"1", "x", "e"}, {"2", "3", std::nullopt}});
  auto plan = plan_schema(&t, b, policy(SchemaPolicy::kDiscardValue));
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->changes.empty());
  EXPECT_TRUE(plan->rejects.empty());
  EXPECT_EQ(plan->column_field[2], -1);
  EXPECT_TRUE(plan->nulled(1, 0));
  EXPECT_FALSE(plan->nulled(1, 1));
  EXPECT_FALSE(plan->nulled(0, 0));
  EXPECT_EQ(plan->rows_to_write(b), 2u);
}

TEST(SchemaEvolution, NullPrimaryKeyRejectsTheRow) {
  Batch b = make_batch("t", {"id", "v"}, {{"1", "a"}, {std::nullopt, "b"}});
  PlanOptions o;
  o.primary_key = {"id"};
  auto plan = plan_schema(nullptr, b, o);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->rejects.size(), 1u);
  EXPECT_EQ(plan->rejects[0].reason, "primary key column id is null");
  EXPECT_TRUE(plan->skipped(1));

  o.primary_key = {"key"};
  auto missing = plan_schema(nullptr, b, o);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kInvalid);
  EXPECT_NE(missing.status().message().find("key"), std::string::npos);
}

TEST(SchemaEvolution, IgnoredColumnsAreNeitherAddedNorWritten) {
  TableSchema t = schema("t", {{"id", Type::kInt}});
  Batch b = make_batch("t", {"id", "_ferry_load_id"}, {{"1", "old"}});
  PlanOptions o = policy(SchemaPolicy::kFreeze);
  o.ignore_columns = {"_ferry_load_id"};
  auto plan = plan_schema(&t, b, o);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_EQ(plan->column_field[1], -1);
  EXPECT_TRUE(plan->changes.empty());
}

TEST(SchemaEvolution, PolicyNamesRoundTrip) {
  for (SchemaPolicy p : {SchemaPolicy::kEvolve, SchemaPolicy::kFreeze, SchemaPolicy::kDiscardRow,
                         SchemaPolicy::kDiscardValue})
    EXPECT_EQ(parse_schema_policy(schema_policy_name(p)), p);
  EXPECT_FALSE(parse_schema_policy("strict").has_value());
}

}  // namespace
}  // namespace ferry
