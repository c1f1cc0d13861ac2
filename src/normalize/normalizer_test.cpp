#include "normalize/normalizer.h"

#include "core/infer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "formats/json_reader.h"
#include "normalize/json_text.h"
#include "normalize/row_id.h"
#include "testing.h"

namespace ferry {
namespace {

// Runs JSON Lines through a normaliser and keeps a copy of every emitted batch, in order.
class Harness {
 public:
  explicit Harness(NormalizerOptions opts)
      : norm_(std::move(opts), [this](Batch& b) {
          emitted.push_back(b);
          return Status::success();
        }) {}

  // Adds each line; returns the first failure of add().
  Status add(std::string_view jsonl, const std::string& source = "test.jsonl") {
    Status first;
    Status st = reader_.read_lines(
        jsonl, Origin{source, 1, 0},
        [&](simdjson::dom::element record, const Origin& origin) {
          Status s = norm_.add(record, origin);
          if (!s.is_ok() && first.is_ok()) first = s;
        },
        [](const Reject& r) { ADD_FAILURE() << "bad line " << r.origin.line << ": " << r.reason; });
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return first;
  }
  Harness& load(std::string_view jsonl) {
    Status st = add(jsonl);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    st = norm_.flush();
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    return *this;
  }

  // All rows of a table, the emitted batches of it concatenated: column -> cell texts
  // ("<null>" for a null cell).
  std::map<std::string, std::vector<std::string>> table(const std::string& name) const {
    std::map<std::string, std::vector<std::string>> out;
    size_t rows = 0;
    for (const Batch& b : emitted) {
      if (b.table() != name) continue;
      for (const Column& c : b.columns()) {
        auto& cells = out[c.name()];
        cells.resize(rows, "<null>");
        for (size_t r = 0; r < b.num_rows(); ++r)
          cells.push_back(c[r].is_null() ? "<null>" : std::string(c.text(r)));
      }
      rows += b.num_rows();
      for (auto& [col, cells] : out)
        cells.resize(rows, "<null>");
    }
    return out;
  }
  std::vector<std::string> column(const std::string& table, const std::string& col) const {
    auto t = this->table(table);
    auto it = t.find(col);
    return it == t.end() ? std::vector<std::string>{} : it->second;
  }
  // The last emitted batch of a table (for types).
  const Batch* last(const std::string& name) const {
    for (auto it = emitted.rbegin(); it != emitted.rend(); ++it)
      if (it->table() == name) return &*it;
    return nullptr;
  }
  const Column* find(const std::string& table, const std::string& col) const {
    const Batch* b = last(table);
    if (!b) return nullptr;
    int i = b->find(col);
    return i < 0 ? nullptr : &b->column(static_cast<size_t>(i));
  }

  Normalizer& norm() { return norm_; }
  std::vector<Batch> emitted;

