// The sqlite destination: ferry's embedded warehouse, one SQLite database file.
//
// Implements the Destination contract (destinations/destination.h) on one connection:
//   - The file is opened (created when missing) in WAL mode with synchronous=NORMAL and a
//     busy timeout, so readers in other connections never block a load and see only
//     committed loads. ferry's own tables are created when missing:
//       _ferry_loads    (load_id primary key, job_id, run_id, committed_at, rows_loaded,
//                        rows_rejected)                      committed load ids
//       _ferry_state    (job_id primary key, state, updated_at)  each job's state (JSON)
//       _ferry_rejects  (job_id, run_id, load_id, source, line, byte_offset, reason, raw,
//                        rejected_at)                        rows that could not be loaded
//       _ferry_columns  (table_name, column_name, ferry_type)  ferry's type of each column,
//                        since SQLite's declared types are loose
//   - A load is one write transaction (BEGIN IMMEDIATE, taken at the first write, rejects
//     or commit, so a slow source does not hold the warehouse's write lock while it reads).
//     Rows, DDL, rejects, _ferry_loads and _ferry_state all commit together.
//   - Types: int INTEGER, double REAL, decimal NUMERIC, bool INTEGER 0/1, text TEXT,
//     date TEXT 'YYYY-MM-DD', timestamp TEXT 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z' (UTC), json
//     TEXT. Every table has `_ferry_load_id TEXT`. Widening a column's type rebuilds the
//     table inside the load's transaction (values widened to text read back as text).
//   - Modes: append inserts; merge upserts on the primary key (a unique index
//     _ferry_pk_<table>), and at commit deletes the older child rows (tables
//     `<root>__...` with `_ferry_root_id`) of every root row upserted, so a re-delivered
//     record replaces its children; replace loads into `<table>__ferry_new_<load>` tables
//     and swaps them in at commit (known tables of the root that got no rows are emptied),
//     so readers see the old rows or the new ones, never an empty table.
//
// Thread-safety: an instance is used by one thread. Several instances (processes or
// threads) may share one file: loads are serialized by SQLite's write lock, waited for up
// to the busy timeout, after which a call fails with kRetry.
// Failure: every method returns a Status; after a failed begin/write/write_rejects/commit
// the load must be rolled back (commit rolls back itself when it fails).
#pragma once

#include <memory>
#include <string>

#include "destinations/destination.h"

namespace ferry {

struct SqliteDestinationOptions {
  int busy_timeout_ms = 30000;
  // SQLite page cache during a load (KiB); 0 keeps SQLite's default (2 MB). Freed after
  // the load. Measured: a bigger cache only slows bulk appends (malloc and page faults).
  int load_cache_kib = 0;
  // Page size of a database file ferry creates (existing files keep theirs). 32 KiB pages
  // take 1.4 s of CPU for the 2M-row benchmark load against 2.1 s with SQLite's 4 KiB,
  // while a merge that touches scattered rows rewrites less than with 64 KiB pages.
  int page_size = 32768;
};

// Opens (creating when missing) the warehouse file at `path` and ferry's tables in it.
// Fails with kIo when the file cannot be opened or is not a database, kRetry when it is
// locked longer than the busy timeout.
Result<std::unique_ptr<Destination>> open_sqlite_destination(
    const std::string& path, const SqliteDestinationOptions& options = {});

// kind "sqlite": connection option `path` (required; the database file, relative to the
// project folder); target options table, mode, primary_key, connection.
DestinationDescriptor sqlite_destination_descriptor();

}  // namespace ferry
