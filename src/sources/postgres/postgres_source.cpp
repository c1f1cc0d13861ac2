#include "sources/postgres/postgres_source.h"

#include <cmath>
#include <cstdlib>

#include "core/infer.h"
#include "core/names.h"
#include "core/postgres.h"

namespace ferry {
namespace {

constexpr size_t kBatchRows = 8192;

// A column of the source's result as ferry reads it.
struct SourceColumn {
  std::string name;  // as PostgreSQL names it
  std::string expr;  // what the COPY selects for it
  Type type = Type::kText;
};

// ferry's type for a PostgreSQL type (pg_type.typname, typcategory); see the header.
Type type_of(std::string_view typname, std::string_view category) {
  if (category == "A") return Type::kJson;
  if (typname == "bool") return Type::kBool;
  if (typname == "int2" || typname == "int4" || typname == "int8" || typname == "oid")
    return Type::kInt;
  if (typname == "float4" || typname == "float8") return Type::kDouble;
  if (typname == "numeric") return Type::kDecimal;
  if (typname == "date") return Type::kDate;
  if (typname == "timestamp" || typname == "timestamptz") return Type::kTimestamp;
  if (typname == "json" || typname == "jsonb") return Type::kJson;
  return Type::kText;
}

// "schema.table" or "table" as a quoted name; a name already quoted is used as written.
std::string quoted_table(const std::string& table) {
  if (table.find('"') != std::string::npos) return table;
  size_t dot = table.find('.');
  if (dot == std::string::npos) return quote_ident(table);
  return quote_ident(table.substr(0, dot)) + "." + quote_ident(table.substr(dot + 1));
}

// Appends one non-null COPY text field as `type`; values the type cannot hold are text.
void append_field(Column& col, Type type, std::string_view v) {
  switch (type) {
    case Type::kBool:
      if (v == "t") return col.append_bool(true, "true");
      if (v == "f") return col.append_bool(false, "false");
      break;
    case Type::kInt: {
      int64_t i;
      if (parse_int64(v, &i)) return col.append_int(i, v);
      break;
    }
    case Type::kDouble: {
      // PostgreSQL writes NaN, Infinity and -Infinity too, which strtod reads.
      std::string s(v);
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && end == s.c_str() + s.size()) return col.append_double(d, v);
      break;
    }
    case Type::kDate: {
      int64_t days;
      if (parse_date(v, &days)) return col.append_date(days, v);
      break;
    }
    case Type::kTimestamp: {
      int64_t us;
      if (parse_timestamp(v, &us)) return col.append_timestamp(us, v);
      break;
    }
    case Type::kDecimal:
      if (v != "NaN") return col.append_text(Type::kDecimal, v);
      break;
    case Type::kJson:
      return col.append_text(Type::kJson, v);
    case Type::kNull:
    case Type::kText:
      break;
  }
  col.append_text(Type::kText, v);
}

enum class NullCursor { kInclude, kError };

class PostgresSource final : public Source {
 public:
  Status open(const SourceContext& ctx) override {
    ctx_ = ctx;
    table_ = ctx.options.value("table", "");
    query_ = ctx.options.value("query", "");
    if (table_.empty() == query_.empty())
      return Status::invalid("postgres source: give either table or query (job {})", ctx.job_id);
    cursor_ = ctx.cursor_field;
    std::string nc = ctx.options.value("null_cursor", "include");
    if (nc == "include") {
      null_cursor_ = NullCursor::kInclude;
    } else if (nc == "error") {
      null_cursor_ = NullCursor::kError;
    } else {
      return Status::invalid("postgres source: null_cursor must be include or error, not '{}'", nc);
    }
    FERRY_ASSIGN(PgConnectOptions options, pg_connect_options(ctx.connection));
    FERRY_ASSIGN(conn_, PgConn::connect(options));
    return Status::success();
  }

  Result<std::vector<StreamInfo>> discover() override {
    FERRY_ASSIGN(std::vector<SourceColumn> cols, describe());
    StreamInfo info;
    info.name = what();
    for (const SourceColumn& c : cols)
      info.fields.push_back(Field{sanitize_name(c.name), c.type, true});
    return std::vector<StreamInfo>{info};
  }