 private:
  JsonReader reader_;
  Normalizer norm_;
};

NormalizerOptions orders_options() {
  NormalizerOptions o;
  o.root_table = "orders";
  o.load_id = "load-1";
  return o;
}

using Strings = std::vector<std::string>;

constexpr const char* kOrders =
    R"({"id":1,"customer":{"name":"Ann","address":{"city":"Berlin","zip":"10115"}},)"
    R"("items":[{"sku":"A","tags":["red","big"]},{"sku":"B","tags":[]},{"sku":"C","tags":["x"]}]})"
    "\n"
    R"({"id":2,"customer":{"name":"Bob","address":{"city":"Paris","zip":"75001"}},)"
    R"("items":[{"sku":"D","tags":["blue"]}]})"
    "\n";

TEST(Normalizer, NestedObjectsBecomeParentChildColumns) {
  Harness run(orders_options());
  run.load(kOrders);
  auto orders = run.table("orders");
  EXPECT_EQ(orders["id"], (Strings{"1", "2"}));
  EXPECT_EQ(orders["customer__name"], (Strings{"Ann", "Bob"}));
  EXPECT_EQ(orders["customer__address__city"], (Strings{"Berlin", "Paris"}));
  EXPECT_EQ(orders["customer__address__zip"], (Strings{"10115", "75001"}));
  EXPECT_EQ(orders.count("customer"), 0u);
  EXPECT_EQ(orders.count("items"), 0u);
  EXPECT_EQ(orders["_ferry_id"].size(), 2u);
  EXPECT_EQ(run.find("orders", "id")->type(), Type::kInt);
  EXPECT_EQ(run.find("orders", "customer__address__zip")->type(), Type::kText);
  EXPECT_EQ(run.norm().records(), 2);
}

TEST(Normalizer, ArraysOfObjectsAtThreeLevelsLinkParentAndRoot) {
  Harness run(orders_options());
  run.load(kOrders);
  EXPECT_EQ(run.norm().tables(), (Strings{"orders", "orders__items", "orders__items__tags"}));
  auto orders = run.table("orders");
  auto items = run.table("orders__items");
  auto tags = run.table("orders__items__tags");

  EXPECT_EQ(items["sku"], (Strings{"A", "B", "C", "D"}));
  EXPECT_EQ(items["_ferry_idx"], (Strings{"0", "1", "2", "0"}));
  const std::string& o1 = orders["_ferry_id"][0];
  const std::string& o2 = orders["_ferry_id"][1];
  EXPECT_EQ(items["_ferry_parent_id"], (Strings{o1, o1, o1, o2}));
  EXPECT_EQ(items["_ferry_root_id"], (Strings{o1, o1, o1, o2}));
  EXPECT_EQ(items.count("tags"), 0u);

  EXPECT_EQ(tags["value"], (Strings{"red", "big", "x", "blue"}));
  EXPECT_EQ(tags["_ferry_idx"], (Strings{"0", "1", "0", "0"}));
  const auto& item_ids = items["_ferry_id"];
  EXPECT_EQ(tags["_ferry_parent_id"],
            (Strings{item_ids[0], item_ids[0], item_ids[2], item_ids[3]}));
  EXPECT_EQ(tags["_ferry_root_id"], (Strings{o1, o1, o1, o2}));

  // Ids: 64-bit integers, all distinct.
  std::set<std::string> ids;
  for (const auto* t : {&orders, &items, &tags}) {
    for (const std::string& id : t->at("_ferry_id")) {
      int64_t v = 0;
      EXPECT_TRUE(parse_int64(id, &v)) << id;
      EXPECT_NE(v, 0) << id;
      ids.insert(id);
    }
  }
  EXPECT_EQ(ids.size(), 2u + 4u + 4u);
}

TEST(Normalizer, EmptyArraysAddNoRowsAndNoColumn) {
  Harness run(orders_options());
  run.load(R"({"id":1,"items":[],"tags":[]})"
           "\n"
           R"({"id":2,"items":[]})");
  EXPECT_EQ(run.norm().tables(), (Strings{"orders"}));
  auto orders = run.table("orders");
  EXPECT_EQ(orders.count("items"), 0u);
  EXPECT_EQ(orders.count("tags"), 0u);
  EXPECT_EQ(orders["id"], (Strings{"1", "2"}));
}

TEST(Normalizer, ArraysOfScalarsAndMixedArrays) {
  Harness run(orders_options());
  run.load(R"({"id":1,"codes":[3,1,2],"mixed":[{"x":1},"s",null,7.5,{"x":2,"y":true}]})");
  auto codes = run.table("orders__codes");
  EXPECT_EQ(codes["value"], (Strings{"3", "1", "2"}));
  EXPECT_EQ(codes["_ferry_idx"], (Strings{"0", "1", "2"}));
  auto mixed = run.table("orders__mixed");
  EXPECT_EQ(mixed["x"], (Strings{"1", "<null>", "<null>", "<null>", "2"}));
  EXPECT_EQ(mixed["value"], (Strings{"<null>", "s", "<null>", "7.5", "<null>"}));
  EXPECT_EQ(mixed["y"], (Strings{"<null>", "<null>", "<null>", "<null>", "true"}));
  EXPECT_EQ(mixed["_ferry_idx"], (Strings{"0", "1", "2", "3", "4"}));
}

TEST(Normalizer, ArraysOfArraysNestOneTablePerLevel) {
  Harness run(orders_options());
  run.load(R"({"id":1,"m":[[1,2],[3]]})");
  auto m = run.table("orders__m");
  auto inner = run.table("orders__m__value");
  EXPECT_EQ(m["_ferry_idx"], (Strings{"0", "1"}));
  EXPECT_EQ(inner["value"], (Strings{"1", "2", "3"}));
  EXPECT_EQ(inner["_ferry_parent_id"],
            (Strings{m["_ferry_id"][0], m["_ferry_id"][0], m["_ferry_id"][1]}));
}

TEST(Normalizer, TypesWidenAcrossRecords) {
  Harness run(orders_options());
  run.load(R"({"x":1,"y":1,"big":18446744073709551615,"flag":true,"day":"2024-02-29"})"
           "\n"
           R"({"x":1.5,"y":2.0,"big":1,"flag":false,"at":"2024-01-02T03:04:05Z"})"
           "\n"
           R"({"x":"abc","y":1e2,"n":"42","day":"2024-13-01"})");
  const Column* x = run.find("orders", "x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->type(), Type::kText);
  EXPECT_EQ((*x)[0].type, Type::kInt);
  EXPECT_EQ((*x)[1].type, Type::kDouble);
  EXPECT_EQ((*x)[2].type, Type::kText);
  EXPECT_EQ(run.column("orders", "x"), (Strings{"1", "1.5", "abc"}));
  const Column* y = run.find("orders", "y");
  EXPECT_EQ(y->type(), Type::kDouble);
  EXPECT_DOUBLE_EQ((*y)[2].d, 100.0);
  EXPECT_EQ(run.column("orders", "y"), (Strings{"1", "2.0", "100.0"}));
  EXPECT_EQ(run.find("orders", "big")->type(), Type::kDecimal);
  EXPECT_EQ(run.column("orders", "big")[0], "18446744073709551615");
  EXPECT_EQ(run.find("orders", "flag")->type(), Type::kBool);
  EXPECT_EQ(run.find("orders", "at")->type(), Type::kTimestamp);
  EXPECT_EQ(run.find("orders", "n")->type(), Type::kText);  // the string "42" stays text
  const Column* day = run.find("orders", "day");
  EXPECT_EQ((*day)[0].type, Type::kDate);
  EXPECT_EQ((*day)[2].type, Type::kText);  // not a valid date
  EXPECT_EQ(day->type(), Type::kText);
}

TEST(Normalizer, DeclaredTypesOnlyWidenAcrossBatches) {
  NormalizerOptions o = orders_options();
  o.batch_rows = 1;
  Harness run(o);
  run.load("{\"x\":1}\n{\"x\":1.5}\n{\"x\":2}\n{\"y\":true}\n");
  std::vector<Type> types;
  for (const Batch& b : run.emitted) {
    ASSERT_EQ(b.num_rows(), 1u);
    int x = b.find("x");
    types.push_back(x < 0 ? Type::kNull : b.column(static_cast<size_t>(x)).type());
  }
  EXPECT_EQ(types, (std::vector<Type>{Type::kInt, Type::kDouble, Type::kDouble, Type::kDouble}));
  EXPECT_EQ(run.emitted[2].column(static_cast<size_t>(run.emitted[2].find("x")))[0].type,
            Type::kInt);  // the cell keeps its own type
}

TEST(Normalizer, NewAndMissingFieldsAndKeyOrder) {
  Harness run(orders_options());
  run.load(R"({"a":1,"b":"x"})"
           "\n"
           R"({"b":"y","a":2})"
           "\n"
           R"({"c":{"d":true},"a":3})"
           "\n"
           R"({"a":null,"b":null,"c":null})");
  auto t = run.table("orders");
  EXPECT_EQ(t["a"], (Strings{"1", "2", "3", "<null>"}));
  EXPECT_EQ(t["b"], (Strings{"x", "y", "<null>", "<null>"}));
  EXPECT_EQ(t["c__d"], (Strings{"<null>", "<null>", "true", "<null>"}));
  EXPECT_EQ(run.find("orders", "c__d")->type(), Type::kBool);
}

TEST(Normalizer, NullOnlyKeysAddNoColumnUntilAValueArrives) {
  Harness run(orders_options());
  ASSERT_TRUE(run.add(R"({"a":1,"z":null})").is_ok());
  ASSERT_TRUE(run.norm().flush().is_ok());
  EXPECT_EQ(run.find("orders", "z"), nullptr);
  run.load(R"({"a":2,"z":"now"})");
  EXPECT_EQ(run.find("orders", "z")->type(), Type::kText);
}

TEST(Normalizer, HostileNamesAreSanitised) {
  Harness run(orders_options());
  run.load(R"({"\"; drop table x; --":1,"Customer Name":"Ann","_ferry_id":"mine","1st":2})");
  auto t = run.table("orders");
  EXPECT_EQ(t["drop_table_x"], (Strings{"1"}));
  EXPECT_EQ(t["customer_name"], (Strings{"Ann"}));
  EXPECT_EQ(t["_1st"], (Strings{"2"}));
  // A source field cannot overwrite ferry's own columns.
  EXPECT_EQ(t["_ferry_id_2"], (Strings{"mine"}));
  int64_t v = 0;
  EXPECT_TRUE(parse_int64(t["_ferry_id"][0], &v)) << t["_ferry_id"][0];
}

TEST(Normalizer, CollidingNamesGetSuffixes) {
  Harness run(orders_options());
  run.load(R"({"a b":1,"a_b":2,"A-B":3,"p__q":4,"p":{"q":5}})"
           "\n"
           R"({"a_b":20,"a b":10})");
  auto t = run.table("orders");
  EXPECT_EQ(t["a_b"], (Strings{"1", "10"}));
  EXPECT_EQ(t["a_b_2"], (Strings{"2", "20"}));
  EXPECT_EQ(t["a_b_3"], (Strings{"3", "<null>"}));
  EXPECT_EQ(t["p__q"], (Strings{"4", "<null>"}));
  EXPECT_EQ(t["p__q_2"], (Strings{"5", "<null>"}));
}

TEST(Normalizer, CollidingArraysGetSeparateTables) {
  Harness run(orders_options());
  run.load(R"({"x y":[1],"x_y":[2]})");
  EXPECT_EQ(run.norm().tables(), (Strings{"orders", "orders__x_y", "orders__x_y_2"}));
  EXPECT_EQ(run.column("orders__x_y", "value"), (Strings{"1"}));
  EXPECT_EQ(run.column("orders__x_y_2", "value"), (Strings{"2"}));
}

TEST(Normalizer, RepeatedKeyKeepsTheFirstValue) {
  Harness run(orders_options());
  run.load(R"({"a":1,"a":2,"o":{"k":1},"o":{"k":2},"l":[1],"l":[2,3]})");
  EXPECT_EQ(run.column("orders", "a"), (Strings{"1"}));
  EXPECT_EQ(run.column("orders", "o__k"), (Strings{"1"}));
  EXPECT_EQ(run.column("orders__l", "value"), (Strings{"1"}));
}

TEST(Normalizer, LongNamesAreShortenedDistinctly) {
  const std::string a(70, 'a');
  Harness run(orders_options());
  run.load("{\"" + a + "1\":1,\"" + a + "2\":2}");
  const Batch* b = run.last("orders");
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->num_columns(), 3u);
  EXPECT_EQ(b->column(1).name().size(), 63u);
  EXPECT_EQ(b->column(2).name().size(), 63u);
  EXPECT_NE(b->column(1).name(), b->column(2).name());
}

TEST(Normalizer, MaxDepthKeepsDeeperValuesAsJson) {
  NormalizerOptions o = orders_options();
  o.max_depth = 1;
  Harness run(o);
  run.load(kOrders);
  EXPECT_EQ(run.norm().tables(), (Strings{"orders", "orders__items"}));
  EXPECT_EQ(run.column("orders", "customer__name"), (Strings{"Ann", "Bob"}));
  EXPECT_EQ(run.column("orders", "customer__address"),
            (Strings{R"({"city":"Berlin","zip":"10115"})", R"({"city":"Paris","zip":"75001"})"}));
  EXPECT_EQ(run.find("orders", "customer__address")->type(), Type::kJson);
  EXPECT_EQ(run.column("orders__items", "tags"),
            (Strings{R"(["red","big"])", "[]", R"(["x"])", R"(["blue"])"}));
  EXPECT_EQ(run.find("orders__items", "tags")->type(), Type::kJson);
}

TEST(Normalizer, JsonPathsKeepValuesAsOneJsonColumn) {
  NormalizerOptions o = orders_options();
  o.json_paths = {"items.tags", "Payload", "customer.address"};
  Harness run(o);
  run.load(R"({"payload":{"a":[1,{"b":"q\"\n"}]},"items":[{"tags":["x"]}],)"
           R"("customer":{"address":{"c":1},"name":"Ann"}})"
           "\n"
           R"({"payload":"text","items":[{"tags":null}]})");
  EXPECT_EQ(run.norm().tables(), (Strings{"orders", "orders__items"}));
  EXPECT_EQ(run.column("orders", "payload"), (Strings{R"({"a":[1,{"b":"q\"\n"}]})", R"("text")"}));
  EXPECT_EQ(run.find("orders", "payload")->type(), Type::kJson);
  EXPECT_EQ(run.column("orders", "customer__address"), (Strings{R"({"c":1})", "<null>"}));
  EXPECT_EQ(run.column("orders", "customer__name"), (Strings{"Ann", "<null>"}));
  EXPECT_EQ(run.column("orders__items", "tags"), (Strings{R"(["x"])", "<null>"}));
}

