#include "formats/csv_reader.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "formats/test_gzip.h"
#include "testing.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using ::ferry::testing::source_dir;
using ::ferry::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Row = std::vector<std::optional<std::string>>;  // nullopt: a null cell

// Everything a reader produced, gathered over all batches.
struct Parsed {
  Status status;
  std::vector<std::string> columns;
  std::vector<std::string> raw_columns;
  std::vector<Row> rows;
  std::vector<std::vector<Type>> types;  // per row, per column
  std::vector<int64_t> lines;
  std::vector<Reject> rejects;
  std::vector<size_t> batch_sizes;
  int64_t bytes_read = 0;
  int64_t line = 0;
};

Parsed parse_stream(std::unique_ptr<InputStream> in, CsvOptions opts,
                    const std::string& name = "test.csv") {
  Parsed out;
  CsvReader reader(std::move(in), opts, name);
  out.status = reader.open();
  if (!out.status.is_ok()) return out;
  out.columns = reader.columns();
  out.raw_columns = reader.raw_columns();
  Batch batch;
  for (;;) {
    auto more = reader.next(batch, out.rejects);
    if (!more.ok()) {
      out.status = more.status();
      return out;
    }
    if (!more.value()) {
      EXPECT_EQ(batch.num_rows(), 0u);
      break;
    }
    EXPECT_EQ(batch.origin_source(), name);
    EXPECT_EQ(batch.row_lines().size(), batch.num_rows());
    out.batch_sizes.push_back(batch.num_rows());
    for (size_t r = 0; r < batch.num_rows(); ++r) {
      Row row;
      std::vector<Type> types;
      for (const std::string& c : out.columns) {
        int i = batch.find(c);
        EXPECT_GE(i, 0) << c;
        const Column& col = batch.column(static_cast<size_t>(i));
        const Cell& cell = col[r];
        row.push_back(cell.is_null() ? std::nullopt
                                     : std::optional<std::string>(std::string(col.text(cell))));
        types.push_back(cell.type);
      }
      out.rows.push_back(std::move(row));
      out.types.push_back(std::move(types));
      out.lines.push_back(batch.row_lines()[r]);
    }
  }
  out.bytes_read = reader.bytes_read();
  out.line = reader.line();
  return out;
}

Parsed parse(std::string data, CsvOptions opts = {}) {
  return parse_stream(open_memory(std::move(data)), std::move(opts));
}

CsvOptions text_only() {
  CsvOptions o;
  o.infer_types = false;
  return o;
}

Row row(std::initializer_list<const char*> cells) {
  Row r;
  for (const char* c : cells)
    r.push_back(c ? std::optional<std::string>(c) : std::nullopt);
  return r;
}

using ::ferry::testing::gzip;

// ---------------------------------------------------------------------------------------
// csv-spectrum: every case of the public suite, found by listing its directory.

fs::path spectrum_dir() {
  return source_dir() / "tests" / "node_modules" / "csv-spectrum";
}

std::vector<std::string> spectrum_cases() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(spectrum_dir() / "csvs", ec))
    if (e.path().extension() == ".csv") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class CsvSpectrum : public ::testing::TestWithParam<std::string> {};

