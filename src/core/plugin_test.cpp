#include <gtest/gtest.h>

#include "core/duration.h"
#include "core/plugin.h"

namespace ferry {
namespace {

using nlohmann::json;

std::vector<OptionDecl> file_options() {
  return {
      {"path", OptionType::kString, "", "File or folder, relative to the project.", true, false},
      {"pattern", OptionType::kString, "*", "Glob of file names in a folder."},
      {"batch_rows", OptionType::kInt, "10000", "Rows per batch."},
      {"header", OptionType::kBool, "true", "First line holds the column names."},
      {"poll", OptionType::kDuration, "30s", "How often to look for new files."},
      {"columns", OptionType::kList, "", "Column names when there is no header."},
      {"types", OptionType::kMap, "", "Column types by name."},
      {"token", OptionType::kString, "", "API token.", false, true},
  };
}

// Problems as "key: message" lines, for compact assertions.
std::vector<std::string> lines(const std::vector<OptionProblem>& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) {
    out.push_back(p.key + ": " + p.message);
  }
  return out;
}

TEST(DidYouMean, TypoAndTransposition) {
  std::vector<std::string> keys = {"path", "pattern", "mode", "primary_key", "table"};
  EXPECT_EQ(did_you_mean("pth", keys), "path");
  EXPECT_EQ(did_you_mean("mdoe", keys), "mode");
  EXPECT_EQ(did_you_mean("tabel", keys), "table");
  EXPECT_EQ(did_you_mean("Pattern", keys), "pattern");
  EXPECT_EQ(did_you_mean("primary", keys), "primary_key");
  EXPECT_EQ(did_you_mean("zzzzzz", keys), "");
  EXPECT_EQ(did_you_mean("x", keys), "");
  EXPECT_EQ(did_you_mean("", keys), "");
}

TEST(ValidateOptions, UnknownKeySuggests) {
  auto problems = validate_options(file_options(), json{{"pth", "data/"}, {"path", "x"}});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "pth");
  EXPECT_EQ(problems[0].message, "unknown key 'pth' (did you mean 'path'?)");
}

TEST(ValidateOptions, UnknownKeyWithoutSuggestion) {
  auto problems = validate_options(file_options(), json{{"path", "x"}, {"colour", "red"}});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message, "unknown key 'colour'");
}

TEST(ValidateOptions, MissingRequired) {
  auto problems = validate_options(file_options(), json::object());
  EXPECT_EQ(lines(problems), std::vector<std::string>{": missing required key 'path'"});
  // `source:` with nothing after it is null in YAML: the same problem, not a type error.
  EXPECT_EQ(lines(validate_options(file_options(), json())), lines(problems));
  auto empty = validate_options(file_options(), json{{"path", nullptr}});
  EXPECT_EQ(lines(empty), std::vector<std::string>{"path: 'path' needs a value"});
}

TEST(ValidateOptions, IgnoredKeysPass) {
  auto problems = validate_options(file_options(), json{{"path", "x"}, {"connection", "files"}},
                                   {"connection"});
  EXPECT_TRUE(problems.empty());
  // An ignored key is still a candidate for suggestions.
  problems =
      validate_options(file_options(), json{{"path", "x"}, {"conection", "files"}}, {"connection"});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message, "unknown key 'conection' (did you mean 'connection'?)");
}

TEST(ValidateOptions, IntAcceptsIntsAndNumericStrings) {
  EXPECT_TRUE(validate_options(file_options(), json{{"path", "x"}, {"batch_rows", 5}}).empty());
  EXPECT_TRUE(validate_options(file_options(), json{{"path", "x"}, {"batch_rows", "500"}}).empty());
  auto problems = validate_options(file_options(), json{{"path", "x"}, {"batch_rows", "many"}});
  EXPECT_EQ(lines(problems),
            std::vector<std::string>{"batch_rows: 'batch_rows' must be an integer, got \"many\""});
  EXPECT_EQ(validate_options(file_options(), json{{"path", "x"}, {"batch_rows", 1.5}}).size(), 1u);
  EXPECT_EQ(
      validate_options(file_options(), json{{"path", "x"}, {"batch_rows", json::array()}}).size(),
      1u);
}

TEST(ValidateOptions, BoolAcceptsBoolsAndTrueFalseStrings) {
  EXPECT_TRUE(validate_options(file_options(), json{{"path", "x"}, {"header", false}}).empty());
  EXPECT_TRUE(validate_options(file_options(), json{{"path", "x"}, {"header", "true"}}).empty());
  EXPECT_EQ(validate_options(file_options(), json{{"path", "x"}, {"header", "yes"}}).size(), 1u);
  EXPECT_EQ(validate_options(file_options(), json{{"path", "x"}, {"header", 1}}).size(), 1u);
}

TEST(ValidateOptions, Durations) {
  for (json ok : {json("30s"), json("5m"), json("1h"), json("250ms"), json("1d"), json(90)}) {
    EXPECT_TRUE(validate_options(file_options(), json{{"path", "x"}, {"poll", ok}}).empty())
        << ok.dump();
  }
  for (json bad : {json("5 minutes"), json("-5s"), json(-3), json(""), json(true)}) {
    EXPECT_EQ(validate_options(file_options(), json{{"path", "x"}, {"poll", bad}}).size(), 1u)
        << bad.dump();
  }
}