// root_fields (a database source's catalog types): the declared columns exist from the first
// batch in their order, typed even while null, their string values converted, not inferred.
TEST(Normalizer, RootFieldsAreDeclaredNotInferred) {
  NormalizerOptions o = orders_options();
  o.root_fields = {{"id", Type::kInt, true},    {"amount", Type::kDecimal, true},
                   {"note", Type::kText, true}, {"day", Type::kDate, true},
                   {"raw", Type::kJson, true},  {"never", Type::kTimestamp, true}};
  Harness run(o);
  run.load(R"({"Id":"1","amount":"12.50","note":"2024-01-02","day":"infinity","raw":"{\"a\": 1}",)"
           R"("payload":{"n":"x"}})"
           "\n"
           R"({"Id":"2","amount":null,"note":"7","day":"2024-01-02","raw":{"b":[1]},"note2":7})");
  const Batch* b = run.last("orders");
  ASSERT_NE(b, nullptr);
  Strings names;
  for (const Column& c : b->columns())
    names.push_back(c.name());
  EXPECT_EQ(names, (Strings{"_ferry_id", "id", "amount", "note", "day", "raw", "never",
                            "payload__n", "note2"}));
  EXPECT_EQ(run.column("orders", "amount"), (Strings{"12.50", "<null>"}));
  EXPECT_EQ(run.column("orders", "note"), (Strings{"2024-01-02", "7"}));
  EXPECT_EQ(run.column("orders", "day"), (Strings{"infinity", "2024-01-02"}));
  EXPECT_EQ(run.column("orders", "raw"), (Strings{R"({"a": 1})", R"({"b":[1]})"}));
  EXPECT_EQ(b->column(1).type(), Type::kInt);
  EXPECT_EQ(b->column(2).type(), Type::kDecimal);
  EXPECT_EQ(b->column(3).type(), Type::kText);
  EXPECT_EQ(b->column(4).type(), Type::kText);  // 'infinity' is no date: widened to text
  EXPECT_EQ(b->column(5).type(), Type::kJson);
  EXPECT_EQ(b->column(6).type(), Type::kTimestamp);  // declared, though every value is null
  EXPECT_EQ(b->column(8).type(), Type::kInt);        // not declared: inferred
  EXPECT_EQ(b->column(3)[0].type, Type::kText);
  EXPECT_EQ(b->column(4)[1].type, Type::kDate);
}