TEST_P(CsvSpectrum, MatchesExpectedJson) {
  const std::string name = GetParam();
  std::string csv = ::ferry::testing::read_file(spectrum_dir() / "csvs" / (name + ".csv"));
  std::string json_text = ::ferry::testing::read_file(spectrum_dir() / "json" / (name + ".json"));
  ASSERT_FALSE(json_text.empty()) << "missing json/" << name << ".json";
  nlohmann::json expected = nlohmann::json::parse(json_text);
  ASSERT_TRUE(expected.is_array());

  // Also through tiny buffers, so every record crosses a buffer boundary somewhere.
  for (size_t buffer : {size_t{1} << 20, size_t{1}, size_t{2}, size_t{3}, size_t{7}}) {
    SCOPED_TRACE("buffer_bytes=" + std::to_string(buffer));
    CsvOptions opts = text_only();
    opts.buffer_bytes = buffer;
    Parsed p = parse(csv, opts);
    ASSERT_TRUE(p.status.is_ok()) << p.status.to_string();
    EXPECT_TRUE(p.rejects.empty()) << p.rejects.front().reason;
    ASSERT_EQ(p.rows.size(), expected.size());
    for (size_t r = 0; r < p.rows.size(); ++r) {
      const nlohmann::json& obj = expected[r];
      ASSERT_EQ(obj.size(), p.raw_columns.size()) << "record " << r;
      for (size_t c = 0; c < p.raw_columns.size(); ++c) {
        const std::string& key = p.raw_columns[c];
        ASSERT_TRUE(obj.contains(key)) << "record " << r << " has no field '" << key << "'";
        ASSERT_TRUE(p.rows[r][c].has_value()) << "record " << r << " field " << key;
        EXPECT_EQ(*p.rows[r][c], obj[key].get<std::string>()) << "record " << r << " field " << key;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllCases, CsvSpectrum, ::testing::ValuesIn(spectrum_cases()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(CsvSpectrumCorpus, IsInstalled) {
  // The parameterised suite above is silently empty without the corpus: fail loudly.
  EXPECT_TRUE(fs::is_directory(spectrum_dir() / "csvs"))
      << spectrum_dir() << " is missing; run `make test-deps`";
  EXPECT_GE(spectrum_cases().size(), 10u);
}

// ---------------------------------------------------------------------------------------
// RFC 4180, section 2, rule by rule.

TEST(CsvRfc4180, Rule1RecordsEndWithCrlf) {
  Parsed p = parse("a,b\r\naaa,bbb\r\nzzz,yyy\r\n", text_only());
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.columns, ElementsAre("a", "b"));
  EXPECT_THAT(p.rows, ElementsAre(row({"aaa", "bbb"}), row({"zzz", "yyy"})));
  EXPECT_THAT(p.lines, ElementsAre(2, 3));
}

TEST(CsvRfc4180, Rule2LastRecordMayLackALineBreak) {
  Parsed with = parse("a,b\r\naaa,bbb\r\nzzz,yyy\r\n", text_only());
  Parsed without = parse("a,b\r\naaa,bbb\r\nzzz,yyy", text_only());
  ASSERT_TRUE(without.status.is_ok());
  EXPECT_EQ(without.rows, with.rows);
  EXPECT_THAT(without.rows, ElementsAre(row({"aaa", "bbb"}), row({"zzz", "yyy"})));
  EXPECT_EQ(without.line, 3);
}

TEST(CsvRfc4180, Rule3HeaderIsOptional) {
  CsvOptions opts = text_only();
  opts.header = false;
  Parsed p = parse("aaa,bbb,ccc\nzzz,yyy,xxx\n", opts);
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.columns, ElementsAre("col_1", "col_2", "col_3"));
  EXPECT_THAT(p.rows, ElementsAre(row({"aaa", "bbb", "ccc"}), row({"zzz", "yyy", "xxx"})));
  EXPECT_THAT(p.lines, ElementsAre(1, 2));
}

TEST(CsvRfc4180, Rule4SpacesArePartOfAFieldAndNoTrailingComma) {
  Parsed p = parse("h1,h2,h3\n aaa , bbb,ccc \n", text_only());
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.rows, ElementsAre(row({" aaa ", " bbb", "ccc "})));
  // A trailing comma is one more (empty) field, so the record is ragged.
  Parsed ragged = parse("h1,h2,h3\naaa,bbb,ccc,\n", text_only());
  EXPECT_TRUE(ragged.rows.empty());
  ASSERT_EQ(ragged.rejects.size(), 1u);
  EXPECT_EQ(ragged.rejects[0].reason, "expected 3 fields, found 4");
}

TEST(CsvRfc4180, Rule5QuotedAndUnquotedFieldsAreTheSame) {
  Parsed p = parse("a,b,c\n\"aaa\",\"bbb\",\"ccc\"\nzzz,yyy,xxx\n", text_only());
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.rows, ElementsAre(row({"aaa", "bbb", "ccc"}), row({"zzz", "yyy", "xxx"})));
}

TEST(CsvRfc4180, Rule6QuotedFieldsHoldLineBreaksQuotesAndCommas) {
  Parsed p = parse("a,b,c\r\n\"aaa\",\"b\r\nbb\",\"c,c\"\"c\"\r\nzzz,yyy,xxx\r\n", text_only());
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.rows, ElementsAre(row({"aaa", "b\r\nbb", "c,c\"c"}), row({"zzz", "yyy", "xxx"})));
  EXPECT_THAT(p.lines, ElementsAre(2, 4));
}

TEST(CsvRfc4180, Rule7DoubledQuoteEscapesAQuote) {
  Parsed p = parse("a,b,c\n\"aaa\",\"b\"\"bb\",\"\"\"\"\n", text_only());
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.rows, ElementsAre(row({"aaa", "b\"bb", "\""})));
}

// ---------------------------------------------------------------------------------------
// Encodings and line endings.

