// Unit tests of the REST source's pieces that need no server: Link headers, URL resolution,
// paginator settings and schema_rows conversion. The source itself is tested end to end
// against a real HTTP server in tests/integration/rest_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sources/rest/paginator.h"
#include "sources/rest/schema_rows.h"

namespace ferry::rest {
namespace {

using ::testing::HasSubstr;

TEST(LinkHeader, FindsTheNextLinkAmongOthers) {
  EXPECT_EQ(
      link_next(
          R"(<https://a.example/x?page=2>; rel="next", <https://a.example/x?page=9>; rel="last")"),
      "https://a.example/x?page=2");
  EXPECT_EQ(
      link_next(
          R"(<https://a.example/x?page=9>; rel="last", <https://a.example/x?page=3>; rel="next")"),
      "https://a.example/x?page=3");
  EXPECT_EQ(link_next(R"(<https://a.example/x?page=3>; title="a, b"; rel="prev next")"),
            "https://a.example/x?page=3");
  EXPECT_EQ(link_next("<https://a.example/x?page=4>; rel=next"), "https://a.example/x?page=4");
  EXPECT_EQ(link_next(R"(<https://a.example/x?page=1>; rel="prev")"), std::nullopt);
  EXPECT_EQ(link_next(""), std::nullopt);
}

TEST(ResolveUrl, HandlesAbsoluteRootRelativeAndQueryOnlyReferences) {
  const std::string base = "http://h:8/api/v1/orders?page=1";
  EXPECT_EQ(resolve_url(base, "https://other/x"), "https://other/x");
  EXPECT_EQ(resolve_url(base, "/api/v1/orders?page=2"), "http://h:8/api/v1/orders?page=2");
  EXPECT_EQ(resolve_url(base, "?page=3"), "http://h:8/api/v1/orders?page=3");
  EXPECT_EQ(resolve_url(base, "items?page=4"), "http://h:8/api/v1/items?page=4");
}

TEST(Paginator, RejectsUnknownTypesAndKeysAndMissingPointers) {
  auto unknown = make_paginator({{"type", "pages"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("'pages' is not known"));
  auto key = make_paginator({{"type", "cursor"}, {"cursor", "/next"}, {"parm", "c"}});
  ASSERT_FALSE(key.ok());
  EXPECT_THAT(key.status().message(), HasSubstr("no option 'parm'"));
  auto missing = make_paginator({{"type", "cursor"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("needs 'cursor'"));
  EXPECT_TRUE(make_paginator(nlohmann::json()).ok());
}

// Runs a paginator over parsed bodies, as the source does.
struct Walk {
  simdjson::dom::parser parser;
  net::HttpResponse response;
  Page page(const std::string& body, size_t records) {
    Page p;
    p.response = &response;
    p.body = parser.parse(body).value();
    p.has_body = true;
    p.records = records;
    return p;
  }
};

TEST(Paginator, PageNumberStopsOnEmptyPageOrTotalPages) {
  auto p = make_paginator({{"type", "page_number"}, {"total_pages", "/total"}}).value();
  PageRequest r;
  p->start(r);
  EXPECT_EQ(get_param(r.params, "page"), "1");
  Walk w;
  EXPECT_TRUE(p->next(w.page(R"({"total": 2})", 5), r).value());
  EXPECT_EQ(get_param(r.params, "page"), "2");
  EXPECT_FALSE(p->next(w.page(R"({"total": 2})", 5), r).value());

  auto q = make_paginator({{"type", "page_number"}, {"param", "p"}, {"start", 0}}).value();
  PageRequest s;
  q->start(s);
  EXPECT_EQ(get_param(s.params, "p"), "0");
  EXPECT_FALSE(q->next(w.page("{}", 0), s).value());
}

TEST(Paginator, OffsetTakesTheLimitFromParamsAndStopsOnAShortPage) {
  auto p = make_paginator({{"type", "offset"}}).value();
  PageRequest r;
  r.params = {{"limit", "50"}};
  p->start(r);
  EXPECT_EQ(get_param(r.params, "offset"), "0");
  Walk w;
  EXPECT_TRUE(p->next(w.page("{}", 50), r).value());
  EXPECT_EQ(get_param(r.params, "offset"), "50");
  EXPECT_EQ(get_param(r.params, "limit"), "50");
  EXPECT_FALSE(p->next(w.page("{}", 49), r).value());
}

TEST(Paginator, CursorStopsOnNullOrEmptyAndSendsNumbersAsText) {
  auto p =
      make_paginator({{"type", "cursor"}, {"cursor", "/meta/next"}, {"param", "after"}}).value();
  PageRequest r;
  p->start(r);
  Walk w;
  EXPECT_TRUE(p->next(w.page(R"({"meta": {"next": "abc"}})", 1), r).value());
  EXPECT_EQ(get_param(r.params, "after"), "abc");
  EXPECT_TRUE(p->next(w.page(R"({"meta": {"next": 42}})", 1), r).value());
  EXPECT_EQ(get_param(r.params, "after"), "42");
  EXPECT_FALSE(p->next(w.page(R"({"meta": {"next": null}})", 1), r).value());
  EXPECT_FALSE(p->next(w.page(R"({"meta": {"next": ""}})", 1), r).value());
  EXPECT_FALSE(p->next(w.page(R"({"meta": {}})", 1), r).value());
}

TEST(SchemaRows, TypesRowsFromTheDeclaredFieldsAndRejectsBadRows) {
  SchemaRowsReader reader("/schema/fields", "/rows");
  simdjson::dom::parser parser;
  auto page = parser
                  .parse(std::string(R"({
    "schema": {"fields": [{"name": "SKU", "type": "varchar"}, {"name": "price", "type": "decimal"},
                          {"name": "stock", "type": "long"}, {"name": "active", "type": "boolean"},
                          {"name": "released", "type": "date"}, {"name": "attrs", "type": "object"}]},
    "rows": [["A", 9.5, 3, true, "2024-01-31", {"c": 1}],
             ["B", 12, 4, false, null],
             ["C", "cheap", 1, true, null, null],
             {"sku": "D", "stock": 7, "attrs": [1, 2]}]})"))
                  .value();
  Batch batch;
  std::vector<Reject> rejects;
  auto n = reader.read(page, Origin{"http://x/catalog", 1, -1}, batch, rejects);
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  EXPECT_EQ(n.value(), 4u);
  ASSERT_EQ(batch.num_rows(), 2u);  // A and D
  ASSERT_EQ(rejects.size(), 2u);
  EXPECT_EQ(rejects[0].reason, "the row has 5 values but the schema has 6 fields");
  EXPECT_EQ(rejects[0].origin.line, 2);
  EXPECT_EQ(rejects[1].reason, "field 'price': \"cheap\" is not a decimal");
  EXPECT_EQ(rejects[1].raw, R"(["C","cheap",1,true,null,null])");

  EXPECT_EQ(batch.column(static_cast<size_t>(batch.find("sku"))).text(1), "D");
  const Column& price = batch.column(static_cast<size_t>(batch.find("price")));
  EXPECT_EQ(price.type(), Type::kDecimal);
  EXPECT_EQ(price.text(0), "9.5");
  EXPECT_TRUE(price[1].is_null());
  const Column& stock = batch.column(static_cast<size_t>(batch.find("stock")));
  EXPECT_EQ(stock.type(), Type::kInt);
  EXPECT_EQ(stock[1].i, 7);
  EXPECT_EQ(batch.column(static_cast<size_t>(batch.find("active"))).type(), Type::kBool);
  EXPECT_EQ(batch.column(static_cast<size_t>(batch.find("released"))).type(), Type::kDate);
  const Column& attrs = batch.column(static_cast<size_t>(batch.find("attrs")));
  EXPECT_EQ(attrs.type(), Type::kJson);
  EXPECT_EQ(attrs.text(0), R"({"c":1})");
  EXPECT_EQ(attrs.text(1), "[1,2]");
}

TEST(SchemaRows, ALaterPageAddsAFieldAndAMissingListIsAnError) {
  SchemaRowsReader reader("/fields", "/rows");
  simdjson::dom::parser parser;
  Batch batch;
  std::vector<Reject> rejects;
  auto p1 =
      parser.parse(std::string(R"({"fields": [{"name": "a", "type": "int"}], "rows": [[1]]})"));
  ASSERT_TRUE(reader.read(p1.value(), {}, batch, rejects).ok());
  simdjson::dom::parser parser2;
  auto p2 = parser2.parse(std::string(
      R"({"fields": [{"name": "a", "type": "int"}, {"name": "w", "type": "double"}], "rows": [[2, 0.5]]})"));
  ASSERT_TRUE(reader.read(p2.value(), {}, batch, rejects).ok());
  ASSERT_EQ(reader.fields().size(), 2u);
  EXPECT_EQ(reader.fields()[1].type, Type::kDouble);
  EXPECT_EQ(batch.num_rows(), 2u);
  EXPECT_TRUE(batch.column(static_cast<size_t>(batch.find("w")))[0].is_null());

  auto p3 = parser.parse(std::string(R"({"rows": []})"));
  auto bad = reader.read(p3.value(), Origin{"http://x/c", 1, -1}, batch, rejects);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("http://x/c: no field list at /fields"));
}

}  // namespace
}  // namespace ferry::rest
