#include "meta/migrations.h"

namespace ferry::meta {
namespace {

// Timestamps are ISO 8601 UTC text with milliseconds: 2026-11-25T12:00:00.123Z. The defaults
// serve rows written by plain SQL (the config table accepts a hand-written INSERT).
#define FERRY_NOW "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"

const std::vector<Migration> kMigrations = {
    {1,
     {
         // The config table. JSON columns hold text that must parse as JSON. A row inserted
         // by hand gets origin 'sql', which `ferry apply` leaves alone.
         "CREATE TABLE ferry_jobs ("
         "  id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),"
         "  template TEXT NOT NULL DEFAULT '',"
         "  params TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),"
         "  spec TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(spec)),"
         "  enabled INTEGER NOT NULL DEFAULT 1,"
         "  watermark TEXT NOT NULL DEFAULT '',"
         "  priority INTEGER NOT NULL DEFAULT 0,"
         "  origin TEXT NOT NULL DEFAULT 'sql',"
         "  updated_at TEXT NOT NULL DEFAULT " FERRY_NOW ")",

         // The job execution table. Run ids are never reused (AUTOINCREMENT): audit rows
         // refer to them. Timestamps not reached yet are NULL.
         "CREATE TABLE ferry_runs ("
         "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
         "  job_id TEXT NOT NULL,"
         "  batch_id TEXT NOT NULL DEFAULT '',"
         "  state TEXT NOT NULL DEFAULT 'queued',"
         "  attempt INTEGER NOT NULL DEFAULT 1,"
         "  load_id TEXT NOT NULL DEFAULT '',"
         "  queued_at TEXT NOT NULL DEFAULT " FERRY_NOW ","
         "  started_at TEXT,"
         "  finished_at TEXT,"
         "  rows_read INTEGER NOT NULL DEFAULT 0,"
         "  rows_loaded INTEGER NOT NULL DEFAULT 0,"
         "  rows_rejected INTEGER NOT NULL DEFAULT 0,"
         "  error TEXT NOT NULL DEFAULT '',"
         "  worker TEXT NOT NULL DEFAULT '')",
         "CREATE INDEX ferry_runs_job ON ferry_runs (job_id, id)",
         "CREATE INDEX ferry_runs_state ON ferry_runs (state, id)",
         "CREATE INDEX ferry_runs_batch ON ferry_runs (batch_id, id)",

         "CREATE TABLE ferry_audit ("
         "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
         "  time TEXT NOT NULL DEFAULT " FERRY_NOW ","
         "  run_id INTEGER,"
         "  job_id TEXT NOT NULL DEFAULT '',"
         "  level TEXT NOT NULL DEFAULT 'info',"
         "  event TEXT NOT NULL,"
         "  message TEXT NOT NULL DEFAULT '',"
         "  details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)))",
         "CREATE INDEX ferry_audit_run ON ferry_audit (run_id, id)",
         "CREATE INDEX ferry_audit_job ON ferry_audit (job_id, id)",
         "CREATE INDEX ferry_audit_time ON ferry_audit (time)",

         // The control table: the rules of the current config version, in file order.
         "CREATE TABLE ferry_control ("
         "  id INTEGER PRIMARY KEY,"
         "  position INTEGER NOT NULL,"
         "  on_event TEXT NOT NULL DEFAULT '',"
         "  rule TEXT NOT NULL CHECK (json_valid(rule)),"
         "  version INTEGER NOT NULL)",

         "CREATE TABLE ferry_config_versions ("
         "  version INTEGER PRIMARY KEY AUTOINCREMENT,"
         "  applied_at TEXT NOT NULL DEFAULT " FERRY_NOW ","
         "  hash TEXT NOT NULL,"
         "  note TEXT NOT NULL DEFAULT '',"
         "  project TEXT NOT NULL CHECK (json_valid(project)))",
     }},
    {2,
     {
         // Several workers share the queue: a claimed run holds a lease its worker renews,
         // and carries its own job definition when it has one (an S3 event's keys).
         "ALTER TABLE ferry_runs ADD COLUMN lease_until TEXT",
         "ALTER TABLE ferry_runs ADD COLUMN retryable INTEGER NOT NULL DEFAULT 0",
         "ALTER TABLE ferry_runs ADD COLUMN definition TEXT NOT NULL DEFAULT '{}' "
         "CHECK (json_valid(definition))",
     }},
    {3,
     {
         // Workers claim queued runs in priority, then age order, as the daemon takes its own.
         "ALTER TABLE ferry_runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0",
         "CREATE INDEX ferry_runs_claim ON ferry_runs (state, priority DESC, id)",
     }},
};

#undef FERRY_NOW

}  // namespace

const std::vector<Migration>& metastore_migrations() {
  return kMigrations;
}

Result<int> schema_version(SqliteDb& db) {
  FERRY_ASSIGN(SqliteStmt exists,
               db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = "
                          "'ferry_schema'"));
  FERRY_ASSIGN(bool has_table, exists.step());
  if (!has_table) return 0;
  FERRY_ASSIGN(SqliteStmt max, db.prepare("SELECT coalesce(max(version), 0) FROM ferry_schema"));
  FERRY_ASSIGN(bool row, max.step());
  return row ? static_cast<int>(max.column_int64(0)) : 0;
}

Status check_numbering(const std::vector<Migration>& migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return Status::internal("metastore migration {} is numbered {}", i + 1,
                              migrations[i].version);
    }
  }
  return Status::success();
}

Status check_not_newer(const std::string& where, int version,
                       const std::vector<Migration>& migrations) {
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  if (version <= latest) return Status::success();
  return Status::invalid(
      "{}: metastore schema version {} is newer than this ferry supports ({}); use a newer "
      "ferry",
      where, version, latest);
}

Status migrate(SqliteDb& db, const std::vector<Migration>& migrations) {
  FERRY_TRY(check_numbering(migrations));
  FERRY_ASSIGN(int current, schema_version(db));
  FERRY_TRY(check_not_newer(db.path(), current, migrations));
  for (const Migration& migration : migrations) {
    if (migration.version <= current) continue;
    FERRY_ASSIGN(SqliteTransaction txn, SqliteTransaction::begin(db));
    // Another process may have migrated since we looked: decide inside the transaction.
    FERRY_TRY(
        db.exec("CREATE TABLE IF NOT EXISTS ferry_schema ("
                "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"));
    FERRY_ASSIGN(current, schema_version(db));
    FERRY_TRY(check_not_newer(db.path(), current, migrations));
    if (migration.version <= current) continue;
    for (const std::string& sql : migration.statements) {
      FERRY_TRY(
          db.exec(sql).with_context(fmt::format("metastore migration {}", migration.version)));
    }
    FERRY_ASSIGN(SqliteStmt insert,
                 db.prepare("INSERT INTO ferry_schema (version, applied_at) "
                            "VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"));
    FERRY_TRY(insert.bind(1, migration.version));
    FERRY_TRY(insert.run());
    FERRY_TRY(txn.commit());
    current = migration.version;
  }
  return Status::success();
}

}  // namespace ferry::meta