TEST(CsvReader, Utf8BomIsStripped) {
  Parsed p = parse("\xEF\xBB\xBFid,name\n1,caf\xC3\xA9\n", text_only());
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.raw_columns, ElementsAre("id", "name"));
  EXPECT_THAT(p.columns, ElementsAre("id", "name"));
  EXPECT_THAT(p.rows, ElementsAre(row({"1", "caf\xC3\xA9"})));
  // A BOM in the middle of the data is data.
  Parsed mid = parse("a\n\xEF\xBB\xBFx\n", text_only());
  EXPECT_THAT(mid.rows, ElementsAre(row({"\xEF\xBB\xBFx"})));
}

TEST(CsvReader, CrlfLfAndLoneCrLineEndings) {
  for (const char* eol : {"\n", "\r\n", "\r"}) {
    SCOPED_TRACE(::testing::PrintToString(eol));
    std::string e = eol;
    Parsed p = parse("a,b" + e + "1,x" + e + e + "2,\"y" + e + "z\"" + e + "3,w", text_only());
    ASSERT_TRUE(p.status.is_ok());
    EXPECT_THAT(p.rows,
                ElementsAre(row({"1", "x"}), row({"2", ("y" + e + "z").c_str()}), row({"3", "w"})));
    EXPECT_THAT(p.lines, ElementsAre(2, 4, 6));
    EXPECT_EQ(p.line, 6);
  }
}

TEST(CsvReader, BlankLinesAreSkippedButCounted) {
  Parsed p = parse("\n\na,b\n\n1,2\n\r\n\n3,4\n\n", text_only());
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.columns, ElementsAre("a", "b"));
  EXPECT_THAT(p.rows, ElementsAre(row({"1", "2"}), row({"3", "4"})));
  EXPECT_THAT(p.lines, ElementsAre(5, 8));
  EXPECT_TRUE(p.rejects.empty());
}

// ---------------------------------------------------------------------------------------
// Gzip.

TEST(CsvReader, ReadsAGzipFile) {
  TempDir dir;
  auto path = dir.write("orders.csv.gz", gzip("id,item\n1,\"apple, red\"\n2,pear\n"));
  auto in = open_file(path.string());
  ASSERT_TRUE(in.ok());
  Parsed p = parse_stream(std::move(*in), {}, path.string());
  ASSERT_TRUE(p.status.is_ok()) << p.status.to_string();
  EXPECT_THAT(p.rows, ElementsAre(row({"1", "apple, red"}), row({"2", "pear"})));
  EXPECT_EQ(p.types[0][0], Type::kInt);
}

TEST(CsvReader, ReadsAMultiMemberGzipSplitInsideAQuotedField) {
  TempDir dir;
  std::string part1 = "id,note\n1,one\n2,\"split ", part2 = "across\nmembers\"\n3,three\n";
  auto path = dir.write("multi.csv.gz", gzip(part1) + gzip(part2));
  auto in = open_file(path.string());
  ASSERT_TRUE(in.ok());
  Parsed p = parse_stream(std::move(*in), {}, path.string());
  ASSERT_TRUE(p.status.is_ok()) << p.status.to_string();
  EXPECT_THAT(p.rows, ElementsAre(row({"1", "one"}), row({"2", "split across\nmembers"}),
                                  row({"3", "three"})));
  EXPECT_THAT(p.lines, ElementsAre(2, 3, 5));
}

TEST(CsvReader, CorruptGzipIsAnErrorNamingTheFile) {
  TempDir dir;
  std::string rows = "id,v\n";
  for (int i = 0; i < 200000; ++i)
    rows += std::to_string(i) + "," + std::to_string(i * 31 % 1000) + "\n";
  std::string gz = gzip(rows);
  auto path = dir.write("broken.csv.gz", gz.substr(0, gz.size() / 2));
  auto in = open_file(path.string());
  ASSERT_TRUE(in.ok());
  Parsed p = parse_stream(std::move(*in), {}, path.string());
  ASSERT_FALSE(p.status.is_ok());
  EXPECT_EQ(p.status.code(), Code::kInvalid);
  EXPECT_THAT(p.status.message(), HasSubstr(path.string()));
  EXPECT_THAT(p.status.message(), HasSubstr("truncated"));
}

