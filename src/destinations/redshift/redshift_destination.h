// The redshift destination: an Amazon Redshift cluster as ferry's warehouse, over libpq
// (Redshift speaks the PostgreSQL protocol), with the rows staged in S3.
//
// Implements the Destination contract (destinations/destination.h):
//   - write(): rows become gzip CSV parts under s3://bucket/<prefix><load id>/<table>/
//     (redshift_stager.h: bounded parts, constant memory), nothing is sent to the cluster
//     but catalog queries. A text value longer than Redshift's VARCHAR limit (65535 BYTES)
//     rejects its row into _ferry_rejects with the reason, or is cut at a UTF-8 character
//     boundary with `long_text: truncate`.
//   - commit(): ONE transaction: LOCK _ferry_loads and check the load id (a committed id is
//     a no-op: kCancelled "already committed"), insert it; per table (the root first): a TEMP
//     staging table, COPY ... FROM each manifest (MANIFEST CSV GZIP), then
//       append   INSERT ... SELECT;
//       merge    (root table) first the rows of the child tables (`<root>__...` with
//                _ferry_root_id) whose root is re-delivered go (DELETE ... USING the root's
//                staging table, and the root table joined on the key, for ids that changed),
//                so a re-delivered record replaces its children; then DELETE ... USING staging
//                on the primary key + INSERT of the last delivered row of each key (Redshift
//                enforces no key: ferry de-duplicates within the load and against the table);
//                other tables append;
//       replace  the table's new version `<table>__ferry_new_<load>` is built; known tables
//                of the root (itself, child tables) without rows in the load are emptied
//                (DELETE: TRUNCATE would commit); the old tables are dropped and the new ones
//                renamed in their place;
//     then the rejects and _ferry_state[job]; COMMIT. Then the staged objects are deleted.
//   - A failed COPY rolls the load back and its error names the rejected rows read from
//     stl_load_errors (sys_load_error_detail on serverless).
//   - Types and SQL: redshift_sql.h. Schema evolution: new columns are added, widened
//     columns rebuilt (add / copy / drop / rename).
//
// Test seam (RedshiftHooks): the dialect (SUPER -> jsonb), statements run after connecting,
// the COPY step and whether load errors are read, so that every statement but the COPY runs
// on a real PostgreSQL (see docs/redshift.md for what that does and does not verify).
//
// Thread-safety: an instance is used by one thread. Failure: Status values (core/postgres.h
// codes; S3 failures as s3_client.h words them); after a failed write the load must be rolled
// back, a failed commit rolls back itself. The password, the secret access key and the
// session token never appear in a message (they are registered with core/redact.h).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/postgres.h"
#include "destinations/destination.h"
#include "destinations/redshift/redshift_sql.h"
#include "destinations/redshift/redshift_stager.h"
#include "s3/s3_client.h"

namespace ferry {

// One COPY of a staged segment into a load's staging table.
struct RedshiftCopyStep {
  std::string sql;                         // the COPY statement (may hold a secret)
  std::string staging_table;               // quoted name of the TEMP staging table
  const redshift::StagedSegment* segment;  // its columns, parts and manifest
  std::string bucket;
};

struct RedshiftHooks {
  redshift::Dialect dialect;
  // Run once after connecting (e.g. "SET standard_conforming_strings = off" on PostgreSQL).
  std::vector<std::string> session_setup;
  // Loads one segment into the staging table. Default: runs step.sql.
  std::function<Status(PgConn& conn, const RedshiftCopyStep& step)> copy;
  // Read stl_load_errors / sys_load_error_detail after a failed COPY.
  bool read_load_errors = true;
  // The clock for committed_at, updated_at and rejected_at. Default: system_clock.
  std::function<std::chrono::system_clock::time_point()> now;
};

struct RedshiftDestinationOptions {
  PgConnectOptions connect;
  std::string schema = "public";
  s3::S3Config staging;                   // bucket, region, endpoint, credentials
  std::string prefix = "ferry-staging/";  // key prefix of staged objects
  redshift::CopyAuth copy_auth;           // how the cluster reads the bucket
  bool truncate_long_text = false;        // else longer values reject their row
  size_t part_bytes = size_t{64} << 20;   // CSV bytes per gzip part
  RedshiftHooks hooks;
};

// Connects and creates the schema and ferry's tables when missing. Fails as PgConn::connect.
Result<std::unique_ptr<Destination>> open_redshift_destination(RedshiftDestinationOptions options);

// kind "redshift": url (required), password (secret), sslmode, connect_timeout, schema,
// bucket (required), prefix, region, endpoint, access_key_id, secret_access_key (secret),
// session_token (secret), profile, iam_role, long_text (reject|truncate), part_size_mb.
DestinationDescriptor redshift_destination_descriptor();

}  // namespace ferry
