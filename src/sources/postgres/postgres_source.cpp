#include "sources/postgres/postgres_source.h"

#include <cmath>
#include <cstdlib>

#include "core/infer.h"
#include "core/names.h"
#include "core/postgres.h"
#include "normalize/json_text.h"

namespace ferry {
namespace {

constexpr size_t kBatchRows = 8192;

// With normalize:, a JSON Lines chunk for the normaliser holds at most kBatchRows rows and
// is handed over once it reaches about this many bytes.
constexpr size_t kChunkBytes = 8 << 20;

// A column of the source's result as ferry reads it.
struct SourceColumn {
  std::string name;     // as PostgreSQL names it
  std::string expr;     // what the COPY selects for it
  std::string typname;  // pg_type.typname
  Type type = Type::kText;
  bool normalize = false;  // listed in `normalize:`
};

// The PostgreSQL types whose values `normalize:` accepts: JSON, or text that should be.
bool normalizable(std::string_view typname) {
  return typname == "json" || typname == "jsonb" || typname == "text" || typname == "varchar" ||
         typname == "bpchar";
}

// Splits one COPY text row (without its newline) into fields: on_field(index, value, null),
// the value unescaped (valid during the call only). Returns the number of fields.
template <typename OnField>
size_t split_copy_row(std::string_view line, std::string& scratch, OnField&& on_field) {
  size_t col = 0;
  size_t start = 0;
  for (;;) {
    size_t tab = line.find('\t', start);
    std::string_view v =
        line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
    if (v == "\\N") {
      on_field(col, std::string_view(), true);
    } else if (v.find('\\') == std::string_view::npos) {
      on_field(col, v, false);
    } else {
      pg_copy_unescape(v, scratch);
      on_field(col, std::string_view(scratch), false);
    }
    ++col;
    if (tab == std::string_view::npos) return col;
    start = tab + 1;
  }
}

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
    normalize_.clear();
    if (ctx.options.contains("normalize") && !ctx.options["normalize"].is_null()) {
      const nlohmann::json& list = ctx.options["normalize"];
      if (!list.is_array())
        return Status::invalid("postgres source: normalize must be a list of column names (job {})",
                               ctx.job_id);
      for (const nlohmann::json& name : list) {
        if (!name.is_string() || name.get<std::string>().empty())
          return Status::invalid("postgres source: normalize: {} is not a column name (job {})",
                                 name.dump(), ctx.job_id);
        normalize_.push_back(name.get<std::string>());
      }
    }
    FERRY_ASSIGN(PgConnectOptions options, pg_connect_options(ctx.connection));
    FERRY_ASSIGN(conn_, PgConn::connect(options));
    return Status::success();
  }

