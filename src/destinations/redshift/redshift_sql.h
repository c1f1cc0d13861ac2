// Every SQL statement the redshift warehouse sends, as pure functions of their inputs, so
// that golden tests (redshift_sql_test.cpp) pin the exact text that a Redshift cluster gets.
//
// Redshift's dialect, as ferry uses it:
//   - Types: bool BOOLEAN, int BIGINT, double DOUBLE PRECISION, decimal DECIMAL(38,10)
//     (Redshift's widest precision; 10 fraction digits, more are rounded), text
//     VARCHAR(65535) (the maximum; counted in BYTES), date DATE, timestamp TIMESTAMPTZ, json
//     SUPER (Dialect::json_type, which a PostgreSQL-run test sets to jsonb).
//   - No ON CONFLICT and primary keys are not enforced: a merge is DELETE ... USING the
//     staging table, then INSERT ... SELECT of the last delivered row of each key
//     (ROW_NUMBER() over the key ordered by _ferry_seq, the delivery order, descending).
//     The child rows of re-delivered roots go first, by DELETE ... USING as well.
//   - TRUNCATE commits the transaction it runs in: a table is emptied with DELETE.
//   - One ADD COLUMN per ALTER TABLE, and no ALTER COLUMN ... TYPE but for VARCHAR lengths:
//     widening a column is add / UPDATE ... SET = CAST / drop / rename.
//   - String literals treat a backslash as an escape: literal() doubles backslashes and
//     quotes. (A PostgreSQL session emulates this with standard_conforming_strings off.)
//   - Rows arrive by COPY ... FROM 's3://.../manifest' MANIFEST CSV GZIP: every non-null
//     value double-quoted, a null the unquoted marker \N (NULL AS '\\N'), so an empty string
//     stays an empty string (no EMPTYASNULL, no BLANKSASNULL); DATEFORMAT and TIMEFORMAT
//     'auto'; COMPUPDATE OFF and STATUPDATE OFF (a staging table is dropped at commit).
//
// Thread-safety: pure functions. Secrets (the COPY's credentials) appear only in the text of
// copy_from_manifest(), which is sent to the cluster and never put into a message.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/reject.h"
#include "core/types.h"

