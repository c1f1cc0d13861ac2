#include "destinations/redshift/redshift_sql.h"

#include <fmt/format.h>

#include "core/infer.h"
#include "core/names.h"

namespace ferry::redshift {
namespace {

constexpr size_t kMaxRawBytes = 60000;  // of a reject's raw text, leaving room for escapes
constexpr const char* kWidenSuffix = "__ferry_widen";

std::string join_idents(const std::vector<std::string>& names, std::string_view prefix = "") {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += std::string(prefix) + quote_ident(n);
  }
  return out;
}

std::string column_list(const std::vector<Field>& fields, const Dialect& dialect) {
  std::string out;
  for (const Field& f : fields)
    out += quote_ident(f.name) + " " + column_type(f.type, dialect) + ", ";
  return out;
}

// Characters of UTF-8 text (LEFT() counts characters, not bytes).
size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (char c : text)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace

std::string literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out.push_back(c);
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string qualified(std::string_view schema, std::string_view table) {
  return quote_ident(schema) + "." + quote_ident(table);
}

std::string column_type(Type type, const Dialect& dialect) {
  switch (type) {
    case Type::kBool:
      return "BOOLEAN";
    case Type::kInt:
      return "BIGINT";
    case Type::kDouble:
      return "DOUBLE PRECISION";
    case Type::kDecimal:
      return "DECIMAL(38,10)";
    case Type::kDate:
      return "DATE";
    case Type::kTimestamp:
      return "TIMESTAMPTZ";
    case Type::kJson:
      return dialect.json_type;
    case Type::kNull:
    case Type::kText:
      break;
  }
  return "VARCHAR(65535)";
}

Type type_of(std::string_view t) {
  if (t == "boolean") return Type::kBool;
  if (t == "smallint" || t == "integer" || t == "bigint") return Type::kInt;
  if (t == "real" || t == "double precision") return Type::kDouble;
  if (t == "numeric") return Type::kDecimal;
  if (t == "date") return Type::kDate;
  if (t.starts_with("timestamp")) return Type::kTimestamp;
  if (t == "super" || t == "json" || t == "jsonb") return Type::kJson;
  return Type::kText;
}

std::vector<std::string> create_ferry_tables(std::string_view schema) {
  return {
      "CREATE SCHEMA IF NOT EXISTS " + quote_ident(schema),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (load_id VARCHAR(256) NOT NULL, job_id "
                  "VARCHAR(1024) NOT NULL, run_id VARCHAR(256), committed_at TIMESTAMPTZ NOT "
                  "NULL, rows_loaded BIGINT, rows_rejected BIGINT, PRIMARY KEY (load_id))",
                  qualified(schema, "_ferry_loads")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (job_id VARCHAR(1024) NOT NULL, state "
                  "VARCHAR(65535) NOT NULL, updated_at TIMESTAMPTZ NOT NULL, PRIMARY KEY "
                  "(job_id))",
                  qualified(schema, "_ferry_state")),
      fmt::format("CREATE TABLE IF NOT EXISTS {} (job_id VARCHAR(1024), run_id VARCHAR(256), "
                  "load_id VARCHAR(256), source VARCHAR(4096), line BIGINT, byte_offset BIGINT, "
                  "reason VARCHAR(65535), raw VARCHAR(65535), rejected_at TIMESTAMPTZ NOT NULL)",
                  qualified(schema, "_ferry_rejects")),
  };
}

std::string columns_query(std::string_view schema, std::string_view table) {
  return fmt::format(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = {} "
      "AND table_name = {} ORDER BY ordinal_position",
      literal(schema), literal(table));
}

std::string tables_query(std::string_view schema, std::string_view prefix) {
  return fmt::format(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = {} AND "
      "table_type = 'BASE TABLE' AND LEFT(table_name, {}) = {} AND LEFT(table_name, 7) <> "
      "'_ferry_' ORDER BY table_name",
      literal(schema), utf8_length(prefix), literal(prefix));
}

std::string create_table(std::string_view qualified_name, const std::vector<Field>& fields,
                         const Dialect& dialect) {
  return fmt::format("CREATE TABLE {} ({}{} VARCHAR(64))", qualified_name,
                     column_list(fields, dialect), quote_ident(kLoadIdColumn));
}

std::string create_staging(std::string_view name, const std::vector<Field>& fields,
                           const Dialect& dialect) {
  return fmt::format("CREATE TEMP TABLE {} ({}{} BIGINT NOT NULL)", name,
                     column_list(fields, dialect), quote_ident(kSeqColumn));
}

std::string add_column(std::string_view qualified_name, const Field& field,
                       const Dialect& dialect) {
  return fmt::format("ALTER TABLE {} ADD COLUMN {} {}", qualified_name, quote_ident(field.name),
                     column_type(field.type, dialect));
}

std::vector<std::string> widen_column(std::string_view qualified_name, std::string_view column,
                                      Type to, const Dialect& dialect) {
  std::string col = quote_ident(column);
  std::string tmp = quote_ident(std::string(column) + kWidenSuffix);
  std::string type = column_type(to, dialect);
  return {
      fmt::format("ALTER TABLE {} ADD COLUMN {} {}", qualified_name, tmp, type),
      fmt::format("UPDATE {} SET {} = CAST({} AS {})", qualified_name, tmp, col, type),
      fmt::format("ALTER TABLE {} DROP COLUMN {}", qualified_name, col),
      fmt::format("ALTER TABLE {} RENAME COLUMN {} TO {}", qualified_name, tmp, col),
  };
}

std::string manifest_json(std::string_view bucket, const std::vector<std::string>& keys) {
  std::string out = "{\"entries\":[";
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += ",";
    // Keys are ferry's own (letters, digits, '/', '-', '_', '.'): nothing to escape.
    out += fmt::format("{{\"url\":\"s3://{}/{}\",\"mandatory\":true}}", bucket, keys[i]);
  }
  return out + "]}";
}

std::string copy_from_manifest(std::string_view table, const std::vector<std::string>& columns,
                               std::string_view bucket, std::string_view manifest_key,
                               std::string_view region, const CopyAuth& auth) {
  std::string how;
  if (!auth.iam_role.empty()) {
    how = "IAM_ROLE " + literal(auth.iam_role);
  } else {
    std::string creds = "aws_access_key_id=" + auth.access_key_id +
                        ";aws_secret_access_key=" + auth.secret_access_key;
    if (!auth.session_token.empty()) creds += ";token=" + auth.session_token;
    how = "CREDENTIALS " + literal(creds);
  }
  return fmt::format(
      "COPY {} ({}) FROM {} {} MANIFEST REGION {} CSV GZIP NULL AS {} DATEFORMAT 'auto' "
      "TIMEFORMAT 'auto' COMPUPDATE OFF STATUPDATE OFF",
      table, join_idents(columns), literal(fmt::format("s3://{}/{}", bucket, manifest_key)), how,
      literal(region), literal("\\N"));
}

std::string load_errors_query() {
  return "SELECT TRIM(filename), line_number, TRIM(colname), TRIM(err_reason), "
         "TRIM(raw_field_value) FROM stl_load_errors WHERE query = pg_last_copy_id() ORDER BY "
         "starttime, line_number LIMIT 10";
}

std::string load_errors_query_serverless() {
  return "SELECT TRIM(file_name), line_number, TRIM(column_name), TRIM(error_message), "
         "TRIM(column_value) FROM sys_load_error_detail WHERE query_id = pg_last_copy_id() "
         "ORDER BY start_time, line_number LIMIT 10";
}

std::string append_rows(std::string_view target, std::string_view staging,
                        const std::vector<std::string>& columns, std::string_view load_id) {
  return fmt::format("INSERT INTO {} ({}, {}) SELECT {}, {} FROM {}", target, join_idents(columns),
                     quote_ident(kLoadIdColumn), join_idents(columns), literal(load_id), staging);
}

std::vector<std::string> merge_rows(std::string_view target, std::string_view staging,
                                    const std::vector<std::string>& columns,
                                    const std::vector<std::string>& primary_key,
                                    std::string_view load_id) {
  std::string match;
  for (const std::string& k : primary_key) {
    if (!match.empty()) match += " AND ";
    match += fmt::format("{}.{} = {}.{}", target, quote_ident(k), staging, quote_ident(k));
  }
  return {
      fmt::format("DELETE FROM {} USING {} WHERE {}", target, staging, match),
      fmt::format("INSERT INTO {} ({}, {}) SELECT {}, {} FROM (SELECT *, ROW_NUMBER() OVER "
                  "(PARTITION BY {} ORDER BY {} DESC) AS _ferry_rn FROM {}) AS s WHERE "
                  "_ferry_rn = 1",
                  target, join_idents(columns), quote_ident(kLoadIdColumn), join_idents(columns),
                  literal(load_id), join_idents(primary_key), quote_ident(kSeqColumn), staging),
  };
}

std::vector<std::string> delete_replaced_children(std::string_view child, std::string_view target,
                                                  std::string_view staging,
                                                  const std::vector<std::string>& primary_key,
                                                  bool target_has_id, bool as_text) {
  auto id = [&](std::string_view table, const char* column) {
    std::string ref = fmt::format("{}.{}", table, quote_ident(column));
    return as_text ? "CAST(" + ref + " AS VARCHAR(65535))" : ref;
  };
  std::string root_id = id(child, kRootIdColumn);
  std::vector<std::string> out = {fmt::format("DELETE FROM {} USING {} WHERE {} = {}", child,
                                              staging, root_id, id(staging, kRowIdColumn))};
  if (!target_has_id) return out;
  std::string match;
  for (const std::string& k : primary_key)
    match += fmt::format(" AND {}.{} = {}.{}", target, quote_ident(k), staging, quote_ident(k));
  out.push_back(fmt::format("DELETE FROM {} USING {}, {} WHERE {} = {}{}", child, target, staging,
                            root_id, id(target, kRowIdColumn), match));
  return out;
}

std::vector<std::string> swap_in(std::string_view schema, std::string_view table,
                                 std::string_view new_table) {
  return {
      "DROP TABLE IF EXISTS " + qualified(schema, table),
      fmt::format("ALTER TABLE {} RENAME TO {}", qualified(schema, new_table), quote_ident(table)),
  };
}

std::string empty_table(std::string_view qualified_name) {
  return "DELETE FROM " + std::string(qualified_name);
}

std::vector<std::string> claim_load(std::string_view schema, std::string_view load_id) {
  std::string loads = qualified(schema, "_ferry_loads");
  return {
      "LOCK " + loads,
      fmt::format("SELECT 1 FROM {} WHERE load_id = {}", loads, literal(load_id)),
  };
}

std::string record_load(std::string_view schema, std::string_view load_id, std::string_view job_id,
                        std::string_view run_id, int64_t rows_loaded, int64_t rows_rejected,
                        std::string_view now) {
  return fmt::format(
      "INSERT INTO {} (load_id, job_id, run_id, committed_at, rows_loaded, rows_rejected) "
      "VALUES ({}, {}, {}, {}, {}, {})",
      qualified(schema, "_ferry_loads"), literal(load_id), literal(job_id), literal(run_id),
      literal(now), rows_loaded, rows_rejected);
}

std::string read_state(std::string_view schema, std::string_view job_id) {
  return fmt::format("SELECT state FROM {} WHERE job_id = {}", qualified(schema, "_ferry_state"),
                     literal(job_id));
}

std::vector<std::string> save_state(std::string_view schema, std::string_view job_id,
                                    std::string_view state_json, std::string_view now) {
  std::string state = qualified(schema, "_ferry_state");
  return {
      fmt::format("DELETE FROM {} WHERE job_id = {}", state, literal(job_id)),
      fmt::format("INSERT INTO {} (job_id, state, updated_at) VALUES ({}, {}, {})", state,
                  literal(job_id), literal(state_json), literal(now)),
  };
}

std::string insert_rejects(std::string_view schema, std::string_view job_id,
                           std::string_view run_id, std::string_view load_id,
                           const std::vector<Reject>& rejects, std::string_view now) {
  if (rejects.empty()) return "";
  std::string sql = fmt::format(
      "INSERT INTO {} (job_id, run_id, load_id, source, line, byte_offset, reason, raw, "
      "rejected_at) VALUES ",
      qualified(schema, "_ferry_rejects"));
  for (size_t i = 0; i < rejects.size(); ++i) {
    const Reject& r = rejects[i];
    sql +=
        fmt::format("{}({}, {}, {}, {}, {}, {}, {}, {}, {})", i > 0 ? ", " : "", literal(job_id),
                    literal(run_id), literal(load_id), literal(utf8_prefix(r.origin.source, 4096)),
                    r.origin.line > 0 ? std::to_string(r.origin.line) : "NULL",
                    r.origin.offset >= 0 ? std::to_string(r.origin.offset) : "NULL",
                    literal(utf8_prefix(r.reason, kMaxRawBytes)),
                    literal(utf8_prefix(r.raw, kMaxRawBytes)), literal(now));
  }
  return sql;
}

std::string_view utf8_prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t n = max_bytes;
  // Back off over continuation bytes (10xxxxxx) to the start of the cut character.
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
    --n;
  return text.substr(0, n);
}

std::string timestamp_text(std::chrono::system_clock::time_point t) {
  int64_t micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::string s = format_timestamp(micros);  // 2024-01-02T03:04:05[.ffffff]Z
  s[10] = ' ';
  s.pop_back();
  return s + "+00";
}

}  // namespace ferry::redshift
