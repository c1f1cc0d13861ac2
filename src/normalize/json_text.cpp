#include "normalize/json_text.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ferry {
namespace {

using simdjson::dom::element_type;

}  // namespace

void append_json_string(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the pending run of characters that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default: {
        const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, sizeof(esc));
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

namespace {

// Fixed-point text of v when a short one exists: the fewest decimals k for which
// m = round(v * 10^k) gives back v as m / 10^k, with m below 10^15. Both operands are then
// exact doubles and the division is correctly rounded, so it yields exactly what parsing the
// decimal text yields: the text round-trips. And as two decimals of at most 15 significant
// digits never round to the same double (DBL_DIG), it is the text std::to_chars would choose
// too, found with a few multiplications instead of a full shortest-digits search. Returns 0
// when there is no such form (the caller falls back to std::to_chars).
size_t format_fixed(double v, char* buf) {
  static constexpr double kPow10[] = {1e0, 1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,
                                      1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17};
  static constexpr double kMaxDigits = 1e15;  // m has at most 15 digits
  const double a = v < 0 ? -v : v;
  if (!(a == 0 || (a >= 1e-4 && a < 1e15))) return 0;  // NaN fails every comparison
  for (int k = 0; k < 18; ++k) {
    const double scaled = a * kPow10[k];
    if (scaled >= kMaxDigits) return 0;
    const auto m = static_cast<uint64_t>(scaled + 0.5);
    if (static_cast<double>(m) / kPow10[k] != a) continue;
    char digits[24];
    size_t n = 0;
    for (uint64_t x = m; x > 0 || n <= static_cast<size_t>(k); x /= 10)
      digits[n++] = static_cast<char>('0' + x % 10);  // reversed, at least k + 1 digits
    size_t len = 0;
    if (std::signbit(v)) buf[len++] = '-';
    for (size_t i = n; i > static_cast<size_t>(k); --i)
      buf[len++] = digits[i - 1];
    buf[len++] = '.';
    if (k == 0) buf[len++] = '0';
    for (size_t i = static_cast<size_t>(k); i > 0; --i)
      buf[len++] = digits[i - 1];
    return len;
  }
  return 0;
}

}  // namespace

size_t format_json_double(double v, char* buf) {
  if (size_t n = format_fixed(v, buf)) return n;
  const auto r = std::to_chars(buf, buf + 32, v);
  size_t n = static_cast<size_t>(r.ptr - buf);
  if (std::memchr(buf, '.', n) == nullptr && std::memchr(buf, 'e', n) == nullptr &&
      std::memchr(buf, 'n', n) == nullptr) {  // 'n': inf/nan, which JSON cannot hold anyway
    buf[n++] = '.';
    buf[n++] = '0';
  }
  return n;
}

void append_json_text(simdjson::dom::element value, std::string& out) {
  char num[32];
  switch (value.type()) {
    case element_type::OBJECT: {
      out.push_back('{');
      bool first = true;
      const simdjson::dom::object object = value.get_object().value_unsafe();
      for (simdjson::dom::key_value_pair field : object) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(field.key, out);
        out.push_back(':');
        append_json_text(field.value, out);
      }
      out.push_back('}');
      return;
    }
    case element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      const simdjson::dom::array array = value.get_array().value_unsafe();
      for (simdjson::dom::element item : array) {
        if (!first) out.push_back(',');
        first = false;
        append_json_text(item, out);
      }
      out.push_back(']');
      return;
    }
    case element_type::STRING:
      append_json_string(value.get_string().value_unsafe(), out);
      return;
    case element_type::INT64: {
      const auto r = std::to_chars(num, num + sizeof(num), value.get_int64().value_unsafe());
      out.append(num, r.ptr);
      return;
    }
    case element_type::UINT64: {
      const auto r = std::to_chars(num, num + sizeof(num), value.get_uint64().value_unsafe());
      out.append(num, r.ptr);
      return;
    }
    case element_type::DOUBLE:
      out.append(num, format_json_double(value.get_double().value_unsafe(), num));
      return;
    case element_type::BOOL:
      out.append(value.get_bool().value_unsafe() ? "true" : "false");
      return;
    case element_type::NULL_VALUE:
      out.append("null");
      return;
  }
}

std::string json_text(simdjson::dom::element value) {
  std::string out;
  append_json_text(value, out);
  return out;
}

const char* json_type_name(simdjson::dom::element value) {
  switch (value.type()) {
    case element_type::OBJECT:
      return "object";
    case element_type::ARRAY:
      return "array";
    case element_type::STRING:
      return "string";
    case element_type::INT64:
    case element_type::UINT64:
      return "integer";
    case element_type::DOUBLE:
      return "number";
    case element_type::BOOL:
      return "boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "value";
}

}  // namespace ferry