TEST(ValidateOptions, ListsMapsAndStrings) {
  EXPECT_TRUE(
      validate_options(file_options(), json{{"path", "x"}, {"columns", {"a", "b"}}}).empty());
  EXPECT_EQ(validate_options(file_options(), json{{"path", "x"}, {"columns", "a,b"}}).size(), 1u);
  EXPECT_TRUE(
      validate_options(file_options(), json{{"path", "x"}, {"types", {{"a", "int"}}}}).empty());
  EXPECT_EQ(validate_options(file_options(), json{{"path", "x"}, {"types", json::array()}}).size(),
            1u);
  // Scalars are fine as strings (a path named 2024), structures are not.
  EXPECT_TRUE(validate_options(file_options(), json{{"path", 2024}}).empty());
  EXPECT_EQ(validate_options(file_options(), json{{"path", {{"a", 1}}}}).size(), 1u);
}

TEST(ValidateOptions, UnresolvedValuesAreNotTypeChecked) {
  EXPECT_TRUE(
      validate_options(file_options(), json{{"path", "x"}, {"batch_rows", "{{rows}}"}}).empty());
  EXPECT_TRUE(
      validate_options(file_options(), json{{"path", "x"}, {"header", "${HEADER}"}}).empty());
  EXPECT_TRUE(is_unresolved(json("a{{b}}")));
  EXPECT_FALSE(is_unresolved(json("plain")));
  EXPECT_FALSE(is_unresolved(json(3)));
}

TEST(ValidateOptions, SecretValueNotEchoed) {
  auto problems = validate_options(file_options(), json{{"path", "x"}, {"token", {"hunter22"}}});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message.find("hunter22"), std::string::npos) << problems[0].message;
}

TEST(ValidateOptions, NotAnObject) {
  auto problems = validate_options(file_options(), json("data/"));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].key, "");
  EXPECT_NE(problems[0].message.find("expected a map"), std::string::npos);
}

TEST(ValidateOptions, ReportsEveryProblem) {
  auto problems = validate_options(file_options(),
                                   json{{"pth", "x"}, {"batch_rows", "x"}, {"header", "maybe"}});
  EXPECT_EQ(problems.size(), 4u);  // unknown, two types, missing path
}

TEST(Duration, Parses) {
  EXPECT_DOUBLE_EQ(parse_duration_seconds("30s").value(), 30);
  EXPECT_DOUBLE_EQ(parse_duration_seconds("5m").value(), 300);
  EXPECT_DOUBLE_EQ(parse_duration_seconds("1h").value(), 3600);
  EXPECT_DOUBLE_EQ(parse_duration_seconds("250ms").value(), 0.25);
  EXPECT_DOUBLE_EQ(parse_duration_seconds("1d").value(), 86400);
  EXPECT_DOUBLE_EQ(parse_duration_seconds("1h30m").value(), 5400);
  EXPECT_DOUBLE_EQ(parse_duration_seconds("1.5h").value(), 5400);
  EXPECT_DOUBLE_EQ(parse_duration_seconds("90").value(), 90);
  EXPECT_DOUBLE_EQ(parse_duration_seconds(" 10m ").value(), 600);
}

TEST(Duration, Rejects) {
  for (const char* bad : {"", "s", "-5s", "+5s", "5x", "5 m", "1h30", "nan", "inf", "5mm"}) {
    auto r = parse_duration_seconds(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalid);
    }
  }
  EXPECT_NE(parse_duration_seconds("5x").status().message().find("'5x'"), std::string::npos);
}

PluginDecl http_decl() {
  PluginDecl p;
  p.kind = "http";
  p.description = "REST APIs over HTTP.";
  p.is_source = true;
  p.connection_options = {
      {"base_url", OptionType::kString, "", "Prefix of every request URL.", true},
      {"token", OptionType::kString, "", "Bearer token.", false, true},
  };
  p.source_options = {{"path", OptionType::kString, "", "Request path | query.", true},
                      {"page_size", OptionType::kInt, "100", "Records per page."}};
  return p;
}

TEST(RenderHelp, TableHasEveryOption) {
  std::string help = render_help(http_decl());
  EXPECT_NE(help.find("http (source): REST APIs over HTTP."), std::string::npos) << help;
  EXPECT_NE(help.find("NAME"), std::string::npos);
  EXPECT_NE(help.find("DESCRIPTION"), std::string::npos);
  EXPECT_NE(help.find("base_url"), std::string::npos);
  EXPECT_NE(help.find("Source options"), std::string::npos);
  EXPECT_EQ(help.find("Target options"), std::string::npos);  // not a destination
  EXPECT_NE(help.find("page_size  int"), std::string::npos) << help;
  EXPECT_NE(help.find("100"), std::string::npos);
  EXPECT_NE(help.find("${"), std::string::npos);  // says where secrets come from
}

TEST(RenderMarkdown, OneSectionPerKindSorted) {
  PluginDecl sqlite;
  sqlite.kind = "sqlite";
  sqlite.description = "Embedded warehouse.";
  sqlite.is_destination = true;
  sqlite.connection_options = {{"path", OptionType::kString, "warehouse.db", "Database file."}};
  std::string md = render_markdown({sqlite, http_decl()});
  size_t http = md.find("### <a id=\"kind-http\"></a>`http`");
  size_t sq = md.find("### <a id=\"kind-sqlite\"></a>`sqlite`");
  ASSERT_NE(http, std::string::npos) << md;
  ASSERT_NE(sq, std::string::npos) << md;
  EXPECT_LT(http, sq);
  EXPECT_NE(md.find("| `base_url` | string |  | yes | Prefix of every request URL. |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `path` | string | `warehouse.db` |  | Database file. |"), std::string::npos);
  EXPECT_NE(md.find("Request path \\| query."), std::string::npos);  // pipes escaped
  EXPECT_NE(md.find("Secret: give it as `${ENV_VAR}`."), std::string::npos);
}

TEST(OptionTypeName, Names) {
  EXPECT_STREQ(option_type_name(OptionType::kDuration), "duration");
  EXPECT_STREQ(option_type_name(OptionType::kMap), "map");
}

}  // namespace
}  // namespace ferry