  Result<std::vector<StreamInfo>> discover() override {
    FERRY_ASSIGN(std::vector<SourceColumn> cols, describe());
    StreamInfo info;
    info.name = what();
    // A normalised column's columns and child tables are known only from its values.
    for (const SourceColumn& c : cols)
      if (!c.normalize) info.fields.push_back(Field{sanitize_name(c.name), c.type, true});
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
      col.typname = typname;
      std::string q = "_ferry_q." + quote_ident(col.name);
      // Arrays are read as JSON; everything else in PostgreSQL's own text form.
      col.expr = category == "A" ? "to_json(" + q + ")" : q;
      cols.push_back(std::move(col));
    }
    FERRY_TRY(mark_normalized(cols));
    return cols;
  }

  // Marks the columns listed in `normalize:`; an unknown or non-JSON column is kInvalid.
  Status mark_normalized(std::vector<SourceColumn>& cols) const {
    for (const std::string& name : normalize_) {
      SourceColumn* found = nullptr;
      for (SourceColumn& c : cols)
        if (c.name == name) found = &c;
      for (SourceColumn& c : cols)
        if (!found && sanitize_name(c.name) == name) found = &c;
      if (!found) {
        std::string names;
        for (const SourceColumn& c : cols)
          names += (names.empty() ? "" : ", ") + c.name;
        return Status::invalid(
            "postgres source: normalize: {} is not a column of {} (its columns: {})", name, what(),
            names);
      }
      if (!normalizable(found->typname))
        return Status::invalid(
            "postgres source: normalize: column {} of {} is {}, not json, jsonb or text", name,
            what(), found->typname);
      found->normalize = true;
    }
    return Status::success();
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
    if (cursor >= 0 && cols[static_cast<size_t>(cursor)].normalize)
      return Status::invalid("postgres source: incremental.cursor_field {} is a normalize: column",
                             cursor_);

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
    const bool documents = !normalize_.empty();
    if (documents) {
      std::vector<Field> typed;
      for (const SourceColumn& c : cols)
        if (!c.normalize) typed.push_back(Field{sanitize_name(c.name), c.type, true});
      FERRY_TRY(sink.declare_fields(std::move(typed)));
    }
    Status st = conn_.copy_out_begin("COPY (" + sql + ") TO STDOUT");
    if (!st) return st.with_context("postgres source, " + what());
    return documents ? copy_documents(sink, cols, cursor) : copy_rows(sink, cols, cursor);
  }

  // The next COPY row without its newline; nullopt at the end.
  Result<std::optional<std::string_view>> next_row() {
    auto row = conn_.copy_get();
    if (!row.ok()) return row.status().with_context("postgres source, " + what());
    if (!row->has_value()) return std::optional<std::string_view>();
    std::string_view line = **row;
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    return std::optional<std::string_view>(line);
  }

  Status check_row(size_t fields, size_t columns, bool null_cursor) const {
    if (fields != columns && columns > 0)
      return Status::io("postgres source, {}: a row has {} fields for {} columns", what(), fields,
                        columns);
    if (null_cursor && null_cursor_ == NullCursor::kError)
      return Status::invalid(
          "postgres source, {}: a row has a NULL {} (incremental.cursor_field; null_cursor: "
          "error)",
          what(), cursor_);
    return Status::success();
  }

  // Rows as typed batches (SourceSink::rows).
  Status copy_rows(SourceSink& sink, const std::vector<SourceColumn>& cols, int cursor) {
    Batch batch;
    batch.set_origin_source(conn_.name() + " " + what());
    for (const SourceColumn& c : cols)
      batch.column_index(sanitize_name(c.name));
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
      FERRY_ASSIGN(std::optional<std::string_view> line, next_row());
      if (!line) break;
      bool null_cursor = false;
      size_t n = split_copy_row(*line, field, [&](size_t col, std::string_view v, bool null) {
        if (col >= cols.size()) return;
        Column& out = batch.column(col);
        if (null) {
          out.append_null();
          if (static_cast<int>(col) == cursor) null_cursor = true;
        } else {
          append_field(out, cols[col].type, v);
        }
      });
      FERRY_TRY(check_row(n, cols.size(), null_cursor));
      batch.end_row();
      if (batch.num_rows() >= kBatchRows) {
        if (sink.cancelled()) return Status(Code::kCancelled, "cancelled");
        FERRY_TRY(push());
      }
    }
    return push();
  }

  // Rows as JSON documents for the normaliser (SourceSink::json, JSON Lines): each row is one
  // object keyed by the column names, a normalised column's value nested as it is and every
  // other column as its PostgreSQL text in a JSON string, which the normaliser converts to
  // the declared catalog type (SourceSink::declare_fields). A row whose normalised value is
  // not a JSON object is rejected; its line stays empty, so line numbers are row numbers.
  Status copy_documents(SourceSink& sink, const std::vector<SourceColumn>& cols, int cursor) {
    Origin origin;
    origin.source = conn_.name() + " " + what();
    origin.line = 1;
    std::string chunk;  // JSON Lines
    size_t chunk_rows = 0;
    int64_t row_number = 0;
    std::string field, reason;
    simdjson::dom::parser parser;
    auto push = [&]() -> Status {
      if (chunk_rows == 0) return Status::success();
      FERRY_TRY(sink.json(chunk, JsonLayout::kLines, "", origin));
      chunk.clear();
      chunk_rows = 0;
      origin.line = row_number + 1;
      return Status::success();
    };
    for (;;) {
      FERRY_ASSIGN(std::optional<std::string_view> line, next_row());
      if (!line) break;
      ++row_number;
      ++chunk_rows;
      const size_t row_start = chunk.size();
      bool null_cursor = false;
      reason.clear();
      chunk.push_back('{');
      size_t n = split_copy_row(*line, field, [&](size_t col, std::string_view v, bool null) {
        if (col >= cols.size()) return;
        const SourceColumn& c = cols[col];
        if (col > 0) chunk.push_back(',');
        append_json_string(c.name, chunk);
        chunk.push_back(':');
        if (null) {
          chunk.append("null");  // a null normalised value adds no columns and no rows
          if (static_cast<int>(col) == cursor) null_cursor = true;
          return;
        }
        if (!c.normalize) return append_json_string(v, chunk);
        simdjson::dom::element value;
        if (auto err = parser.parse(v.data(), v.size()).get(value); err) {
          if (reason.empty())
            reason =
                fmt::format("column {}: not valid JSON ({})", c.name, simdjson::error_message(err));
          return append_json_string(v, chunk);
        }
        if (value.type() != simdjson::dom::element_type::OBJECT) {
          if (reason.empty())
            reason = fmt::format("column {}: a JSON {}, not an object (normalize:)", c.name,
                                 json_type_name(value));
          return append_json_string(v, chunk);
        }
        // Valid JSON holds a line break only as whitespace: a space keeps one row one line.
        const size_t at = chunk.size();
        chunk.append(v);
        for (size_t i = at; i < chunk.size(); ++i)
          if (chunk[i] == '\n' || chunk[i] == '\r') chunk[i] = ' ';
      });
      FERRY_TRY(check_row(n, cols.size(), null_cursor));
      chunk.push_back('}');
      if (!reason.empty()) {
        Reject r{Origin{origin.source, row_number, -1}, reason, chunk.substr(row_start)};
        chunk.resize(row_start);
        chunk.push_back('\n');
        FERRY_TRY(sink.reject(std::move(r)));
        continue;
      }
      chunk.push_back('\n');
      if (chunk_rows >= kBatchRows || chunk.size() >= kChunkBytes) {
        if (sink.cancelled()) return Status(Code::kCancelled, "cancelled");
        FERRY_TRY(push());
      }
    }
    return push();
  }

  SourceContext ctx_;
  PgConn conn_;
  std::string table_, query_, cursor_;
  std::vector<std::string> normalize_;  // `normalize:` as written
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
      {"normalize", OptionType::kList, "",
       "json, jsonb (or text) columns normalised like API documents instead of loaded as one "
       "json column: an object's fields become columns `<col>__<field>`, its arrays child "
       "tables `<table>__<col>__<field>`; a value that is not a JSON object is a reject.",
       false, false},
  };
  d.create = [] { return std::make_unique<PostgresSource>(); };
  return d;
}

}  // namespace ferry
