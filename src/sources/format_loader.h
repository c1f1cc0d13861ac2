// Loading one byte stream (a local file, an S3 object) in the job's format -- CSV, JSON or
// JSON Lines -- into a SourceSink. Shared by the sources that read files, so that their
// reader options (delimiter, quote, header, records, ...) are declared and read once.
//
// Memory: CSV and JSON Lines are streamed (constant memory whatever the input's size); a
// JSON document is handed to the sink whole, as the normaliser needs it.
//
// Failure: an invalid reader option is Code::kInvalid naming `kind` ("s3 source: ..."); a
// failed read returns the stream's status; a sink's kRejected (too many rejects) or a
// cancellation stops the load and is returned. Thread-safety: plain functions.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/plugin.h"
#include "formats/csv_reader.h"
#include "formats/input_stream.h"
#include "sources/source.h"

namespace ferry {

// The format of the stream `name` for a job: its `format` option, else from the extension
// (".jsonl"/".ndjson" -> jsonl, ".json" -> json, anything else csv; ".gz" is looked through).
std::string format_of(const nlohmann::json& options, std::string_view name);

// The CSV reader options of a job's `source:` options (delimiter, quote, null_string, header,
// columns). `kind` names the source in errors.
Result<CsvOptions> csv_options(const nlohmann::json& options, std::string_view kind);

// The declarations of the options read by format_of, csv_options and load_stream, for a
// source's PluginDecl::source_options.
std::vector<OptionDecl> format_option_decls();

// Reads `in` to its end in `format` ("csv", "json" or "jsonl") and pushes its rows, JSON
// chunks and rejects into `sink`. `source_name` names the stream in rejects and batch
// origins (never a secret).
Status load_stream(std::unique_ptr<InputStream> in, std::string_view format,
                   const nlohmann::json& options, const std::string& source_name,
                   std::string_view kind, SourceSink& sink);

}  // namespace ferry