// An input that fails after `fail_after` bytes and has no name of its own.
class FailingStream final : public InputStream {
 public:
  FailingStream(std::string data, size_t fail_after) : data_(std::move(data)), fail_(fail_after) {}
  Result<size_t> read(char* buf, size_t n) override {
    if (pos_ >= fail_) return Status::io("connection reset by peer");
    size_t k = std::min({n, fail_ - pos_, data_.size() - pos_});
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t fail_;
  size_t pos_ = 0;
};

TEST(CsvReader, InputErrorsAreReturnedWithTheSourceName) {
  std::string data = "a,b\n";
  for (int i = 0; i < 1000; ++i)
    data += "1,2\n";
  CsvOptions opts;
  opts.buffer_bytes = 64;
  Parsed p = parse_stream(std::make_unique<FailingStream>(data, 2000), opts, "https://x/y.csv");
  ASSERT_FALSE(p.status.is_ok());
  EXPECT_EQ(p.status.code(), Code::kIo);
  EXPECT_THAT(p.status.message(), HasSubstr("https://x/y.csv"));
  EXPECT_THAT(p.status.message(), HasSubstr("connection reset"));
}

// ---------------------------------------------------------------------------------------
// Rejects.

TEST(CsvReader, RaggedRowsAreRejectedWithTheirLineAndOffset) {
  const std::string data =
      "a,b,c\n"           // 1
      "1,2,3\n"           // 2
      "4,5\n"             // 3  reject
      "6,\"multi\n"       // 4
      "line\",7\n"        // 5
      "8,9,10,11\n"       // 6  reject
      "12,13,14\n"        // 7
      "\"x\r\ny\",1\r\n"  // 8-9  reject (starts on 8)
      "15,16,17\n";       // 10
  Parsed p = parse(data, text_only());
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.rows, ElementsAre(row({"1", "2", "3"}), row({"6", "multi\nline", "7"}),
                                  row({"12", "13", "14"}), row({"15", "16", "17"})));
  EXPECT_THAT(p.lines, ElementsAre(2, 4, 7, 10));
  ASSERT_EQ(p.rejects.size(), 3u);
  EXPECT_EQ(p.rejects[0].origin.line, 3);
  EXPECT_EQ(p.rejects[0].reason, "expected 3 fields, found 2");
  EXPECT_EQ(p.rejects[0].raw, "4,5");
  EXPECT_EQ(p.rejects[0].origin.offset, static_cast<int64_t>(data.find("4,5")));
  EXPECT_EQ(p.rejects[0].origin.source, "test.csv");
  EXPECT_EQ(p.rejects[1].origin.line, 6);
  EXPECT_EQ(p.rejects[1].reason, "expected 3 fields, found 4");
  EXPECT_EQ(p.rejects[1].raw, "8,9,10,11");
  EXPECT_EQ(p.rejects[1].origin.offset, static_cast<int64_t>(data.find("8,9")));
  EXPECT_EQ(p.rejects[2].origin.line, 8);
  EXPECT_EQ(p.rejects[2].reason, "expected 3 fields, found 2");
  EXPECT_EQ(p.rejects[2].raw, "\"x\r\ny\",1");
  EXPECT_EQ(p.rejects[2].origin.offset, static_cast<int64_t>(data.find("\"x")));
}

TEST(CsvReader, UnterminatedQuoteAtEndOfInputIsARejectWithAClearReason) {
  Parsed p = parse("a,b\n1,2\n3,\"open\n4,5\n", text_only());
  ASSERT_TRUE(p.status.is_ok()) << p.status.to_string();
  EXPECT_THAT(p.rows, ElementsAre(row({"1", "2"})));
  ASSERT_EQ(p.rejects.size(), 1u);
  EXPECT_EQ(p.rejects[0].origin.line, 3);
  EXPECT_EQ(p.rejects[0].origin.offset, 8);
  EXPECT_THAT(p.rejects[0].reason, HasSubstr("unterminated quoted field 2"));
  EXPECT_EQ(p.rejects[0].raw, "3,\"open\n4,5\n");
}

TEST(CsvReader, UnterminatedQuoteInTheHeaderIsAnError) {
  Parsed p = parse("a,\"b\n1,2\n");
  ASSERT_FALSE(p.status.is_ok());
  EXPECT_EQ(p.status.code(), Code::kInvalid);
  EXPECT_THAT(p.status.message(), HasSubstr("unterminated"));
}

TEST(CsvReader, RecordLongerThanMaxRecordBytesIsAnError) {
  CsvOptions opts;
  opts.buffer_bytes = 256;
  opts.max_record_bytes = 4096;
  Parsed p = parse("a,b\n1,\"stray quote\n" + std::string(100000, 'x') + "\n", opts);
  ASSERT_FALSE(p.status.is_ok());
  EXPECT_THAT(p.status.message(), HasSubstr("max_record_bytes"));
  EXPECT_THAT(p.status.message(), HasSubstr("line 2"));
  // Below the limit the same stray quote is a reject.
  opts.max_record_bytes = 1 << 20;
  Parsed ok = parse("a,b\n1,\"stray quote\n" + std::string(100000, 'x') + "\n", opts);
  ASSERT_TRUE(ok.status.is_ok());
  EXPECT_EQ(ok.rejects.size(), 1u);
}