namespace ferry::redshift {

// The longest VARCHAR value, in bytes.
inline constexpr size_t kMaxVarcharBytes = 65535;
// Staging column holding each row's delivery order within the load.
inline constexpr const char* kSeqColumn = "_ferry_seq";

// What differs between a Redshift cluster and the PostgreSQL that tests run the SQL on.
struct Dialect {
  std::string json_type = "SUPER";
};

// How COPY reads the staging bucket: an IAM role the cluster assumes (preferred), else an
// access key (with a session token for temporary credentials).
struct CopyAuth {
  std::string iam_role;
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
};

// 'text' with ' and \ escaped for Redshift.
std::string literal(std::string_view text);
// "schema"."table"
std::string qualified(std::string_view schema, std::string_view table);

// The column type ferry creates for `type`.
std::string column_type(Type type, const Dialect& dialect);
// ferry's type of a column whose information_schema.columns.data_type is `data_type`
// (types ferry has no own type for are text).
Type type_of(std::string_view data_type);

// ferry's tables (_ferry_loads, _ferry_state, _ferry_rejects) and the schema, when missing.
std::vector<std::string> create_ferry_tables(std::string_view schema);
// Columns of a table in order: column_name, data_type.
std::string columns_query(std::string_view schema, std::string_view table);
// Tables of the schema whose name starts with `prefix` (ferry's own excluded).
std::string tables_query(std::string_view schema, std::string_view prefix);

// CREATE TABLE of a warehouse table: the fields then _ferry_load_id VARCHAR(64).
std::string create_table(std::string_view qualified_name, const std::vector<Field>& fields,
                         const Dialect& dialect);
// CREATE TEMP TABLE of a staging table: the fields then _ferry_seq BIGINT.
std::string create_staging(std::string_view name, const std::vector<Field>& fields,
                           const Dialect& dialect);
std::string add_column(std::string_view qualified_name, const Field& field, const Dialect& dialect);
// Changes column `column` from `from` to `to` (a widening, core/types.h) in four statements;
// the column moves to the end of the table.
std::vector<std::string> widen_column(std::string_view qualified_name, std::string_view column,
                                      Type to, const Dialect& dialect);

// The manifest of a COPY: {"entries":[{"url":"s3://b/k","mandatory":true},...]}.
std::string manifest_json(std::string_view bucket, const std::vector<std::string>& keys);
// COPY `table` (columns) FROM the manifest at s3://bucket/manifest_key. Holds the secret of
// `auth` when it has no IAM role.
std::string copy_from_manifest(std::string_view table, const std::vector<std::string>& columns,
                               std::string_view bucket, std::string_view manifest_key,
                               std::string_view region, const CopyAuth& auth);
// The rows the last COPY of the session rejected (file, line, column, reason, value), from
// stl_load_errors (provisioned clusters) or sys_load_error_detail (serverless).
std::string load_errors_query();
std::string load_errors_query_serverless();

// Rows of `staging` into `target` (columns as listed; _ferry_load_id = load_id).
std::string append_rows(std::string_view target, std::string_view staging,
                        const std::vector<std::string>& columns, std::string_view load_id);
// merge: the target's rows of every key in staging go, then the last delivered staging row
// of each key comes in. Two statements, in this order.
std::vector<std::string> merge_rows(std::string_view target, std::string_view staging,
                                    const std::vector<std::string>& columns,
                                    const std::vector<std::string>& primary_key,
                                    std::string_view load_id);
// merge: the rows of child table `child` (a `<root>__<field>` table, linked by
// _ferry_root_id) whose root record is re-delivered: their _ferry_root_id is the _ferry_id of
// a row of `staging` (the root's staging table) or, with `target_has_id`, of a row of the root
// table `target` with the primary key of a staging row (a re-delivered record whose id
// changed). One DELETE ... USING each; they must run before merge_rows() deletes the target's
// rows. `as_text` compares the ids as VARCHAR(65535), for when their column types differ.
std::vector<std::string> delete_replaced_children(std::string_view child, std::string_view target,
                                                  std::string_view staging,
                                                  const std::vector<std::string>& primary_key,
                                                  bool target_has_id, bool as_text);
// replace: the new version `new_table` (in `schema`) takes the place of `table`.
std::vector<std::string> swap_in(std::string_view schema, std::string_view table,
                                 std::string_view new_table);
// replace: empties a table that got no rows in the load. A DELETE: TRUNCATE would commit the
// load's transaction on Redshift.
std::string empty_table(std::string_view qualified_name);

// The load id's claim: lock _ferry_loads (commits of one warehouse serialize here), then
// whether the id is there. record_load() inserts it.
std::vector<std::string> claim_load(std::string_view schema, std::string_view load_id);
std::string record_load(std::string_view schema, std::string_view load_id, std::string_view job_id,
                        std::string_view run_id, int64_t rows_loaded, int64_t rows_rejected,
                        std::string_view now);
std::string read_state(std::string_view schema, std::string_view job_id);
// DELETE then INSERT of the job's state (`state_json`, at most kMaxVarcharBytes).
std::vector<std::string> save_state(std::string_view schema, std::string_view job_id,
                                    std::string_view state_json, std::string_view now);
// One INSERT of every reject (raw text cut to fit VARCHAR(65535)); "" for none.
std::string insert_rejects(std::string_view schema, std::string_view job_id,
                           std::string_view run_id, std::string_view load_id,
                           const std::vector<Reject>& rejects, std::string_view now);

// The longest prefix of `text` of at most `max_bytes` that does not cut a UTF-8 character.
std::string_view utf8_prefix(std::string_view text, size_t max_bytes);
// "2024-01-02 03:04:05.000000+00" (UTC), as literals and CSV values carry timestamps.
std::string timestamp_text(std::chrono::system_clock::time_point t);

}  // namespace ferry::redshift
