// The `postgres` source: a table or a query of a PostgreSQL database, over libpq.
//
//   source: {connection: pg, table: public.orders}                 # schema-qualified or not
//   source: {connection: pg, query: "SELECT ... FROM ... JOIN ..."}
//   source: {connection: pg, table: orders, null_cursor: include}
//   incremental: {cursor_field: updated_at, lookback: 10m}
//
// Rows stream with `COPY (SELECT ...) TO STDOUT` (text format) inside one REPEATABLE READ READ
// ONLY transaction, so a run reads one consistent snapshot, in batches of 8192 rows: memory
// stays constant whatever the table's size. Column types come from the catalog and are
// declared on the batches (Column::set_type), so they reach the warehouse as they are:
//   bool -> bool; int2/int4/int8 (and oid) -> int; float4/float8 -> double; numeric ->
//   decimal (exact text); date -> date; timestamp, timestamptz -> timestamp (UTC);
//   json, jsonb -> json; arrays -> json (to_json); text, varchar, char, uuid, bytea (\x hex),
//   and every other type -> text (PostgreSQL's own spelling).
// Values that ferry's types cannot hold (dates BC or 'infinity', NaN timestamps) arrive as
// text, which widens their column to text rather than losing them.
//
// Incremental: with the job's `incremental.cursor_field` (SourceContext::cursor_field), a run
// reads the rows whose cursor is >= SourceContext::watermark: the last committed watermark
// (which the pipeline computes from the rows it loads) moved back by `incremental.lookback`,
// or `incremental.initial` on the first run. `>=`, not `>`: rows that share the watermark's
// value and arrived after the last run are never lost; lookback re-reads a window before it,
// for rows committed late with an older cursor. Rows read again are deduplicated by the
// target's merge on its primary key (use mode merge). Rows whose cursor is NULL:
// `null_cursor: include` (default) reads them on every run (merge keeps one copy), `error`
// fails the run. A replace (full refresh) reads everything.
//
// Errors name the connection (database, host, port) and the table: a missing table is
// kNotFound, bad credentials or SQL kInvalid, a lost connection kRetry (core/postgres.h).
// Thread-safety: an instance is used by one thread.
#pragma once

#include "sources/source.h"

namespace ferry {

SourceDescriptor postgres_source_descriptor();

}  // namespace ferry