TEST(CsvReader, RejectRawTextIsTruncatedTo64KiB) {
  std::string big(200000, 'y');
  Parsed p = parse("a,b\n" + big + "\n1,2\n", text_only());
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.rows, ElementsAre(row({"1", "2"})));
  ASSERT_EQ(p.rejects.size(), 1u);
  EXPECT_EQ(p.rejects[0].raw.size(), 64u << 10);
  EXPECT_EQ(p.rejects[0].raw, big.substr(0, 64 << 10));
}

TEST(CsvReader, ABatchOfRejectsEndsTheCallEarly) {
  std::string data = "a,b\n";
  for (int i = 0; i < 10; ++i)
    data += "only_one\n";
  data += "1,2\n";
  CsvOptions opts;
  opts.batch_rows = 4;
  CsvReader reader(open_memory(data), opts, "bad.csv");
  ASSERT_TRUE(reader.open().is_ok());
  Batch batch;
  std::vector<Reject> rejects;
  auto more = reader.next(batch, rejects);
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(more.value());  // not exhausted yet
  EXPECT_EQ(batch.num_rows(), 0u);
  EXPECT_EQ(rejects.size(), 4u);
  Parsed all = parse(data, opts);
  EXPECT_EQ(all.rejects.size(), 10u);
  EXPECT_THAT(all.rows, ElementsAre(row({"1", "2"})));
  EXPECT_EQ(all.lines, std::vector<int64_t>{12});
}

// ---------------------------------------------------------------------------------------
// Options.

TEST(CsvReader, SemicolonAndTabDelimiters) {
  for (char d : {';', '\t'}) {
    CsvOptions opts = text_only();
    opts.delimiter = d;
    std::string s(1, d);
    Parsed p = parse("name" + s + "amount\n\"Doe" + s + " J\"" + s + "1,5\nx,y" + s + "2\n", opts);
    ASSERT_TRUE(p.status.is_ok());
    EXPECT_THAT(p.columns, ElementsAre("name", "amount"));
    EXPECT_THAT(p.rows, ElementsAre(row({("Doe" + s + " J").c_str(), "1,5"}), row({"x,y", "2"})));
  }
}

TEST(CsvReader, CustomQuoteCharacter) {
  CsvOptions opts = text_only();
  opts.quote = '\'';
  Parsed p = parse("a,b\n'x,''y''',\"z\"\n", opts);
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.rows, ElementsAre(row({"x,'y'", "\"z\""})));
}

TEST(CsvReader, NullStringAppliesOnlyToUnquotedFields) {
  CsvOptions opts;
  opts.null_string = "NULL";
  Parsed p = parse("a,b\nNULL,\"NULL\"\n,\"\"\nnull,NULLS\n", opts);
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.rows, ElementsAre(row({nullptr, "NULL"}), row({"", ""}), row({"null", "NULLS"})));
  EXPECT_EQ(p.types[0][0], Type::kNull);
  EXPECT_EQ(p.types[0][1], Type::kText);
  // The default null string is "": an unquoted empty field is null, a quoted one is not.
  Parsed d = parse("a,b\n,\"\"\n");
  EXPECT_THAT(d.rows, ElementsAre(row({nullptr, ""})));
  // Null also without type inference.
  opts.infer_types = false;
  Parsed t = parse("a\nNULL\n", opts);
  EXPECT_THAT(t.rows, ElementsAre(row({nullptr})));
}

TEST(CsvReader, NoHeaderWithNamedColumns) {
  CsvOptions opts = text_only();
  opts.header = false;
  opts.columns = {"Id", "Full Name"};
  Parsed p = parse("1,Ann\n2,Bob,extra\n3,Cy\n", opts);
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.raw_columns, ElementsAre("Id", "Full Name"));
  EXPECT_THAT(p.columns, ElementsAre("id", "full_name"));
  EXPECT_THAT(p.rows, ElementsAre(row({"1", "Ann"}), row({"3", "Cy"})));
  EXPECT_THAT(p.lines, ElementsAre(1, 3));
  ASSERT_EQ(p.rejects.size(), 1u);
  EXPECT_EQ(p.rejects[0].origin.line, 2);
}

