// The postgres destination: a PostgreSQL database as ferry's warehouse, over libpq.
//
// Implements the Destination contract (destinations/destination.h) on one connection:
//   - Tables live in the connection's `schema` (default public; created when missing), next
//     to ferry's own:
//       _ferry_loads    (load_id primary key, job_id, run_id, committed_at, rows_loaded,
//                        rows_rejected)                      committed load ids
//       _ferry_state    (job_id primary key, state jsonb, updated_at)  each job's state
//       _ferry_rejects  (job_id, run_id, load_id, source, line, byte_offset, reason, raw,
//                        rejected_at)                        rows that could not be loaded
//   - Types: bool boolean, int bigint, double double precision, decimal numeric, text text,
//     date date, timestamp timestamptz, json jsonb. Columns of tables made outside ferry
//     keep their own types (integer, varchar, uuid, ...). Every table has
//     `_ferry_load_id text`. Identifiers are always quoted.
//   - Rows stream with COPY in the binary format (core/pg_binary.h) when every column's type
//     has a binary writer, which spares the server the text input functions (2M rows of the
//     benchmark's table: the COPY ~2.8 s as text, ~1.8 s binary); otherwise (a uuid, inet
//     or array column of a table made outside ferry), or from the first value the binary
//     format cannot carry (3e9 for an integer column), as text, so the server gives its
//     own verdict on such values. One COPY carries a table's batches while their columns stay
//     the same, so the server takes rows in while the source reads the next batch; the
//     server's verdict on a batch (a bad value) comes with a later write() or with commit(),
//     naming the table and the COPY's line.
//     append, merge: into one TEMP staging table per target table, typed like the target will
//     be; the warehouse's tables are not touched (nor locked) until commit, so a long load
//     never holds up another load's schema change of a shared table (a template's stores
//     appending to one table), a transform, or the readers queued behind them. The session's
//     temp_buffers is raised to 256 MB (used only as staging grows) so that staging stays in
//     memory: measured on 1M rows, the commit's INSERT ... SELECT took 1.6 s instead of 3.0 s.
//     replace: straight into each table's new version `<table>__ferry_new_<load>`, created by
//     the first write in the load's transaction, which commit() continues: no other session
//     sees it before the swap, and a failed or killed load leaves nothing. The same for
//     append and merge to a table that does not exist yet: straight into the new table,
//     created in the load's transaction (2M rows, the first merge: 9.7 s through staging,
//     3.7 s straight in). Such a table's
//     _ferry_load_id is added by the commit with the load id as its default, which
//     PostgreSQL keeps in the catalog instead of in every row.
//   - commit() is ONE transaction: first the load id into _ferry_loads (ON CONFLICT DO
//     NOTHING: a load committed by someone else meanwhile makes this one a no-op), then the
//     DDL (create table; ADD COLUMN; widening with ALTER COLUMN ... TYPE ... USING, which is
//     safe for every widening core/types.h widen() makes: int -> double -> decimal -> text,
//     date -> timestamp, anything -> text), then per mode:
//       append   INSERT ... SELECT from staging, in delivery order;
//       merge    on the root table INSERT ... ON CONFLICT (primary key) DO UPDATE, the last
//                delivered row of a key winning; a unique index _ferry_pk_<table> is created
//                when the table has none on exactly those columns. Into a table the load
//                creates: no ON CONFLICT, the index is built after the rows, and only when it
//                finds a key twice do that key's rows but the last delivered go (the last in
//                the new table's physical order, as COPY into a table created in its own
//                transaction only appends); the child tables
//                (`<root>__...` with _ferry_root_id) lose the rows of every root re-delivered,
//                so a re-delivered record replaces its children;
//       replace  each table's new version (written by the load) is swapped in with
//                DROP + RENAME; known child tables of the root without rows are emptied. A
//                reader sees the old table or the new one, never an empty or half one.
//     then the rejects, and _ferry_state[job]. The transaction sets work_mem to 64 MB (a
//     merge's deduplicating sort of ~300k staged rows of ~130 bytes stays in memory) and jit
//     off.
//   - A load id found in _ferry_loads is a no-op: begin() or commit() return kCancelled
//     "already committed".
//
// Thread-safety: an instance is used by one thread. Several instances (processes) may load
// the same warehouse: staging is per connection, commits serialize on PostgreSQL's locks.
// Failure: every method returns a Status (codes as core/postgres.h); after a failed
// begin/write/write_rejects/commit the load must be rolled back (commit rolls back itself when
// it fails). A dropped connection fails the load with kRetry. Passwords never appear in
// messages.
// Not done yet: indexes and dependent views of a replaced table are not carried over (a view
// on a replaced table makes the swap fail with a clear error).
#pragma once

#include <memory>
#include <string>

#include "core/postgres.h"
#include "destinations/destination.h"

namespace ferry {

struct PostgresDestinationOptions {
  PgConnectOptions connect;
  std::string schema = "public";
};

// Connects and creates the schema and ferry's tables when missing. Fails as PgConn::connect.
Result<std::unique_ptr<Destination>> open_postgres_destination(
    const PostgresDestinationOptions& options);

// kind "postgres": connection options url (required), password (secret), schema, sslmode,
// connect_timeout.
DestinationDescriptor postgres_destination_descriptor();

}  // namespace ferry
