// Source: where a job's data comes from.
//
// A source kind (file, rest, s3, postgres) is a descriptor (PluginDecl + factory) registered
// in pipeline/registry.cpp, plus a Source instance with a fixed lifecycle:
//
//   auto src = descriptor.create();      // one instance per run, on the run's thread
//   src->open(ctx);                      // resolved options + last committed state
//   src->read(sink);                     // pushes data, rejects and the new state
//
// A source reports its new state (watermark, processed files or keys) only through
// SourceSink::set_state, so the state commits in the same transaction as the rows.
// Sources never sleep or retry in loops of their own: a transient failure is returned as
// Code::kRetry and the executor decides. Thread-safety: an instance is used by one thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "core/batch.h"
#include "core/plugin.h"
#include "core/reject.h"
#include "core/status.h"
#include "formats/json_layout.h"

namespace ferry {

struct SourceContext {
  std::string job_id;
  std::string project_dir;    // relative paths in options are relative to this
  nlohmann::json connection;  // the connection's options, templates and ${ENV} resolved
  nlohmann::json options;     // the job's `source:` options, resolved
  nlohmann::json state;       // last committed state of the job ({} on the first run)
  // Where an incremental read starts: the last committed watermark moved back by the job's
  // incremental.lookback (pipeline/watermark.h apply_lookback), or incremental.initial when
  // nothing is committed yet; "" when neither. The same value as {{watermark}} in options.
  std::string watermark;
  // The target is replaced by each load (mode replace): a source that tracks what it has
  // read (files, keys) must read everything again when anything changed, or call
  // SourceSink::unchanged() when nothing did.
  bool full_refresh = false;
  // The job's incremental.cursor_field ("" when the job is not incremental): the column a
  // source filters on (rows >= watermark); the pipeline tracks the new watermark from it.
  std::string cursor_field;
  // The last committed watermark itself, without lookback or initial ("" when none).
  std::string committed_watermark;
};

// Implemented by the pipeline. Calls are made on the source's thread.
class SourceSink {
 public:
  virtual ~SourceSink() = default;
  // Tabular rows for the job's root table. Columns with type kText are inferred by the
  // pipeline unless declared; the sink may keep or clear the batch (the caller reuses it).
  virtual Status rows(Batch& batch) = 0;
  // A chunk of JSON for the normaliser. `records_pointer` ("" = the document itself, or each
  // line for kLines) names the array of records. origin.line is the first line of the chunk.
  virtual Status json(std::string_view bytes, JsonLayout layout, std::string_view records_pointer,
                      const Origin& origin) = 0;
  // Records the source has already parsed (e.g. an API page it parsed to find the next
  // cursor), so they are not parsed twice: an array's elements, one record for any other
  // value, none for null. origin.line is the first record's number. Same handling as json().
  virtual Status records(simdjson::dom::element records, const Origin& origin) = 0;
  // Declares root columns of the records pushed from now on through json() and records()
  // whose types are known (a database's catalog types): they are not inferred, a string value
  // in one is that column's text, converted to its type (NormalizerOptions::root_fields).
  // kInvalid once records have been pushed.
  virtual Status declare_fields(std::vector<Field> fields) = 0;
  // A record that cannot be loaded. Returns Code::kRejected when the job's max_rejects is
  // exceeded; the source must then stop and return that status.
  virtual Status reject(Reject reject) = 0;
  // A constant column added to every root row pushed from now on; nullopt removes it. Used by
  // sources that fan out over a list (e.g. one request per store id) so each row records
  // which item it came from. Rows already pushed keep their values.
  virtual Status set_constant(const std::string& column, std::optional<std::string> value) = 0;
  // Sets a key of the job's state object (e.g. "files", "watermark"); committed with rows.
  virtual void set_state(const std::string& key, nlohmann::json value) = 0;
  // Nothing changed since the last load: the run commits nothing and the target keeps its
  // rows (a replace is not turned into an empty table). The source pushes no data after this.
  virtual void unchanged(std::string reason) = 0;
  // True when the run has been cancelled; sources check it between chunks.
  virtual bool cancelled() const = 0;
};

struct StreamInfo {
  std::string name;           // e.g. the file name or the API path
  std::vector<Field> fields;  // empty when unknown before reading
};

class Source {
 public:
  virtual ~Source() = default;
  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  virtual Status open(const SourceContext& ctx) = 0;
  // What the source would read, without reading it (for `ferry plan`).
  virtual Result<std::vector<StreamInfo>> discover() = 0;
  virtual Status read(SourceSink& sink) = 0;
  // For `on: new_objects` (after open()): whether read() would find a file or object that is
  // new or changed since ctx.state, from a listing only (no content read). A false "true" costs
  // a run that loads nothing; a false "false" delays a load, so when unsure say true.
  virtual Result<bool> has_new() {
    return Status::invalid("this source kind cannot watch for new objects (on: new_objects)");
  }
};

struct SourceDescriptor {
  PluginDecl decl;
  std::function<std::unique_ptr<Source>()> create;
};

}  // namespace ferry