TEST(CsvReader, NoHeaderCountsTheFirstRecordWithoutConsumingIt) {
  CsvOptions opts = text_only();
  opts.header = false;
  opts.buffer_bytes = 3;
  Parsed p = parse("\n\"a\nb\",2,3\n4,5,6", opts);
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.columns, ElementsAre("col_1", "col_2", "col_3"));
  EXPECT_THAT(p.rows, ElementsAre(row({"a\nb", "2", "3"}), row({"4", "5", "6"})));
  EXPECT_THAT(p.lines, ElementsAre(2, 4));
}

TEST(CsvReader, ConfiguredColumnsReplaceTheHeader) {
  CsvOptions opts = text_only();
  opts.columns = {"x", "y"};
  Parsed p = parse("a,b\n1,2\n", opts);
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.columns, ElementsAre("x", "y"));
  EXPECT_THAT(p.rows, ElementsAre(row({"1", "2"})));
  opts.columns = {"x"};
  Parsed bad = parse("a,b\n1,2\n", opts);
  ASSERT_FALSE(bad.status.is_ok());
  EXPECT_EQ(bad.status.code(), Code::kInvalid);
}

TEST(CsvReader, InvalidOptionsAreRejected) {
  CsvOptions same;
  same.quote = ',';
  EXPECT_EQ(parse("a\n", same).status.code(), Code::kInvalid);
  CsvOptions newline;
  newline.delimiter = '\n';
  EXPECT_EQ(parse("a\n", newline).status.code(), Code::kInvalid);
  CsvOptions zero;
  zero.batch_rows = 0;
  EXPECT_EQ(parse("a\n", zero).status.code(), Code::kInvalid);
}

// ---------------------------------------------------------------------------------------
// Header names, inference, leniency.

TEST(CsvReader, HeaderNamesAreSanitisedAndMadeUnique) {
  Parsed p = parse("Name,name,NAME ,First Name,,\"\",a_2,a,a\n1,2,3,4,5,6,7,8,9\n");
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.raw_columns,
              ElementsAre("Name", "name", "NAME ", "First Name", "", "", "a_2", "a", "a"));
  EXPECT_THAT(p.columns, ElementsAre("name", "name_2", "name_3", "first_name", "_col", "_col_2",
                                     "a_2", "a", "a_3"));
  EXPECT_EQ(p.rows.size(), 1u);
}

TEST(CsvReader, FieldsAreTypedByInferenceQuotedOrNot) {
  Parsed p = parse(
      "i,qi,d,b,dt,ts,lead,t\n"
      "42,\"42\",1.5,true,2024-01-02,2024-01-02T03:04:05Z,007,hello\n");
  ASSERT_TRUE(p.status.is_ok());
  ASSERT_EQ(p.types.size(), 1u);
  EXPECT_THAT(p.types[0], ElementsAre(Type::kInt, Type::kInt, Type::kDouble, Type::kBool,
                                      Type::kDate, Type::kTimestamp, Type::kText, Type::kText));
  EXPECT_EQ(*p.rows[0][6], "007");
}

TEST(CsvReader, WithoutInferenceEverythingIsText) {
  Parsed p = parse("i,b\n42,true\n", text_only());
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.types[0], ElementsAre(Type::kText, Type::kText));
}

TEST(CsvReader, InferredValuesAreParsed) {
  CsvReader reader(open_memory("id,amount\n-7,2.25\n"), {}, "v.csv");
  ASSERT_TRUE(reader.open().is_ok());
  Batch batch;
  std::vector<Reject> rejects;
  auto more = reader.next(batch, rejects);
  ASSERT_TRUE(more.ok() && more.value());
  EXPECT_EQ(batch.column(static_cast<size_t>(batch.find("id")))[0].i, -7);
  EXPECT_DOUBLE_EQ(batch.column(static_cast<size_t>(batch.find("amount")))[0].d, 2.25);
  EXPECT_EQ(batch.column(static_cast<size_t>(batch.find("id"))).type(), Type::kInt);
}

TEST(CsvReader, StrayQuotesAreKeptLeniently) {
  Parsed p = parse("a,b,c\n5\"6,x\"y\"z,\"ab\"cd\"e\n", text_only());
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.rows, ElementsAre(row({"5\"6", "x\"y\"z", "abcd\"e"})));
  EXPECT_TRUE(p.rejects.empty());
}

