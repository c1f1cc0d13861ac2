// Versioned schema migrations of the SQLite metastore.
//
// ferry_schema(version, applied_at) holds one row per migration applied; the database's
// schema version is the highest. Migration N is a list of SQL statements run, together with
// the insert of its ferry_schema row, in one BEGIN IMMEDIATE transaction, so a migration is
// applied whole or not at all, and two processes opening one file at once apply it once (the
// second sees the new version inside its own transaction and skips it). Migrations are
// append-only: a released migration is never edited; a change is a new migration.
//
// Thread-safety: functions use only the connection they are given; the caller serialises it.
#pragma once

#include <string>
#include <vector>

#include "core/sqlite.h"
#include "core/status.h"

namespace ferry::meta {

struct Migration {
  int version = 0;  // 1, 2, 3, ... without gaps
  std::vector<std::string> statements;
};

// The metastore's migrations, oldest first.
const std::vector<Migration>& metastore_migrations();

// Checks of every backend's migrate(): kInternal when the list is not numbered 1, 2, 3, ...;
// kInvalid (naming `where`) when the database's version is newer than the list's last.
Status check_numbering(const std::vector<Migration>& migrations);
Status check_not_newer(const std::string& where, int version,
                       const std::vector<Migration>& migrations);

// The database's schema version: 0 for a database without ferry_schema.
Result<int> schema_version(SqliteDb& db);

// Brings `db` to the last of `migrations`. Fails with kInvalid, changing nothing, when the
// database's version is newer than the last migration (written by a newer ferry); with the
// SQL's error when a statement fails (that migration is rolled back, earlier ones stay).
Status migrate(SqliteDb& db, const std::vector<Migration>& migrations);

}  // namespace ferry::meta