std::map<std::string, Strings> ids_of(const Harness& run) {
  std::map<std::string, Strings> ids;
  for (const char* t : {"orders", "orders__items", "orders__items__tags"}) {
    ids[t] = run.column(t, "_ferry_id");
    auto parents = run.column(t, "_ferry_parent_id");
    ids[t].insert(ids[t].end(), parents.begin(), parents.end());
  }
  return ids;
}

TEST(Normalizer, IdsAreDeterministic) {
  Harness a(orders_options()), b(orders_options());
  a.load(kOrders);
  b.load(kOrders);
  EXPECT_EQ(ids_of(a), ids_of(b));
  // The documented formula: hash("load", load_id, sequence number) (pinned in RowIdHash below).
  EXPECT_EQ(a.column("orders", "_ferry_id")[0], "4075212015365422547");
  EXPECT_FALSE(ids_of(a)["orders__items__tags"].empty());

  NormalizerOptions other = orders_options();
  other.load_id = "load-2";
  Harness c(other);
  c.load(kOrders);
  EXPECT_NE(a.column("orders", "_ferry_id"), c.column("orders", "_ferry_id"));
}

TEST(Normalizer, PrimaryKeyIdsDoNotDependOnPosition) {
  NormalizerOptions o = orders_options();
  o.primary_key = {"id"};
  const std::string first = R"({"id":1,"items":[{"sku":"A"}]})";
  const std::string second = R"({"id":2,"items":[{"sku":"B"}]})";
  Harness a(o), b(o);
  a.load(first + "\n" + second);
  o.load_id = "another-load";  // the load does not matter with a primary key
  Harness c(o);
  c.load(second + "\n" + first);
  b.load(second + "\n" + first);
  auto ids_a = a.column("orders", "_ferry_id");
  auto ids_c = c.column("orders", "_ferry_id");
  EXPECT_EQ(ids_a[0], ids_c[1]);
  EXPECT_EQ(ids_a[1], ids_c[0]);
  EXPECT_NE(ids_a[0], ids_a[1]);
  EXPECT_EQ(a.column("orders__items", "_ferry_id")[0], c.column("orders__items", "_ferry_id")[1]);

  // A nested key, written with dots or as the column name.
  NormalizerOptions nested = orders_options();
  nested.primary_key = {"customer.id"};
  Harness d(nested);
  d.load(R"({"customer":{"id":7},"n":1})"
         "\n"
         R"({"n":2,"customer":{"id":7}})"
         "\n"
         R"({"customer":{"id":8}})");
  auto ids_d = d.column("orders", "_ferry_id");
  EXPECT_EQ(ids_d[0], ids_d[1]);
  EXPECT_NE(ids_d[0], ids_d[2]);
}