TEST(CsvReader, EmptyInputHasNoColumnsAndIsNotAnError) {
  for (std::string data : {std::string(""), std::string("\n\n\r\n"), std::string("\xEF\xBB\xBF")}) {
    Parsed p = parse(data);
    ASSERT_TRUE(p.status.is_ok()) << p.status.to_string();
    EXPECT_TRUE(p.columns.empty());
    EXPECT_TRUE(p.rows.empty());
    EXPECT_TRUE(p.rejects.empty());
    EXPECT_TRUE(p.batch_sizes.empty());
  }
  Parsed header_only = parse("a,b\n");
  ASSERT_TRUE(header_only.status.is_ok());
  EXPECT_THAT(header_only.columns, ElementsAre("a", "b"));
  EXPECT_TRUE(header_only.rows.empty());
}

TEST(CsvReader, TrailingDelimiterAtEndOfInputIsAnEmptyField) {
  Parsed p = parse("a,b\n1,", text_only());
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_THAT(p.rows, ElementsAre(row({"1", nullptr})));
}

TEST(CsvReader, CountsBytesAndLines) {
  std::string data = "a,b\n1,2\n\"3\n\",4\n";
  Parsed p = parse(data);
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_EQ(p.bytes_read, static_cast<int64_t>(data.size()));
  EXPECT_EQ(p.line, 4);
}

TEST(CsvReader, ReusedBatchIsClearedBetweenCalls) {
  CsvOptions opts;
  opts.batch_rows = 2;
  CsvReader reader(open_memory("a\n1\n2\n3\n"), opts, "r.csv");
  ASSERT_TRUE(reader.open().is_ok());
  Batch batch;
  std::vector<Reject> rejects;
  std::vector<size_t> sizes;
  for (;;) {
    auto more = reader.next(batch, rejects);
    ASSERT_TRUE(more.ok());
    if (!more.value()) break;
    sizes.push_back(batch.num_rows());
    EXPECT_EQ(batch.column(0).size(), batch.num_rows());
  }
  EXPECT_THAT(sizes, ElementsAre(2u, 1u));
}

// ---------------------------------------------------------------------------------------
// Buffer boundaries and volume.

TEST(CsvReader, RecordsSpanningTheBufferBoundaryParseTheSame) {
  const std::string data =
      "\xEF\xBB\xBFid,text,n\r\n"
      "1,plain,10\r\n"
      "2,\"quoted, with comma\",20\r\n"
      "3,\"doubled \"\"quotes\"\" here\",30\r\n"
      "\r\n"
      "4,\"multi\r\nline\nfield\",40\n"
      "5,ragged\n"
      "6,\"\",\n"
      "7,caf\xC3\xA9 \xE2\x82\xAC,70\r"
      "8,\"x\"\"\",80\r\n"
      "9,a\"b,90\n"
      "10,\"end\",100";
  CsvOptions big;
  Parsed want = parse(data, big);
  ASSERT_TRUE(want.status.is_ok());
  ASSERT_EQ(want.rows.size(), 9u);
  EXPECT_EQ(*want.rows[2][1], "doubled \"quotes\" here");
  EXPECT_EQ(*want.rows[3][1], "multi\r\nline\nfield");
  EXPECT_THAT(want.lines, ElementsAre(2, 3, 4, 6, 10, 11, 12, 13, 14));
  ASSERT_EQ(want.rejects.size(), 1u);
  for (size_t buffer = 1; buffer <= 48; ++buffer) {
    SCOPED_TRACE("buffer_bytes=" + std::to_string(buffer));
    CsvOptions opts;
    opts.buffer_bytes = buffer;
    Parsed got = parse(data, opts);
    ASSERT_TRUE(got.status.is_ok()) << got.status.to_string();
    EXPECT_EQ(got.columns, want.columns);
    EXPECT_EQ(got.rows, want.rows);
    EXPECT_EQ(got.types, want.types);
    EXPECT_EQ(got.lines, want.lines);
    ASSERT_EQ(got.rejects.size(), 1u);
    EXPECT_EQ(got.rejects[0].origin.line, want.rejects[0].origin.line);
    EXPECT_EQ(got.rejects[0].origin.offset, want.rejects[0].origin.offset);
    EXPECT_EQ(got.rejects[0].raw, want.rejects[0].raw);
  }
}

