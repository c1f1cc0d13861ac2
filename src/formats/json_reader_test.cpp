#include "formats/json_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing.h"

namespace ferry {
namespace {

// What a read produced: each record minified with its origin, and the rejects.
struct Collected {
  std::vector<std::string> records;
  std::vector<int64_t> lines;
  std::vector<int64_t> offsets;
  std::vector<Reject> rejects;
};

Status read(JsonReader& reader, std::string_view bytes, JsonLayout layout, std::string_view pointer,
            Collected& out, Origin origin = {"test.json", 1, 0}) {
  return reader.read(
      bytes, layout, pointer, origin,
      [&](simdjson::dom::element record, const Origin& o) {
        out.records.push_back(simdjson::minify(record));
        out.lines.push_back(o.line);
        out.offsets.push_back(o.offset);
        EXPECT_EQ(o.source, "test.json");
      },
      [&](Reject r) { out.rejects.push_back(std::move(r)); });
}

Collected read_lines(std::string_view bytes) {
  JsonReader reader;
  Collected out;
  EXPECT_TRUE(read(reader, bytes, JsonLayout::kLines, "", out).is_ok());
  return out;
}

TEST(JsonReader, LinesBadLineInTheMiddleIsOneReject) {
  auto text = testing::read_file(testing::source_dir() / "tests/data/json/bad_line.jsonl");
  ASSERT_FALSE(text.empty());
  Collected got = read_lines(text);
  EXPECT_EQ(got.records,
            (std::vector<std::string>{R"({"id":1,"name":"alpha"})", R"({"id":2,"name":"bravo"})",
                                      R"({"id":4,"name":"delta"})", R"({"id":5,"name":"echo"})"}));
  EXPECT_EQ(got.lines, (std::vector<int64_t>{1, 2, 5, 7}));
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_EQ(got.rejects[0].origin.line, 3);
  EXPECT_EQ(got.rejects[0].origin.source, "test.json");
  EXPECT_EQ(got.rejects[0].raw, R"({"id":3,"name":"charlie")");
  EXPECT_NE(got.rejects[0].reason.find("invalid JSON"), std::string::npos);
}

TEST(JsonReader, LinesOffsetsAndFirstLineComeFromTheOrigin) {
  JsonReader reader;
  Collected got;
  ASSERT_TRUE(read(reader, "{\"a\":1}\n\n{\"a\":2}\n", JsonLayout::kLines, "", got,
                   Origin{"test.json", 41, 1000})
                  .is_ok());
  EXPECT_EQ(got.lines, (std::vector<int64_t>{41, 43}));
  EXPECT_EQ(got.offsets, (std::vector<int64_t>{1000, 1009}));
}

// Each kind of damage simdjson detects at a different stage: structure (stage 2), string and
// UTF-8 errors (stage 1, which fails the whole batch), bad atoms and numbers.
struct Damage {
  const char* name;
  const char* line;
};

class JsonReaderDamage : public ::testing::TestWithParam<Damage> {};

TEST_P(JsonReaderDamage, OnlyTheBadLineIsRejected) {
  std::string text = "{\"n\":1}\n{\"n\":2}\n";
  text += GetParam().line;
  text += "\n{\"n\":4}\n{\"n\":5}\n";
  Collected got = read_lines(text);
  EXPECT_EQ(got.records,
            (std::vector<std::string>{R"({"n":1})", R"({"n":2})", R"({"n":4})", R"({"n":5})"}));
  EXPECT_EQ(got.lines, (std::vector<int64_t>{1, 2, 4, 5}));
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_EQ(got.rejects[0].origin.line, 3);
  EXPECT_EQ(got.rejects[0].raw, GetParam().line);
}

INSTANTIATE_TEST_SUITE_P(Kinds, JsonReaderDamage,
                         ::testing::Values(Damage{"missing_colon", R"({"n" 3})"},
                                           Damage{"unclosed_object", R"({"n":3)"},
                                           Damage{"unclosed_string", R"({"n":"abc})"},
                                           Damage{"invalid_utf8", "{\"n\":\"\xff\xfe\"}"},
                                           Damage{"bad_atom", R"({"n":tru})"},
                                           Damage{"bad_number", R"({"n":1.2.3})"},
                                           Damage{"not_json", "hello world"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(JsonReader, LinesTrailingContentAfterARecordIsReported) {
  Collected got = read_lines("{\"n\":1}\n{\"n\":2} ]\n{\"n\":3}\n");
  // The record itself is complete and loaded; what follows it on the line is reported.
  EXPECT_EQ(got.records.size(), 3u);
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_EQ(got.rejects[0].origin.line, 2);
  EXPECT_EQ(got.rejects[0].raw, "{\"n\":2} ]");
}

TEST(JsonReader, LinesIncompleteLastLineIsRejected) {
  Collected got = read_lines("{\"n\":1}\r\n{\"n\":2}\r\n{\"n\":[1,");
  EXPECT_EQ(got.records, (std::vector<std::string>{R"({"n":1})", R"({"n":2})"}));
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_EQ(got.rejects[0].origin.line, 3);
  EXPECT_EQ(got.rejects[0].raw, "{\"n\":[1,");
}

TEST(JsonReader, LinesScalarsAreRecordsAndBomIsSkipped) {
  Collected got = read_lines("\xEF\xBB\xBF{\"a\":1}\n42\n\"x\"\n");
  EXPECT_EQ(got.records, (std::vector<std::string>{R"({"a":1})", "42", R"("x")"}));
  EXPECT_TRUE(got.rejects.empty());
}

TEST(JsonReader, LinesManyBatchesWithBadLinesKeepLineNumbers) {
  // ~4 MB: several windows, bad lines in different windows, and a line larger than a window.
  std::string text;
  const int kLines = 40000;
  for (int i = 1; i <= kLines; ++i) {
    if (i == 7 || i == 20001 || i == 39999) {
      text += "{\"i\":" + std::to_string(i) + ",\"bad\":}\n";
    } else if (i == 30000) {
      text += "{\"i\":30000,\"big\":\"" + std::string(1500000, 'x') + "\"}\n";
    } else {
      text += "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(40, 'p') + "\"}\n";
    }
  }
  JsonReader reader;
  std::vector<int64_t> lines;
  std::vector<int64_t> rejected;
  Status st = reader.read(
      text, JsonLayout::kLines, "", Origin{"big.jsonl", 1, 0},
      [&](simdjson::dom::element record, const Origin& o) {
        int64_t i = record["i"].get_int64().value();
        EXPECT_EQ(i, o.line);
        // Offsets stay right across windows.
        EXPECT_EQ(text.compare(static_cast<size_t>(o.offset), 5 + std::to_string(i).size(),
                               "{\"i\":" + std::to_string(i)),
                  0)
            << o.offset;
        lines.push_back(o.line);
      },
      [&](Reject r) { rejected.push_back(r.origin.line); });
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  EXPECT_EQ(lines.size(), static_cast<size_t>(kLines - 3));
  EXPECT_EQ(rejected, (std::vector<int64_t>{7, 20001, 39999}));
  EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end()));
}

TEST(JsonReader, CallbackStatusStopsTheRead) {
  JsonReader reader;
  int seen = 0;
  Status st = reader.read(
      "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", JsonLayout::kLines, "", Origin{},
      [&](simdjson::dom::element, const Origin&) -> Status {
        return ++seen == 2 ? Status(Code::kRejected, "too many") : Status::success();
      },
      [](Reject) {});
  EXPECT_EQ(st.code(), Code::kRejected);
  EXPECT_EQ(seen, 2);
}

TEST(JsonReader, ReaderIsReusableAcrossChunks) {
  JsonReader reader;
  Collected a, b;
  ASSERT_TRUE(
      read(reader, std::string(5000, ' ') + "{\"a\":1}\n", JsonLayout::kLines, "", a).is_ok());
  ASSERT_TRUE(read(reader, "{\"b\":2}", JsonLayout::kLines, "", b).is_ok());
  EXPECT_EQ(a.records, (std::vector<std::string>{R"({"a":1})"}));
  EXPECT_EQ(b.records, (std::vector<std::string>{R"({"b":2})"}));
}

TEST(JsonReader, DocumentTopLevelArrayYieldsEachElement) {
  JsonReader reader;
  Collected got;
  ASSERT_TRUE(
      read(reader, "[{\"a\":1}, {\"a\":2},\n {\"a\":3}]", JsonLayout::kDocument, "", got).is_ok());
  EXPECT_EQ(got.records, (std::vector<std::string>{R"({"a":1})", R"({"a":2})", R"({"a":3})"}));
  EXPECT_EQ(got.lines, (std::vector<int64_t>{1, 2, 3}));
}

TEST(JsonReader, DocumentObjectIsOneRecord) {
  JsonReader reader;
  Collected got;
  ASSERT_TRUE(read(reader, " {\"a\": [1, 2]} ", JsonLayout::kDocument, "", got).is_ok());
  EXPECT_EQ(got.records, (std::vector<std::string>{R"({"a":[1,2]})"}));
}

TEST(JsonReader, DocumentPointerSelectsTheRecords) {
  auto text = testing::read_file(testing::source_dir() / "tests/data/json/page.json");
  ASSERT_FALSE(text.empty());
  JsonReader reader;
  Collected got;
  Status st = read(reader, text, JsonLayout::kDocument, "/data/items", got, {"test.json", 101});
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  ASSERT_EQ(got.records.size(), 3u);
  EXPECT_EQ(got.records[1], R"({"id":2,"customer":{"name":"Bob"}})");
  EXPECT_EQ(got.lines, (std::vector<int64_t>{101, 102, 103}));
  // A pointer at null (an empty page) yields nothing.
  Collected none;
  ASSERT_TRUE(read(reader, text, JsonLayout::kDocument, "/meta/next", none).is_ok());
  EXPECT_TRUE(none.records.empty());
  EXPECT_TRUE(none.rejects.empty());
}

TEST(JsonReader, DocumentMissingPointerIsAnErrorNamingIt) {
  auto text = testing::read_file(testing::source_dir() / "tests/data/json/page.json");
  JsonReader reader;
  Collected got;
  Status st = read(reader, text, JsonLayout::kDocument, "/data/missing", got);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_NE(st.message().find("'/data/missing'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("test.json"), std::string::npos) << st.message();
  EXPECT_TRUE(got.records.empty());

  Status bad = read(reader, text, JsonLayout::kDocument, "data.items", got);
  EXPECT_EQ(bad.code(), Code::kInvalid);
  EXPECT_NE(bad.message().find("not a JSON pointer"), std::string::npos) << bad.message();
}

TEST(JsonReader, DocumentThatDoesNotParseIsOneReject) {
  JsonReader reader;
  Collected got;
  ASSERT_TRUE(read(reader, "[{\"a\":1}, {\"a\":]", JsonLayout::kDocument, "", got).is_ok());
  EXPECT_TRUE(got.records.empty());
  ASSERT_EQ(got.rejects.size(), 1u);
  EXPECT_EQ(got.rejects[0].raw, "[{\"a\":1}, {\"a\":]");
  EXPECT_NE(got.rejects[0].reason.find("invalid JSON document"), std::string::npos);
}

TEST(JsonReader, EmptyInputHasNoRecords) {
  JsonReader reader;
  Collected got;
  ASSERT_TRUE(read(reader, "", JsonLayout::kLines, "", got).is_ok());
  ASSERT_TRUE(read(reader, " \n\n", JsonLayout::kLines, "", got).is_ok());
  ASSERT_TRUE(read(reader, "  ", JsonLayout::kDocument, "", got).is_ok());
  EXPECT_TRUE(got.records.empty());
  EXPECT_TRUE(got.rejects.empty());
}

}  // namespace
}  // namespace ferry