TEST(Normalizer, BatchesSplitAtBatchRowsParentsFirst) {
  NormalizerOptions o = orders_options();
  o.batch_rows = 3;
  Harness run(o);
  std::string input;
  for (int i = 0; i < 7; ++i) {
    input += R"({"id":)" + std::to_string(i) +
             R"(,"items":[{"tags":["a","b"]},{"tags":["c"]},{"tags":["d","e","f","g"]}]})" + "\n";
  }
  ASSERT_TRUE(run.add(input).is_ok());
  const size_t before_flush = run.emitted.size();
  EXPECT_GT(before_flush, 0u);  // full batches went out while adding
  ASSERT_TRUE(run.norm().flush().is_ok());

  std::map<std::string, std::string> parent_of = {{"orders__items", "orders"},
                                                  {"orders__items__tags", "orders__items"}};
  std::map<std::string, std::set<std::string>> emitted_ids;
  std::map<std::string, size_t> rows;
  for (const Batch& b : run.emitted) {
    EXPECT_GT(b.num_rows(), 0u);
    EXPECT_LE(b.num_rows(), 3u) << b.table();
    EXPECT_EQ(b.row_lines().size(), b.num_rows());
    rows[b.table()] += b.num_rows();
    if (parent_of.count(b.table())) {
      const Column& pid = b.column(static_cast<size_t>(b.find("_ferry_parent_id")));
      for (size_t r = 0; r < b.num_rows(); ++r) {
        EXPECT_TRUE(emitted_ids[parent_of[b.table()]].count(std::string(pid.text(r))))
            << b.table() << " row emitted before its parent";
      }
    }
    const Column& id = b.column(static_cast<size_t>(b.find("_ferry_id")));
    for (size_t r = 0; r < b.num_rows(); ++r)
      emitted_ids[b.table()].insert(std::string(id.text(r)));
  }
  EXPECT_EQ(rows["orders"], 7u);
  EXPECT_EQ(rows["orders__items"], 21u);
  EXPECT_EQ(rows["orders__items__tags"], 49u);
  // flush() emitted what was left, and a second flush has nothing to emit.
  const size_t after_flush = run.emitted.size();
  ASSERT_TRUE(run.norm().flush().is_ok());
  EXPECT_EQ(run.emitted.size(), after_flush);
}

