// The `postgres` source: a table or a query of a PostgreSQL database, over libpq.
//
//   source: {connection: pg, table: public.orders}                 # schema-qualified or not
//   source: {connection: pg, query: "SELECT ... FROM ... JOIN ..."}
//   source: {connection: pg, table: orders, cursor_field: updated_at, null_cursor: include}
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
// Incremental: with `cursor_field`, a run reads the rows whose cursor is >= the job's
// watermark (SourceContext::watermark; the pipeline computes it from the rows it loads).
// `>=`, not `>`: rows that share the watermark's value and arrived after the last run are never
// lost; the rows re-read at the watermark are deduplicated by the target's merge on its primary
// key (use mode merge). Rows whose cursor is NULL: `null_cursor: include` (default) reads them
// on every run (merge keeps one copy), `error` fails the run naming how many there are found.
// A replace (full refresh) reads everything.
//
// Errors name the connection (database, host, port) and the table: a missing table is
// kNotFound, bad credentials or SQL kInvalid, a lost connection kRetry (core/postgres.h).
// Thread-safety: an instance is used by one thread.
#pragma once

#include "sources/source.h"

namespace ferry {

SourceDescriptor postgres_source_descriptor();

}  // namespace ferry
