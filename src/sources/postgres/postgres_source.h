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
// normalize: [col, ...] (json, jsonb, or text holding JSON): each listed column is normalised
// like an API document (normalize/normalizer.h) instead of loaded as one json column: its
// object's fields become columns of the row named <col>__<field> (<col>__<a>__<b> for nested
// objects), its arrays child tables <table>__<col>__<field> (rows linked by _ferry_parent_id and
// _ferry_root_id to the row's _ferry_id, position in _ferry_idx; a merge replaces a re-read
// row's children), and the job's nesting options apply (max_depth counts <col> as level 1).
// A NULL adds no columns and no rows; a value that is not a JSON object (an array, a scalar,
// text that does not parse) rejects the row (_ferry_rejects, max_rejects) with a reason naming
// the column. A name that is not a column of the table or query, or a column of another type,
// fails the run before anything is read. The other columns keep their catalog types: each row
// goes to the normaliser (SourceSink::json, JSON Lines) as one object, the normalised values
// nested and every other column as its PostgreSQL text in a JSON string, and the catalog types
// are declared first (SourceSink::declare_fields), so the normaliser converts that text as the
// plain path does (numeric stays an exact decimal, timestamptz a timestamp, text that looks
// like a date stays text) instead of inferring a type from JSON. Why not a JSON document of
// typed values: JSON has no exact decimal (12.50 would be a double) and a string would be
// inferred (text, or a date where it looks like one). Why not the source running its own
// normaliser: only the pipeline knows the target table, nesting options and load id, and owns
// rejects, constants and the watermark. Without normalize: rows take the typed-batch path
// (SourceSink::rows) as before, at no extra cost. With normalize: the table's rows also get a
// _ferry_id (from the job's primary_key when it has one), as documents' rows do.
//
// Errors name the connection (database, host, port) and the table: a missing table is
// kNotFound, bad credentials or SQL kInvalid, a lost connection kRetry (core/postgres.h).
// Thread-safety: an instance is used by one thread.
#pragma once

#include "sources/source.h"

namespace ferry {

SourceDescriptor postgres_source_descriptor();

}  // namespace ferry