TEST(Normalizer, NonObjectRecordIsInvalidAndAddsNothing) {
  Harness run(orders_options());
  Status st = run.add("[1,2]");
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_NE(st.message().find("array"), std::string::npos) << st.message();
  EXPECT_EQ(run.add("\"text\"").code(), Code::kInvalid);
  EXPECT_EQ(run.norm().records(), 0);
  run.load(R"({"a":1})");
  EXPECT_EQ(run.norm().records(), 1);
  EXPECT_EQ(run.column("orders", "a"), (Strings{"1"}));
}

TEST(Normalizer, RowLinesAndOriginSource) {
  Harness run(orders_options());
  ASSERT_TRUE(run.add("{\"a\":1}\n\n{\"a\":2,\"l\":[1]}\n", "one.jsonl").is_ok());
  ASSERT_TRUE(run.norm().flush().is_ok());
  const Batch* root = run.last("orders");
  EXPECT_EQ(root->row_lines(), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(root->origin_source(), "one.jsonl");
  EXPECT_EQ(run.last("orders__l")->row_lines(), (std::vector<int64_t>{3}));

  ASSERT_TRUE(run.add("{\"a\":3}\n", "one.jsonl").is_ok());
  ASSERT_TRUE(run.add("{\"a\":4}\n", "two.jsonl").is_ok());
  ASSERT_TRUE(run.norm().flush().is_ok());
  EXPECT_EQ(run.last("orders")->origin_source(), "");  // rows from two sources
}

TEST(Normalizer, EmitFailureIsReturned) {
  NormalizerOptions o = orders_options();
  o.batch_rows = 1;
  Normalizer norm(o, [](Batch&) { return Status::io("disk full"); });
  JsonReader reader;
  Status st = reader.read_lines(
      "{\"a\":1}\n{\"a\":2}\n", Origin{},
      [&](simdjson::dom::element r, const Origin& origin) { return norm.add(r, origin); },
      [](Reject) {});
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_EQ(st.message(), "disk full");
}

TEST(RowIdHash, FieldBoundariesMatterAndValuesArePinned) {
  auto id = [](std::initializer_list<std::string_view> fields) {
    RowIdHash h;
    for (auto f : fields)
      h.add(f);
    return h.digest();
  };
  EXPECT_NE(id({"ab", "c"}), id({"a", "bc"}));
  EXPECT_NE(id({""}), id({}));
  EXPECT_NE(id({std::string(17, 'x')}), id({std::string(18, 'x')}));
  EXPECT_NE(RowIdHash().add(uint64_t{1}).digest(), RowIdHash().add(uint64_t{2}).digest());
  // Ids are stored in warehouses: this value must never change.
  char hex[16];
  RowIdHash::hex(RowIdHash().add("load").add("load-1").add(uint64_t{0}).digest(), hex);
  EXPECT_EQ(std::string(hex, 16), "388e0fbc90427dd3");
}

TEST(JsonText, MinifiesAndEscapes) {
  simdjson::dom::parser parser;
  simdjson::padded_string doc(std::string(
      R"( { "s" : "a\"b\\c\n\u0001é" , "n" : [ 1 , -2 , 1.5 , 3.0, 1e300, 18446744073709551615 ], )"
      R"("o" : { } , "t" : true , "z" : null } )"));
  simdjson::dom::element e = parser.parse(doc).value();
  EXPECT_EQ(json_text(e),
            R"({"s":"a\"b\\c\n\u0001é","n":[1,-2,1.5,3.0,1e+300,18446744073709551615],)"
            R"("o":{},"t":true,"z":null})");
  EXPECT_STREQ(json_type_name(e), "object");
}

