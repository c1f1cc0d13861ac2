// Golden tests: the exact SQL the redshift warehouse sends. These are the only check of the
// Redshift-only statements (SUPER, COPY ... MANIFEST with IAM_ROLE or CREDENTIALS,
// stl_load_errors); the rest also runs on PostgreSQL in tests/integration/redshift_test.cpp.
#include "destinations/redshift/redshift_sql.h"

#include <gtest/gtest.h>

#include "core/redact.h"

namespace ferry::redshift {
namespace {

using Strings = std::vector<std::string>;

TEST(RedshiftSql, CreateTableWithEveryType) {
  std::vector<Field> fields = {
      {"b", Type::kBool, true},       {"i", Type::kInt, true},  {"d", Type::kDouble, true},
      {"n", Type::kDecimal, true},    {"t", Type::kText, true}, {"day", Type::kDate, true},
      {"at", Type::kTimestamp, true}, {"j", Type::kJson, true},
  };
  EXPECT_EQ(create_table(qualified("wh", "ods"), fields, Dialect{}),
            "CREATE TABLE \"wh\".\"ods\" (\"b\" BOOLEAN, \"i\" BIGINT, \"d\" DOUBLE PRECISION, "
            "\"n\" DECIMAL(38,10), \"t\" VARCHAR(65535), \"day\" DATE, \"at\" TIMESTAMPTZ, "
            "\"j\" SUPER, \"_ferry_load_id\" VARCHAR(64))");
  EXPECT_EQ(create_staging("\"_ferry_stage_1\"", {fields[1], fields[7]}, Dialect{"jsonb"}),
            "CREATE TEMP TABLE \"_ferry_stage_1\" (\"i\" BIGINT, \"j\" jsonb, \"_ferry_seq\" "
            "BIGINT NOT NULL)");
}

TEST(RedshiftSql, AddAndWidenColumn) {
  EXPECT_EQ(add_column("\"s\".\"t\"", Field{"coupon", Type::kText, true}, Dialect{}),
            "ALTER TABLE \"s\".\"t\" ADD COLUMN \"coupon\" VARCHAR(65535)");
  EXPECT_EQ(widen_column("\"s\".\"t\"", "qty", Type::kDouble, Dialect{}),
            (Strings{
                "ALTER TABLE \"s\".\"t\" ADD COLUMN \"qty__ferry_widen\" DOUBLE PRECISION",
                "UPDATE \"s\".\"t\" SET \"qty__ferry_widen\" = CAST(\"qty\" AS DOUBLE PRECISION)",
                "ALTER TABLE \"s\".\"t\" DROP COLUMN \"qty\"",
                "ALTER TABLE \"s\".\"t\" RENAME COLUMN \"qty__ferry_widen\" TO \"qty\"",
            }));
}

TEST(RedshiftSql, CopyWithIamRole) {
  CopyAuth auth;
  auth.iam_role = "arn:aws:iam::123456789012:role/ferry-load";
  EXPECT_EQ(copy_from_manifest("\"_ferry_stage_1\"", {"id", "name", "_ferry_seq"}, "stage-bkt",
                               "ferry-staging/L1/ods/1.manifest", "eu-west-1", auth),
            "COPY \"_ferry_stage_1\" (\"id\", \"name\", \"_ferry_seq\") FROM "
            "'s3://stage-bkt/ferry-staging/L1/ods/1.manifest' IAM_ROLE "
            "'arn:aws:iam::123456789012:role/ferry-load' MANIFEST REGION 'eu-west-1' CSV GZIP "
            "NULL AS '\\\\N' DATEFORMAT 'auto' TIMEFORMAT 'auto' COMPUPDATE OFF STATUPDATE OFF");
}

TEST(RedshiftSql, CopyWithCredentialsCarriesTheSecretOnlyInTheStatement) {
  CopyAuth auth;
  auth.access_key_id = "AKIAEXAMPLE";
  auth.secret_access_key = "wJalrXUtnFEMI/K7MDENG";
  auth.session_token = "FQoGZXIvYXdzEXAMPLETOKEN";
  std::string sql = copy_from_manifest("\"_ferry_stage_2\"", {"a", "_ferry_seq"}, "b",
                                       "p/2.manifest", "us-east-1", auth);
  EXPECT_EQ(sql,
            "COPY \"_ferry_stage_2\" (\"a\", \"_ferry_seq\") FROM 's3://b/p/2.manifest' "
            "CREDENTIALS 'aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key="
            "wJalrXUtnFEMI/K7MDENG;token=FQoGZXIvYXdzEXAMPLETOKEN' MANIFEST REGION 'us-east-1' "
            "CSV GZIP NULL AS '\\\\N' DATEFORMAT 'auto' TIMEFORMAT 'auto' COMPUPDATE OFF "
            "STATUPDATE OFF");
  // The destination registers the secrets; anything that echoes the statement is redacted.
  register_secret(auth.secret_access_key);
  register_secret(auth.session_token);
  std::string shown = redact("COPY failed: " + sql);
  EXPECT_EQ(shown.find(auth.secret_access_key), std::string::npos);
  EXPECT_EQ(shown.find(auth.session_token), std::string::npos);
}

TEST(RedshiftSql, MergeWithCompositeKeyDeduplicatesByDeliveryOrder) {
  EXPECT_EQ(merge_rows("\"wh\".\"orders\"", "\"_ferry_stage_1\"", {"store", "id", "total"},
                       {"store", "id"}, "L-1"),
            (Strings{
                "DELETE FROM \"wh\".\"orders\" USING \"_ferry_stage_1\" WHERE "
                "\"wh\".\"orders\".\"store\" = \"_ferry_stage_1\".\"store\" AND "
                "\"wh\".\"orders\".\"id\" = \"_ferry_stage_1\".\"id\"",
                "INSERT INTO \"wh\".\"orders\" (\"store\", \"id\", \"total\", \"_ferry_load_id\") "
                "SELECT \"store\", \"id\", \"total\", 'L-1' FROM (SELECT *, ROW_NUMBER() OVER "
                "(PARTITION BY \"store\", \"id\" ORDER BY \"_ferry_seq\" DESC) AS _ferry_rn FROM "
                "\"_ferry_stage_1\") AS s WHERE _ferry_rn = 1",
            }));
}

TEST(RedshiftSql, MergeDeletesTheChildRowsOfRedeliveredRoots) {
  // The roots' new ids from staging, and the ids of the rows they replace from the target.
  EXPECT_EQ(delete_replaced_children("\"wh\".\"orders__items\"", "\"wh\".\"orders\"",
                                     "\"_ferry_stage_1\"", {"store", "id"}, true, false),
            (Strings{
                "DELETE FROM \"wh\".\"orders__items\" USING \"_ferry_stage_1\" WHERE "
                "\"wh\".\"orders__items\".\"_ferry_root_id\" = "
                "\"_ferry_stage_1\".\"_ferry_id\"",
                "DELETE FROM \"wh\".\"orders__items\" USING \"wh\".\"orders\", "
                "\"_ferry_stage_1\" WHERE \"wh\".\"orders__items\".\"_ferry_root_id\" = "
                "\"wh\".\"orders\".\"_ferry_id\" AND \"wh\".\"orders\".\"store\" = "
                "\"_ferry_stage_1\".\"store\" AND \"wh\".\"orders\".\"id\" = "
                "\"_ferry_stage_1\".\"id\"",
            }));
  // A root table that had no _ferry_id: only the staged ids; ids of two types compare as text.
  EXPECT_EQ(delete_replaced_children("\"wh\".\"o__tags\"", "\"wh\".\"o\"", "\"_ferry_stage_2\"",
                                     {"id"}, false, true),
            (Strings{
                "DELETE FROM \"wh\".\"o__tags\" USING \"_ferry_stage_2\" WHERE "
                "CAST(\"wh\".\"o__tags\".\"_ferry_root_id\" AS VARCHAR(65535)) = "
                "CAST(\"_ferry_stage_2\".\"_ferry_id\" AS VARCHAR(65535))",
            }));
}

TEST(RedshiftSql, Append) {
  EXPECT_EQ(append_rows("\"wh\".\"ods\"", "\"_ferry_stage_3\"", {"id", "name"}, "it's"),
            "INSERT INTO \"wh\".\"ods\" (\"id\", \"name\", \"_ferry_load_id\") SELECT \"id\", "
            "\"name\", 'it''s' FROM \"_ferry_stage_3\"");
}

TEST(RedshiftSql, ReplaceSwap) {
  EXPECT_EQ(swap_in("wh", "dim", "dim__ferry_new_abc"),
            (Strings{"DROP TABLE IF EXISTS \"wh\".\"dim\"",
                     "ALTER TABLE \"wh\".\"dim__ferry_new_abc\" RENAME TO \"dim\""}));
  // A known child table without rows in the load is emptied in the load's transaction.
  EXPECT_EQ(empty_table("\"wh\".\"dim__tags\""), "DELETE FROM \"wh\".\"dim__tags\"");
}

TEST(RedshiftSql, LoadsStateAndRejects) {
  EXPECT_EQ(claim_load("wh", "L1"),
            (Strings{"LOCK \"wh\".\"_ferry_loads\"",
                     "SELECT 1 FROM \"wh\".\"_ferry_loads\" WHERE load_id = 'L1'"}));
  EXPECT_EQ(record_load("wh", "L1", "j", "r", 3, 1, "2026-01-02 03:04:05+00"),
            "INSERT INTO \"wh\".\"_ferry_loads\" (load_id, job_id, run_id, committed_at, "
            "rows_loaded, rows_rejected) VALUES ('L1', 'j', 'r', '2026-01-02 03:04:05+00', 3, 1)");
  EXPECT_EQ(save_state("wh", "j", "{\"path\":\"C:\\\\x\"}", "2026-01-02 03:04:05+00"),
            (Strings{"DELETE FROM \"wh\".\"_ferry_state\" WHERE job_id = 'j'",
                     "INSERT INTO \"wh\".\"_ferry_state\" (job_id, state, updated_at) VALUES "
                     "('j', '{\"path\":\"C:\\\\\\\\x\"}', '2026-01-02 03:04:05+00')"}));
  Reject r;
  r.origin = Origin{"in.csv", 7, -1};
  r.reason = "too long";
  r.raw = "{\"a\": 1}";
  EXPECT_EQ(insert_rejects("wh", "j", "r", "L1", {r}, "2026-01-02 03:04:05+00"),
            "INSERT INTO \"wh\".\"_ferry_rejects\" (job_id, run_id, load_id, source, line, "
            "byte_offset, reason, raw, rejected_at) VALUES ('j', 'r', 'L1', 'in.csv', 7, NULL, "
            "'too long', '{\"a\": 1}', '2026-01-02 03:04:05+00')");
  EXPECT_EQ(insert_rejects("wh", "j", "r", "L1", {}, "x"), "");
}

TEST(RedshiftSql, LoadErrorsQuery) {
  EXPECT_EQ(load_errors_query(),
            "SELECT TRIM(filename), line_number, TRIM(colname), TRIM(err_reason), "
            "TRIM(raw_field_value) FROM stl_load_errors WHERE query = pg_last_copy_id() ORDER BY "
            "starttime, line_number LIMIT 10");
  EXPECT_EQ(load_errors_query_serverless(),
            "SELECT TRIM(file_name), line_number, TRIM(column_name), TRIM(error_message), "
            "TRIM(column_value) FROM sys_load_error_detail WHERE query_id = pg_last_copy_id() "
            "ORDER BY start_time, line_number LIMIT 10");
}

TEST(RedshiftSql, ManifestAndHelpers) {
  EXPECT_EQ(manifest_json("b", {"p/1-1.csv.gz", "p/1-2.csv.gz"}),
            "{\"entries\":[{\"url\":\"s3://b/p/1-1.csv.gz\",\"mandatory\":true},"
            "{\"url\":\"s3://b/p/1-2.csv.gz\",\"mandatory\":true}]}");
  EXPECT_EQ(literal("a'b\\c"), "'a''b\\\\c'");
  EXPECT_EQ(utf8_prefix("h\xc3\xa9llo", 2), "h");  // é is two bytes: not cut in half
  EXPECT_EQ(utf8_prefix("h\xc3\xa9llo", 3), "h\xc3\xa9");
  EXPECT_EQ(utf8_prefix("abc", 10), "abc");
  EXPECT_EQ(timestamp_text(std::chrono::system_clock::time_point(std::chrono::seconds(86400))),
            "1970-01-02 00:00:00+00");
  EXPECT_EQ(type_of("character varying"), Type::kText);
  EXPECT_EQ(type_of("timestamp with time zone"), Type::kTimestamp);
  EXPECT_EQ(type_of("super"), Type::kJson);
  EXPECT_EQ(type_of("bigint"), Type::kInt);
  EXPECT_EQ(tables_query("wh", "ods"),
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'wh' AND "
            "table_type = 'BASE TABLE' AND LEFT(table_name, 3) = 'ods' AND LEFT(table_name, 7) "
            "<> '_ferry_' ORDER BY table_name");
  // LEFT() counts characters: "café__" is 6 of them (7 bytes).
  EXPECT_EQ(tables_query("wh", "caf\xc3\xa9__"),
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'wh' AND "
            "table_type = 'BASE TABLE' AND LEFT(table_name, 6) = 'caf\xc3\xa9__' AND "
            "LEFT(table_name, 7) <> '_ferry_' ORDER BY table_name");
}

}  // namespace
}  // namespace ferry::redshift
