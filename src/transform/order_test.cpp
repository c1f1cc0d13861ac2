#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "transform/order.h"

namespace ferry {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using S = StepState;

TransformDef def(std::string id, std::vector<std::string> after) {
  TransformDef t;
  t.id = std::move(id);
  t.after = std::move(after);
  return t;
}

// fact_sales is written first but reads dim_store; agg reads nothing of the others.
std::vector<TransformDef> chain() {
  return {def("fact_sales", {"dim_store", "sales"}), def("dim_store", {"stores_1", "stores_2"}),
          def("agg", {"sales"})};
}

const std::set<std::string> kJobs = {"stores_1", "stores_2", "sales"};

TEST(TransformOrder, InputsFirstTiesInFileOrder) {
  auto order = transform_order(chain(), kJobs);
  ASSERT_TRUE(order.ok()) << order.status().message();
  // Whenever several could come next, the one written first does.
  EXPECT_THAT(order.value(), ElementsAre("dim_store", "fact_sales", "agg"));
}

TEST(TransformOrder, FileOrderWhenIndependent) {
  auto order = transform_order({def("b", {"sales"}), def("a", {"sales"})}, kJobs);
  ASSERT_TRUE(order.ok());
  EXPECT_THAT(order.value(), ElementsAre("b", "a"));
}

TEST(TransformOrder, CycleIsInvalidAndNamed) {
  auto order = transform_order({def("a", {"b"}), def("b", {"a"})}, kJobs);
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().code(), Code::kInvalid);
  EXPECT_EQ(order.status().message(), "transform cycle: a -> b -> a");
}

TEST(TransformOrder, UnknownInput) {
  auto order = transform_order({def("a", {"nope"})}, kJobs);
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().message(), "transform a: 'nope' is neither a job nor a transform");
}

TEST(TransformsReady, WaitsForPendingInputs) {
  auto step = transforms_ready(chain(), {{"stores_1", S::kSucceeded}, {"stores_2", S::kPending}});
  ASSERT_TRUE(step.ok());
  EXPECT_THAT(step->run, IsEmpty());
  EXPECT_THAT(step->skip, IsEmpty());
  EXPECT_FALSE(step->done);
}

TEST(TransformsReady, RunsWhenInputsSucceededAndKeepsDependentsWaiting) {
  auto step = transforms_ready(
      chain(),
      {{"stores_1", S::kSucceeded}, {"stores_2", S::kSucceeded}, {"sales", S::kSucceeded}});
  ASSERT_TRUE(step.ok());
  // fact_sales must wait for dim_store, which only starts now.
  EXPECT_THAT(step->run, ElementsAre("dim_store", "agg"));
  EXPECT_FALSE(step->done);

  step = transforms_ready(chain(), {{"stores_1", S::kSucceeded},
                                    {"stores_2", S::kSucceeded},
                                    {"sales", S::kSucceeded},
                                    {"dim_store", S::kSucceeded},
                                    {"agg", S::kPending}});
  ASSERT_TRUE(step.ok());
  EXPECT_THAT(step->run, ElementsAre("fact_sales"));  // agg running does not hold it back

  step = transforms_ready(chain(), {{"stores_1", S::kSucceeded},
                                    {"stores_2", S::kSucceeded},
                                    {"sales", S::kSucceeded},
                                    {"dim_store", S::kSucceeded},
                                    {"agg", S::kSucceeded},
                                    {"fact_sales", S::kSucceeded}});
  ASSERT_TRUE(step.ok());
  EXPECT_THAT(step->run, IsEmpty());
  EXPECT_TRUE(step->done);
}

TEST(TransformsReady, FailedInputSkipsDependentsWithTheCause) {
  auto step = transforms_ready(
      chain(), {{"stores_1", S::kFailed}, {"stores_2", S::kSucceeded}, {"sales", S::kSucceeded}});
  ASSERT_TRUE(step.ok());
  EXPECT_THAT(step->run, ElementsAre("agg"));
  ASSERT_EQ(step->skip.size(), 2u);
  EXPECT_EQ(step->skip[0], (SkippedTransform{"dim_store", "stores_1", "stores_1", true}));
  EXPECT_EQ(step->skip[1], (SkippedTransform{"fact_sales", "dim_store", "stores_1", false}));
  EXPECT_EQ(step->skip[0].describe(), "dim_store skipped: input stores_1 failed");
  EXPECT_EQ(step->skip[1].describe(),
            "fact_sales skipped: input dim_store was skipped (stores_1 failed)");
}

TEST(TransformsReady, CauseOfAnEarlierSkipIsFoundAgain) {
  auto step = transforms_ready(chain(), {{"stores_1", S::kSucceeded},
                                         {"stores_2", S::kFailed},
                                         {"dim_store", S::kSkipped},
                                         {"sales", S::kPending}});
  ASSERT_TRUE(step.ok());
  ASSERT_EQ(step->skip.size(), 1u);
  EXPECT_EQ(step->skip[0], (SkippedTransform{"fact_sales", "dim_store", "stores_2", false}));
  EXPECT_FALSE(step->done);  // sales still runs, and agg waits for it
}

TEST(TransformsReady, TransformFailureSkipsItsDependents) {
  auto step = transforms_ready(
      chain(),
      {{"stores_1", S::kSucceeded}, {"stores_2", S::kSucceeded}, {"dim_store", S::kFailed}});
  ASSERT_TRUE(step.ok());
  ASSERT_EQ(step->skip.size(), 1u);
  EXPECT_EQ(step->skip[0].describe(), "fact_sales skipped: input dim_store failed");
  EXPECT_TRUE(step->done);
}

TEST(TransformsReady, OnlyTransformsOfTheBatch) {
  // Only `sales` ran: dim_store is not part of the batch; fact_sales is, and does not wait
  // for dim_store (its table is as last built).
  auto step = transforms_ready(chain(), {{"sales", S::kSucceeded}});
  ASSERT_TRUE(step.ok());
  EXPECT_THAT(step->run, ElementsAre("fact_sales", "agg"));
}

TEST(TransformsReady, NothingInTheBatch) {
  auto step = transforms_ready(chain(), {});
  ASSERT_TRUE(step.ok());
  EXPECT_THAT(step->run, IsEmpty());
  EXPECT_TRUE(step->done);
}

TEST(TransformsReady, CycleIsAnError) {
  auto step = transforms_ready({def("a", {"b", "j"}), def("b", {"a"})}, {{"j", S::kSucceeded}});
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.status().code(), Code::kInvalid);
}

}  // namespace
}  // namespace ferry
