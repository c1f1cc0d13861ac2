// The PostgreSQL backend of the metastore (see meta/metastore.h for the contract): the same
// tables and columns as the SQLite backend, in PostgreSQL types (BIGSERIAL / BIGINT ids,
// BOOLEAN enabled, TEXT for timestamps in the same ISO 8601 UTC form, TEXT checked to parse
// as JSON for JSON), so that several ferry workers on several hosts share one metastore.
//
// Migrations: ferry_schema(version, applied_at) as in SQLite; each pending migration runs,
// with the insert of its ferry_schema row, in one transaction that first takes
// pg_advisory_xact_lock, so two processes starting at once apply it once (the second waits,
// then sees the new version and skips it).
//
// Thread-safety: an instance serialises on one connection (a mutex); every method is safe
// from any thread. When a call finds the connection broken (the server restarted, the session
// was terminated), it reconnects once and runs the call again. Several instances (and
// processes) may share one database: apply_version serialises on an advisory lock, start_run
// and finish_run update only a row still in the state they expect, and claim_next_run uses
// SELECT ... FOR UPDATE SKIP LOCKED.
//
// Failures are Status values; messages name the database as "postgres db@host:port" and never
// contain the password.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "meta/metastore.h"
#include "meta/migrations.h"

namespace ferry::meta {

// Connects to `url` (postgres://user[:password]@host:port/db, or a libpq conninfo) and
// migrates the database to the current schema. kRetry when the server cannot be reached,
// kInvalid for bad credentials or a schema newer than this ferry supports.
Result<std::unique_ptr<Metastore>> open_postgres_metastore(const std::string& url);

// The PostgreSQL migrations, oldest first: as many as metastore_migrations(), each creating
// the same tables and columns as its SQLite twin.
const std::vector<Migration>& postgres_metastore_migrations();

}  // namespace ferry::meta