TEST(CsvReader, FiftyThousandRowFileInBatches) {
  TempDir dir;
  std::string data = "id,name,amount,updated_at,payload\n";
  int64_t id_sum = 0;
  uint64_t payload_check = 0;
  for (int i = 1; i <= 50000; ++i) {
    std::string payload = "p" + std::to_string(i * 7919 % 100003);
    if (i % 10 == 0) payload += ", with \"quotes\"\nand a line break";
    std::string quoted = payload;
    size_t at = 0;
    while ((at = quoted.find('"', at)) != std::string::npos) {
      quoted.insert(at, 1, '"');
      at += 2;
    }
    data += std::to_string(i) + ",name " + std::to_string(i) + "," + std::to_string(i) + ".25," +
            "2024-01-02T03:04:" + (i % 60 < 10 ? "0" : "") + std::to_string(i % 60) + "Z,\"" +
            quoted + "\"\n";
    id_sum += i;
    for (char c : payload)
      payload_check = payload_check * 31 + static_cast<unsigned char>(c);
  }
  auto path = dir.write("big.csv", data);
  auto in = open_file(path.string());
  ASSERT_TRUE(in.ok());
  CsvOptions opts;
  opts.batch_rows = 4096;
  opts.buffer_bytes = 64 << 10;  // many buffer refills
  CsvReader reader(std::move(*in), opts, path.string());
  ASSERT_TRUE(reader.open().is_ok());
  Batch batch;
  std::vector<Reject> rejects;
  int64_t rows = 0, got_ids = 0, batches = 0;
  double amount_sum = 0;
  uint64_t got_check = 0;
  int64_t expect_line = 2;
  for (;;) {
    auto more = reader.next(batch, rejects);
    ASSERT_TRUE(more.ok()) << more.status().to_string();
    if (!more.value()) break;
    ++batches;
    ASSERT_LE(batch.num_rows(), 4096u);
    const Column& id = batch.column(static_cast<size_t>(batch.find("id")));
    const Column& amount = batch.column(static_cast<size_t>(batch.find("amount")));
    const Column& ts = batch.column(static_cast<size_t>(batch.find("updated_at")));
    const Column& payload = batch.column(static_cast<size_t>(batch.find("payload")));
    EXPECT_EQ(id.type(), Type::kInt);
    EXPECT_EQ(amount.type(), Type::kDouble);
    EXPECT_EQ(ts.type(), Type::kTimestamp);
    for (size_t r = 0; r < batch.num_rows(); ++r) {
      got_ids += id[r].i;
      amount_sum += amount[r].d;
      for (char c : payload.text(r))
        got_check = got_check * 31 + static_cast<unsigned char>(c);
      ASSERT_EQ(batch.row_lines()[r], expect_line);
      expect_line += id[r].i % 10 == 0 ? 2 : 1;
    }
    rows += static_cast<int64_t>(batch.num_rows());
  }
  EXPECT_TRUE(rejects.empty());
  EXPECT_EQ(rows, 50000);
  EXPECT_EQ(batches, (50000 + 4095) / 4096);
  EXPECT_EQ(got_ids, id_sum);
  EXPECT_DOUBLE_EQ(amount_sum, static_cast<double>(id_sum) + 0.25 * 50000);
  EXPECT_EQ(got_check, payload_check);
  EXPECT_EQ(reader.bytes_read(), static_cast<int64_t>(data.size()));
}

// ---------------------------------------------------------------------------------------
// Fixtures in tests/data/csv.

fs::path fixture(const std::string& name) {
  return source_dir() / "tests" / "data" / "csv" / name;
}

TEST(CsvFixtures, OrdersCsvAndItsGzipAgree) {
  auto plain = open_file(fixture("orders.csv").string());
  auto gz = open_file(fixture("orders.csv.gz").string());
  ASSERT_TRUE(plain.ok()) << plain.status().to_string();
  ASSERT_TRUE(gz.ok()) << gz.status().to_string();
  Parsed a = parse_stream(std::move(*plain), {});
  Parsed b = parse_stream(std::move(*gz), {});
  ASSERT_TRUE(a.status.is_ok()) << a.status.to_string();
  ASSERT_TRUE(b.status.is_ok()) << b.status.to_string();
  EXPECT_THAT(a.columns, ElementsAre("order_id", "customer", "amount", "ordered_at", "note"));
  EXPECT_EQ(a.rows.size(), 6u);
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.types, b.types);
  EXPECT_TRUE(a.rejects.empty());
}

TEST(CsvFixtures, RaggedCsvRejectsTwoRecords) {
  auto in = open_file(fixture("ragged.csv").string());
  ASSERT_TRUE(in.ok()) << in.status().to_string();
  Parsed p = parse_stream(std::move(*in), {}, "ragged.csv");
  ASSERT_TRUE(p.status.is_ok());
  EXPECT_EQ(p.rows.size(), 3u);
  ASSERT_EQ(p.rejects.size(), 2u);
  EXPECT_EQ(p.rejects[0].origin.line, 4);
  EXPECT_EQ(p.rejects[1].origin.line, 7);
}

}  // namespace
}  // namespace ferry