TEST(JsonText, DoublesAreShortAndRoundTrip) {
  auto text = [](double v) {
    char buf[32];
    return std::string(buf, format_json_double(v, buf));
  };
  EXPECT_EQ(text(98.58), "98.58");
  EXPECT_EQ(text(100.0), "100.0");
  EXPECT_EQ(text(0.1), "0.1");
  EXPECT_EQ(text(-2.5), "-2.5");
  EXPECT_EQ(text(0.0), "0.0");
  EXPECT_EQ(text(-0.0), "-0.0");
  EXPECT_EQ(text(0.0001), "0.0001");
  EXPECT_EQ(text(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(text(1e-7), "1e-07");
  EXPECT_EQ(text(1e300), "1e+300");
  EXPECT_EQ(text(123456789012.25), "123456789012.25");
  // Every text parses back to the same double, decimal-looking values or random bits.
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200000; ++i) {
    double v;
    if (i % 2 == 0) {
      v = static_cast<double>(rng() % 100000000) / std::pow(10.0, static_cast<double>(rng() % 12));
    } else {
      const uint64_t bits = rng();
      std::memcpy(&v, &bits, sizeof(v));
      if (!std::isfinite(v)) continue;
    }
    const std::string s = text(v);
    double back = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), back);
    ASSERT_EQ(r.ptr, s.data() + s.size()) << s;
    ASSERT_EQ(back, v) << s;
    ASSERT_TRUE(s.find_first_of(".e") != std::string::npos) << s;
    // Where the shortest round-trip form is fixed-point, it is the same text (plus ".0").
    char ref[32];
    const auto rr = std::to_chars(ref, ref + sizeof(ref), v);
    const std::string shortest(ref, rr.ptr);
    if (shortest.find('e') == std::string::npos) {
      ASSERT_TRUE(s == shortest || s == shortest + ".0") << s << " vs " << shortest;
    }
  }
}

