// JSON text of parsed values: the form kept in kJson columns and in rejected records' raw text.
//
// append_json_text() writes minified JSON: no insignificant whitespace, strings re-escaped
// minimally (only '"', '\' and control characters; other UTF-8 is kept as is), integers as
// parsed, doubles in their shortest round-trip form (see format_json_double).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>

#include <simdjson.h>

namespace ferry {

// Appends the minified JSON text of `value` to `out`.
void append_json_text(simdjson::dom::element value, std::string& out);
std::string json_text(simdjson::dom::element value);

// Appends `s` as a JSON string: quoted, with '"', '\\' and control characters escaped (other
// UTF-8 kept as is).
void append_json_string(std::string_view s, std::string& out);

// "object", "array", "string", "integer", "number", "boolean" or "null".
const char* json_type_name(simdjson::dom::element value);

// Writes the shortest text that parses back to `v` into buf (at least 32 bytes) and returns
// its length. The text always reads as a floating-point number: "1.0" rather than "1", so a
// double widened to text keeps its kind. The DOM does not keep the source's spelling, so a
// source "1.50" becomes "1.5" and "1e2" becomes "100.0".
size_t format_json_double(double v, char* buf);

}  // namespace ferry
