// Destination: a warehouse that ferry loads into (sqlite now; postgres, redshift later).
//
// Lifecycle of one load (one run of one job), on one thread:
//
//   auto dst = descriptor.create(connection_options, project_dir);   // opens/connects
//   dst->read_state(job)          // the job's last committed state and watermark
//   dst->begin(load)              // AlreadyCommitted -> the load is a no-op
//   dst->write(batch, &result)    // any number of times, any tables; creates/evolves tables
//   dst->commit(state, stats)     // rows + _ferry_loads + _ferry_state in ONE transaction
//   or dst->rollback()            // nothing of the load is visible, ever
//
// A destination guarantees: a load is all or nothing; a load id already committed is a no-op;
// `replace` swaps the table atomically (readers never see it empty); every row carries
// _ferry_load_id. Thread-safety: an instance is used by one thread; several instances (one
// per running job) may target the same warehouse concurrently.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/batch.h"
#include "core/plugin.h"
#include "core/reject.h"
#include "core/status.h"

namespace ferry {

enum class WriteMode { kAppend, kMerge, kReplace };
enum class SchemaPolicy { kEvolve, kFreeze, kDiscardRow, kDiscardValue };

struct LoadSpec {
  std::string job_id;
  std::string run_id;
  std::string load_id;     // unique per load; reused by a retry of the same run
  std::string root_table;  // the job's target table; child tables are
                           // "<root_table>__<field>"
  WriteMode mode = WriteMode::kAppend;
  std::vector<std::string> primary_key;  // for merge (root table)
  SchemaPolicy schema_policy = SchemaPolicy::kEvolve;
};

struct SchemaChange {
  enum class Kind { kCreateTable, kAddColumn, kWidenColumn };
  Kind kind;
  std::string table;
  std::string column;  // "" for kCreateTable
  Type from = Type::kNull;
  Type to = Type::kNull;
  std::string describe() const;  // "added column ods_orders.coupon (text)"
};

struct WriteResult {
  std::vector<SchemaChange> changes;  // DDL done for this batch
  std::vector<Reject> rejects;        // rows not written (schema policy), with reasons
  size_t rows_written = 0;
};

struct LoadStats {
  int64_t rows_read = 0;
  int64_t rows_loaded = 0;
  int64_t rows_rejected = 0;
};

class Destination {
 public:
  virtual ~Destination() = default;
  Destination() = default;
  Destination(const Destination&) = delete;
  Destination& operator=(const Destination&) = delete;

  // The job's last committed state object ({} when none).
  virtual Result<nlohmann::json> read_state(const std::string& job_id) = 0;
  // Starts a load. Returns Code::kCancelled with message "already committed" when the load
  // id was committed before (the caller treats the load as done).
  virtual Status begin(const LoadSpec& load) = 0;
  // Creates or evolves batch.table() per the schema policy, then writes the rows.
  virtual Status write(const Batch& batch, WriteResult* result) = 0;
  // Rejected records of this load, into _ferry_rejects (inside the load's transaction).
  virtual Status write_rejects(const std::vector<Reject>& rejects) = 0;
  // Atomically: rows, rejects, _ferry_loads row, _ferry_state[job] = state.
  virtual Status commit(const nlohmann::json& state, const LoadStats& stats) = 0;
  // Drops everything of the load in progress. Safe to call when no load is in progress.
  virtual void rollback() = 0;

  // Runs SQL in the warehouse (transforms): one or more statements, in one transaction.
  virtual Status execute(const std::string& sql) = 0;
  // Existing tables and their columns (for `ferry plan` and the demo's summary).
  virtual Result<std::vector<TableSchema>> tables() = 0;
  // Runs a query and returns its rows as text (null as nullopt), the FIRST row holding the
  // column names; for the CLI and tests.
  virtual Result<std::vector<std::vector<std::optional<std::string>>>> query(
      const std::string& sql) = 0;
  // Records rejects of a failed load (after rollback), in their own transaction, so they
  // are not lost with the load.
  virtual Status save_failed_rejects(const LoadSpec& load, const std::vector<Reject>& rejects) = 0;
};

struct DestinationDescriptor {
  PluginDecl decl;
  // Opens the warehouse from its resolved connection options.
  std::function<Result<std::unique_ptr<Destination>>(const nlohmann::json& connection,
                                                     const std::string& project_dir)>
      create;
};

}  // namespace ferry