// Throughput of reader + normaliser on a JSON Lines file, run by hand (not a timed test):
//   python3 bench/gen_data.py jsonl /tmp/orders.jsonl --rows 200000
//   FERRY_JSONL=/tmp/orders.jsonl normalize_test --gtest_also_run_disabled_tests
//       --gtest_filter='*Throughput*'
// The file is handed over in chunks of FERRY_JSONL_CHUNK bytes (default 4 MiB, cut after a
// newline), as a streaming source would. Prints wall-clock and CPU MB/s (the CPU figure is
// the one to trust on a busy machine) and checks the row counts against FILE.counts when
// that file exists.
TEST(NormalizerThroughput, DISABLED_OrdersJsonl) {
  const char* path = std::getenv("FERRY_JSONL");
  if (!path) GTEST_SKIP() << "set FERRY_JSONL to a JSON Lines file";
  const std::string data = testing::read_file(path);
  ASSERT_FALSE(data.empty());
  const char* chunk_env = std::getenv("FERRY_JSONL_CHUNK");
  const size_t chunk = chunk_env ? std::stoul(chunk_env) : (4u << 20);
  auto cpu_seconds = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  for (int round = 0; round < 3; ++round) {
    std::map<std::string, size_t> rows;
    size_t batches = 0;
    size_t bad = 0;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    JsonReader reader;
    Normalizer norm(orders_options(), [&](Batch& b) {
      rows[b.table()] += b.num_rows();
      ++batches;
      return Status::success();
    });
    size_t pos = 0;
    int64_t line = 1;
    while (pos < data.size()) {
      size_t end = std::min(data.size(), pos + chunk);
      if (end < data.size()) {
        const size_t nl = data.find('\n', end);
        end = nl == std::string::npos ? data.size() : nl + 1;
      }
      const std::string_view part(data.data() + pos, end - pos);
      Status st = reader.read_lines(
          part, Origin{path, line, static_cast<int64_t>(pos)},
          [&](simdjson::dom::element r, const Origin& origin) { return norm.add(r, origin); },
          [&](Reject) { ++bad; });
      ASSERT_TRUE(st.is_ok()) << st.to_string();
      for (const char* p = part.data();
           (p = static_cast<const char*>(std::memchr(p, '\n', part.data() + part.size() - p))); ++p)
        ++line;
      pos = end;
    }
    ASSERT_TRUE(norm.flush().is_ok());
    const double cpu = cpu_seconds() - cpu_start;
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double mb = static_cast<double>(data.size()) / 1e6;
    std::printf("%.1f MB: wall %.3f s = %.1f MB/s, cpu %.3f s = %.1f MB/s; %zu batches, %zu bad;",
                mb, secs, mb / secs, cpu, mb / cpu, batches, bad);
    for (const auto& [t, n] : rows)
      std::printf(" %s=%zu", t.c_str(), n);
    std::printf("\n");
    const std::string counts = testing::read_file(std::string(path) + ".counts");
    if (!counts.empty() && round == 0) {
      simdjson::dom::parser parser;
      simdjson::dom::element expected = parser.parse(simdjson::padded_string(counts)).value();
      const simdjson::dom::object object = expected.get_object().value();
      for (auto field : object)
        EXPECT_EQ(rows[std::string(field.key)], field.value.get_uint64().value()) << field.key;
    }
  }
}

}  // namespace
}  // namespace ferry