  Status read(SourceSink& sink) override {
    // One snapshot for the catalog look-up and every row.
    FERRY_TRY(conn_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    Status st = read_rows(sink);
    if (st) return conn_.exec("COMMIT");
    if (conn_.connected()) static_cast<void>(conn_.exec("ROLLBACK"));
    return st;
  }

 private:
  // The table or "query", for messages and the rows' origin.
  std::string what() const { return table_.empty() ? "query" : "table " + table_; }
  std::string base_query() const {
    return table_.empty() ? query_ : "SELECT * FROM " + quoted_table(table_);
  }

  Result<std::vector<SourceColumn>> describe() {
    auto shape = conn_.query("SELECT * FROM (" + base_query() + ") _ferry_q LIMIT 0");
    if (!shape.ok()) return shape.status().with_context("postgres source, " + what());
    std::string oids;
    for (int c = 0; c < shape->columns(); ++c)
      oids += (c ? "," : "") + std::to_string(shape->column_type(c));
    FERRY_ASSIGN(PgResult types,
                 conn_.query("SELECT oid::text, typname::text, typcategory::text FROM pg_type "
                             "WHERE oid = ANY($1::oid[])",
                             {"{" + oids + "}"}));
    std::vector<SourceColumn> cols;
    for (int c = 0; c < shape->columns(); ++c) {
      SourceColumn col;
      col.name = shape->column_name(c);
      std::string oid = std::to_string(shape->column_type(c));
      std::string_view typname, category;
      for (int r = 0; r < types.rows(); ++r) {
        if (types.value(r, 0) != oid) continue;
        typname = types.value(r, 1);
        category = types.value(r, 2);
      }
      col.type = type_of(typname, category);
      std::string q = "_ferry_q." + quote_ident(col.name);
      // Arrays are read as JSON; everything else in PostgreSQL's own text form.
      col.expr = category == "A" ? "to_json(" + q + ")" : q;
      cols.push_back(std::move(col));
    }
    return cols;
  }

  Status read_rows(SourceSink& sink) {
    FERRY_ASSIGN(std::vector<SourceColumn> cols, describe());
    int cursor = -1;
    for (size_t i = 0; i < cols.size(); ++i)
      if (!cursor_.empty() && (cols[i].name == cursor_ || sanitize_name(cols[i].name) == cursor_))
        cursor = static_cast<int>(i);
    if (!cursor_.empty() && cursor < 0)
      return Status::invalid("postgres source: incremental.cursor_field {} is not a column of {}",
                             cursor_, what());

    std::string select;
    for (const SourceColumn& c : cols)
      select += (select.empty() ? "" : ", ") + c.expr;
    std::string sql =
        "SELECT " + (select.empty() ? "1" : select) + " FROM (" + base_query() + ") _ferry_q";
    if (cursor >= 0 && !ctx_.watermark.empty() && !ctx_.full_refresh) {
      std::string q = "_ferry_q." + quote_ident(cols[static_cast<size_t>(cursor)].name);
      // Rows with a NULL cursor are read too: included, or seen to fail the run (error).
      sql += fmt::format(" WHERE {} >= {} OR {} IS NULL", q, quote_literal(ctx_.watermark), q);
    }
    Status st = conn_.copy_out_begin("COPY (" + sql + ") TO STDOUT");
    if (!st) return st.with_context("postgres source, " + what());

    Batch batch;
    batch.set_origin_source(conn_.name() + " " + what());
    for (const SourceColumn& c : cols)
      batch.column_index(sanitize_name(c.name));
    int64_t null_cursors = 0;
    std::string field;
    auto push = [&]() -> Status {
      if (batch.num_rows() == 0) return Status::success();
      for (size_t i = 0; i < cols.size(); ++i)
        batch.column(i).set_type(widen(batch.column(i).type(), cols[i].type));
      FERRY_TRY(sink.rows(batch));
      batch.clear();
      return Status::success();
    };
    for (;;) {
      auto row = conn_.copy_get();
      if (!row.ok()) return row.status().with_context("postgres source, " + what());
      if (!row->has_value()) break;
      std::string_view line = **row;
      if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
      size_t col = 0;
      size_t start = 0;
      for (;;) {
        size_t tab = line.find('\t', start);
        std::string_view v = line.substr(
            start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
        if (col < cols.size()) {
          Column& out = batch.column(col);
          if (v == "\\N") {
            out.append_null();
            if (static_cast<int>(col) == cursor) ++null_cursors;
          } else if (v.find('\\') == std::string_view::npos) {
            append_field(out, cols[col].type, v);
          } else {
            pg_copy_unescape(v, field);
            append_field(out, cols[col].type, field);
          }
        }
        ++col;
        if (tab == std::string_view::npos) break;
        start = tab + 1;
      }
      if (col != cols.size() && !cols.empty())
        return Status::io("postgres source, {}: a row has {} fields for {} columns", what(), col,
                          cols.size());
      batch.end_row();
      if (null_cursors > 0 && null_cursor_ == NullCursor::kError)
        return Status::invalid(
            "postgres source, {}: a row has a NULL {} (incremental.cursor_field; null_cursor: "
            "error)",
            what(), cursor_);
      if (batch.num_rows() >= kBatchRows) {
        if (sink.cancelled()) return Status(Code::kCancelled, "cancelled");
        FERRY_TRY(push());
      }
    }
    return push();
  }

  SourceContext ctx_;
  PgConn conn_;
  std::string table_, query_, cursor_;
  NullCursor null_cursor_ = NullCursor::kInclude;
};

}  // namespace

SourceDescriptor postgres_source_descriptor() {
  SourceDescriptor d;
  d.decl.kind = "postgres";
  d.decl.description =
      "PostgreSQL: a table or query, streamed with COPY from one snapshot; incremental on a "
      "cursor column.";
  d.decl.is_source = true;
  d.decl.connection_options = pg_connection_options();
  d.decl.source_options = {
      {"table", OptionType::kString, "", "Table to read, schema-qualified or not (or `query`).",
       false, false},
      {"query", OptionType::kString, "", "SQL query to read instead of a table.", false, false},
      {"null_cursor", OptionType::kString, "include",
       "Rows whose cursor is NULL: include (read on every run) or error (fail the run).", false,
       false},
  };
  d.create = [] { return std::make_unique<PostgresSource>(); };
  return d;
}

}  // namespace ferry
