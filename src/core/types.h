// Value types, table schemas and type widening.
//
// ferry's type system is small on purpose: every source maps into it and every warehouse
// maps out of it. Inference and evolution only ever widen a type (int -> double -> text),
// so a new value never breaks a load; see widen().
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

enum class Type : uint8_t {
  kNull = 0,  // only seen in inference: no non-null value yet
  kBool,
  kInt,  // int64
  kDouble,
  kDecimal,  // exact numeric, carried as text ("12.50")
  kText,
  kDate,       // days since 1970-01-01
  kTimestamp,  // microseconds since the epoch, UTC (zone applied on parse)
  kJson,       // a JSON document kept as text
};

// "int", "text", ... as used in docs, the audit table and `ferry plan`.
const char* type_name(Type type);

// Maps the type names users and schema-carrying APIs write (string/varchar/text,
// integer/int/long/bigint, number/float/double/real, decimal/numeric, boolean/bool,
// date, datetime/timestamp/timestamptz, json/object/array) to a Type.
std::optional<Type> parse_type_name(std::string_view name);

// The narrowest type that holds values of both a and b. kNull is the identity;
// int+double -> double; int/double+decimal -> decimal; date+timestamp -> timestamp;
// anything else that differs -> text.
Type widen(Type a, Type b);

// True when every value of `from` can be stored in a column of type `to` without loss
// of meaning, i.e. widen(from, to) == to.
inline bool fits(Type from, Type to) {
  return widen(from, to) == to;
}

struct Field {
  std::string name;
  Type type = Type::kNull;
  bool nullable = true;
};

struct TableSchema {
  std::string name;
  std::vector<Field> fields;
  std::vector<std::string> primary_key;

  const Field* find(std::string_view field) const;
  Field* find(std::string_view field);
};

}  // namespace ferry
