#include "sources/rest/schema_rows.h"

#include <optional>

#include <fmt/format.h>

#include "core/infer.h"
#include "core/names.h"

namespace ferry::rest {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string number_text(element v) {
  switch (v.type()) {
    case element_type::INT64:
      return std::to_string(v.get_int64().value_unsafe());
    case element_type::UINT64:
      return std::to_string(v.get_uint64().value_unsafe());
    default:
      return fmt::format("{}", v.get_double().value_unsafe());
  }
}

// Appends `v` to `col` as `type`; false when it is not a value of that type.
bool append_value(Column& col, Type type, element v) {
  switch (v.type()) {
    case element_type::NULL_VALUE:
      col.append_null();
      return true;
    case element_type::ARRAY:
    case element_type::OBJECT:
      if (type != Type::kJson && type != Type::kText) return false;
      col.append_text(type, simdjson::minify(v));
      return true;
    case element_type::STRING: {
      std::string_view s = v.get_string().value_unsafe();
      if (type == Type::kJson) {
        col.append_text(Type::kJson, simdjson::minify(v));  // a JSON string stays JSON
        return true;
      }
      return append_as(col, type, s);
    }
    case element_type::BOOL: {
      bool b = v.get_bool().value_unsafe();
      if (type == Type::kJson) {
        col.append_text(Type::kJson, b ? "true" : "false");
        return true;
      }
      return append_as(col, type, b ? "true" : "false");
    }
    default: {
      std::string n = number_text(v);
      if (type == Type::kJson) {
        col.append_text(Type::kJson, n);
        return true;
      }
      if (type == Type::kBool) return false;  // 1/0 are not booleans here: say so
      return append_as(col, type, n);
    }
  }
}

std::string describe(element v) {
  std::string s = simdjson::minify(v);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace

Status SchemaRowsReader::read_fields(element page, const Origin& origin) {
  element list;
  if (page.at_pointer(fields_pointer_).get(list) || !list.is_array()) {
    return Status::invalid("{}: no field list at {} (schema_rows expects an array of fields)",
                           origin.source, fields_pointer_);
  }
  page_cols_.clear();
  size_t i = 0;
  simdjson::dom::array field_list;
  if (list.get_array().get(field_list)) return Status::internal("not an array");
  for (element f : field_list) {
    ++i;
    std::string_view name, type_text;
    if (!f.is_object() || f["name"].get(name)) {
      return Status::invalid("{}: field {} at {} has no name", origin.source, i, fields_pointer_);
    }
    if (f["type"].get(type_text)) type_text = "text";
    Type type = parse_type_name(type_text).value_or(Type::kText);
    std::string col = sanitize_name(name);
    size_t idx = fields_.size();
    for (size_t k = 0; k < fields_.size(); ++k) {
      if (fields_[k].name == col) idx = k;
    }
    if (idx == fields_.size()) {
      fields_.push_back(Field{col, type, true});
    } else if (fields_[idx].type != type) {
      fields_[idx].type = widen(fields_[idx].type, type);  // a later page may widen a field
    }
    page_cols_.push_back(idx);
  }
  return Status::success();
}

Result<size_t> SchemaRowsReader::read(element page, const Origin& origin, Batch& batch,
                                      std::vector<Reject>& rejects) {
  FERRY_TRY(read_fields(page, origin));
  element rows;
  if (page.at_pointer(rows_pointer_).get(rows)) {
    return Status::invalid("{}: no rows at {}", origin.source, rows_pointer_);
  }
  if (rows.is_null()) return size_t{0};
  if (!rows.is_array()) {
    return Status::invalid("{}: the rows at {} are not an array", origin.source, rows_pointer_);
  }
  std::vector<size_t> cols(fields_.size());
  for (size_t k = 0; k < fields_.size(); ++k)
    cols[k] = batch.column_index(fields_[k].name);

  size_t n = 0;
  std::vector<std::optional<element>> values(page_cols_.size());
  simdjson::dom::array row_list;
  if (rows.get_array().get(row_list)) return Status::internal("not an array");
  for (element row : row_list) {
    ++n;
    auto reject = [&](std::string reason) {
      Origin where = origin;
      where.line = static_cast<int64_t>(n);
      rejects.push_back(Reject{where, std::move(reason), simdjson::minify(row)});
    };
    // Gather the row's values in this page's field order.
    std::fill(values.begin(), values.end(), std::nullopt);
    bool ok = true;
    simdjson::dom::array array;
    simdjson::dom::object object;
    if (!row.get_array().get(array)) {
      if (array.size() != page_cols_.size()) {
        reject(fmt::format("the row has {} values but the schema has {} fields", array.size(),
                           page_cols_.size()));
        continue;
      }
      size_t i = 0;
      for (element v : array)
        values[i++] = v;
    } else if (!row.get_object().get(object)) {
      for (auto [key, v] : object) {
        std::string col = sanitize_name(key);
        bool known = false;
        for (size_t i = 0; i < page_cols_.size(); ++i) {
          if (fields_[page_cols_[i]].name == col) {
            values[i] = v;
            known = true;
          }
        }
        if (!known) {
          reject(fmt::format("the row has a value for '{}', which is not a field of the schema",
                             std::string(key)));
          ok = false;
          break;
        }
      }
    } else {
      reject("a row must be an array or an object");
      continue;
    }
    if (!ok) continue;
    // Convert every value first, so a bad value rejects the row before any of it is appended.
    scratch_.clear();
    for (size_t i = 0; i < page_cols_.size() && ok; ++i) {
      const Field& f = fields_[page_cols_[i]];
      const std::optional<element>& v = values[i];
      if (!v || v->is_null()) {  // absent from an object row, or null
        scratch_.append_null();
      } else if (!append_value(scratch_, f.type, *v)) {
        reject(fmt::format("field '{}': {} is not a {}", f.name, describe(*v), type_name(f.type)));
        ok = false;
      }
    }
    if (!ok) continue;
    for (size_t i = 0; i < page_cols_.size(); ++i) {
      const Cell& c = scratch_[i];
      Column& col = batch.column(cols[page_cols_[i]]);
      if (c.is_null()) {
        col.append_null();
      } else {
        col.append_cell(scratch_, c);
      }
    }
    batch.end_row();
  }
  // Declared types, not inferred ones: an all-null page still creates a typed column.
  for (size_t k = 0; k < fields_.size(); ++k)
    batch.column(cols[k]).set_type(fields_[k].type);
  return n;
}

}  // namespace ferry::rest
