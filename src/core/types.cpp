#include "core/types.h"

#include <algorithm>
#include <cctype>

namespace ferry {

const char* type_name(Type type) {
  switch (type) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "bool";
    case Type::kInt:
      return "int";
    case Type::kDouble:
      return "double";
    case Type::kDecimal:
      return "decimal";
    case Type::kText:
      return "text";
    case Type::kDate:
      return "date";
    case Type::kTimestamp:
      return "timestamp";
    case Type::kJson:
      return "json";
  }
  return "?";
}

std::optional<Type> parse_type_name(std::string_view name) {
  std::string n;
  for (char c : name) {
    if (c == '(') break;  // varchar(20), numeric(10,2)
    if (!std::isspace(static_cast<unsigned char>(c)))
      n.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  static const std::pair<const char*, Type> kNames[] = {
      {"string", Type::kText},
      {"text", Type::kText},
      {"varchar", Type::kText},
      {"char", Type::kText},
      {"charactervarying", Type::kText},
      {"uuid", Type::kText},
      {"integer", Type::kInt},
      {"int", Type::kInt},
      {"long", Type::kInt},
      {"bigint", Type::kInt},
      {"smallint", Type::kInt},
      {"int64", Type::kInt},
      {"int32", Type::kInt},
      {"int8", Type::kInt},
      {"int4", Type::kInt},
      {"number", Type::kDouble},
      {"float", Type::kDouble},
      {"double", Type::kDouble},
      {"real", Type::kDouble},
      {"float8", Type::kDouble},
      {"doubleprecision", Type::kDouble},
      {"decimal", Type::kDecimal},
      {"numeric", Type::kDecimal},
      {"boolean", Type::kBool},
      {"bool", Type::kBool},
      {"date", Type::kDate},
      {"datetime", Type::kTimestamp},
      {"timestamp", Type::kTimestamp},
      {"timestamptz", Type::kTimestamp},
      {"timestampwithtimezone", Type::kTimestamp},
      {"json", Type::kJson},
      {"jsonb", Type::kJson},
      {"object", Type::kJson},
      {"array", Type::kJson},
  };
  for (const auto& [k, t] : kNames)
    if (n == k) return t;
  return std::nullopt;
}

Type widen(Type a, Type b) {
  if (a == b) return a;
  if (a == Type::kNull) return b;
  if (b == Type::kNull) return a;
  auto numeric = [](Type t) {
    return t == Type::kInt || t == Type::kDouble || t == Type::kDecimal;
  };
  if (numeric(a) && numeric(b)) {
    if (a == Type::kDecimal || b == Type::kDecimal) return Type::kDecimal;
    return Type::kDouble;
  }
  if ((a == Type::kDate && b == Type::kTimestamp) || (a == Type::kTimestamp && b == Type::kDate))
    return Type::kTimestamp;
  return Type::kText;
}

const Field* TableSchema::find(std::string_view field) const {
  auto it =
      std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == field; });
  return it == fields.end() ? nullptr : &*it;
}

Field* TableSchema::find(std::string_view field) {
  auto it =
      std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == field; });
  return it == fields.end() ? nullptr : &*it;
}

}  // namespace ferry
