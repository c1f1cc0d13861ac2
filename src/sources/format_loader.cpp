#include "sources/format_loader.h"

#include <algorithm>

namespace ferry {
namespace {

constexpr size_t kJsonChunkBytes = 8 << 20;

Status load_csv(std::unique_ptr<InputStream> in, const nlohmann::json& options,
                const std::string& source_name, std::string_view kind, SourceSink& sink) {
  FERRY_ASSIGN(CsvOptions opts, csv_options(options, kind));
  CsvReader reader(std::move(in), opts, source_name);
  FERRY_TRY(reader.open());
  Batch batch;
  std::vector<Reject> rejects;
  for (;;) {
    if (sink.cancelled()) return Status(Code::kCancelled, "cancelled");
    rejects.clear();
    FERRY_ASSIGN(bool more, reader.next(batch, rejects));
    for (Reject& r : rejects)
      FERRY_TRY(sink.reject(std::move(r)));
    if (batch.num_rows() > 0) FERRY_TRY(sink.rows(batch));
    if (!more) break;
  }
  return Status::success();
}

Status load_json(InputStream& in, bool lines, const nlohmann::json& options,
                 const std::string& source_name, SourceSink& sink) {
  std::string pointer = options.value("records", "");
  Origin origin{source_name, 1, 0};
  std::string buf;
  std::string chunk(kJsonChunkBytes, '\0');
  for (;;) {
    if (sink.cancelled()) return Status(Code::kCancelled, "cancelled");
    FERRY_ASSIGN(size_t n, in.read(chunk.data(), chunk.size()));
    bool eof = n == 0;
    buf.append(chunk.data(), n);
    if (!lines) {
      if (eof) break;
      continue;  // one document: the whole stream
    }
    size_t cut = eof ? buf.size() : buf.rfind('\n');
    if (cut == std::string::npos) continue;  // a line longer than the chunk: read on
    if (!eof) ++cut;
    if (cut > 0) {
      std::string_view part(buf.data(), cut);
      FERRY_TRY(sink.json(part, JsonLayout::kLines, pointer, origin));
      origin.line += std::count(part.begin(), part.end(), '\n');
      origin.offset += static_cast<int64_t>(cut);
      buf.erase(0, cut);
    }
    if (eof) break;
  }
  if (!lines && !buf.empty()) FERRY_TRY(sink.json(buf, JsonLayout::kDocument, pointer, origin));
  return Status::success();
}

}  // namespace

std::string format_of(const nlohmann::json& options, std::string_view name) {
  std::string f = options.value("format", "");
  if (!f.empty()) return f;
  std::string_view p = name;
  if (p.size() > 3 && p.ends_with(".gz")) p.remove_suffix(3);
  if (p.ends_with(".jsonl") || p.ends_with(".ndjson")) return "jsonl";
  if (p.ends_with(".json")) return "json";
  return "csv";
}

Result<CsvOptions> csv_options(const nlohmann::json& o, std::string_view kind) {
  CsvOptions opts;
  auto one_char = [&](const char* key, char def) -> Result<char> {
    std::string v = o.value(key, std::string(1, def));
    if (v == "\\t" || v == "tab") return '\t';
    if (v.size() != 1)
      return Status::invalid("{} source: {} must be one character, got '{}'", kind, key, v);
    return v[0];
  };
  FERRY_ASSIGN(opts.delimiter, one_char("delimiter", ','));
  FERRY_ASSIGN(opts.quote, one_char("quote", '"'));
  opts.null_string = o.value("null_string", "");
  opts.header = o.value("header", true);
  if (o.contains("columns") && o["columns"].is_array())
    for (const auto& c : o["columns"])
      opts.columns.push_back(c.get<std::string>());
  return opts;
}

std::vector<OptionDecl> format_option_decls() {
  return {
      {"format", OptionType::kString, "", "csv | json | jsonl (default: from the extension).",
       false, false},
      {"delimiter", OptionType::kString, ",", "CSV field delimiter (\\t for tab).", false, false},
      {"quote", OptionType::kString, "\"", "CSV quote character.", false, false},
      {"null_string", OptionType::kString, "", "Unquoted CSV value read as null.", false, false},
      {"header", OptionType::kBool, "true", "CSV has a header line.", false, false},
      {"columns", OptionType::kList, "", "Column names when header is false.", false, false},
      {"records", OptionType::kString, "", "JSON pointer to the records array (json).", false,
       false},
  };
}

Status load_stream(std::unique_ptr<InputStream> in, std::string_view format,
                   const nlohmann::json& options, const std::string& source_name,
                   std::string_view kind, SourceSink& sink) {
  if (format == "csv") return load_csv(std::move(in), options, source_name, kind, sink);
  if (format == "jsonl" || format == "json")
    return load_json(*in, format == "jsonl", options, source_name, sink);
  return Status::invalid("{} source: unknown format '{}' (csv, json or jsonl)", kind, format);
}

}  // namespace ferry
