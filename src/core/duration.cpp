#include "core/duration.h"

#include <cctype>
#include <charconv>
#include <string>

namespace ferry {
namespace {

Status bad_duration(std::string_view text) {
  return Status::invalid("bad duration '{}' (expected e.g. 250ms, 30s, 5m, 1h, 1d or seconds)",
                         text);
}

// Seconds per unit, or 0 for an unknown unit.
double unit_seconds(std::string_view unit) {
  if (unit == "ms") return 0.001;
  if (unit == "s") return 1;
  if (unit == "m") return 60;
  if (unit == "h") return 3600;
  if (unit == "d") return 86400;
  return 0;
}

}  // namespace

Result<double> parse_duration_seconds(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  if (s.empty()) return bad_duration(text);

  double total = 0;
  bool first = true;
  while (!s.empty()) {
    // from_chars would also take "nan", "inf" and a sign: only digits may start a part.
    if (!std::isdigit(static_cast<unsigned char>(s.front())) && s.front() != '.') {
      return bad_duration(text);
    }
    double number = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
    if (ec != std::errc()) return bad_duration(text);
    s.remove_prefix(static_cast<size_t>(end - s.data()));
    size_t unit_len = 0;
    while (unit_len < s.size() && std::isalpha(static_cast<unsigned char>(s[unit_len]))) {
      ++unit_len;
    }
    if (unit_len == 0) {
      // A bare number is seconds, but only on its own: "1h30" is ambiguous.
      if (!first || !s.empty()) return bad_duration(text);
      return number;
    }
    double per_unit = unit_seconds(s.substr(0, unit_len));
    if (per_unit == 0) return bad_duration(text);
    total += number * per_unit;
    s.remove_prefix(unit_len);
    first = false;
  }
  return total;
}

}  // namespace ferry
