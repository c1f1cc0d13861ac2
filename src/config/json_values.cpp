#include "config/json_values.h"

#include <charconv>
#include <limits>
#include <string_view>

namespace ferry {

const nlohmann::json& member(const nlohmann::json& object, const std::string& key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string text_of(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number() || value.is_boolean()) return value.dump();
  return "";
}

bool int_of(const nlohmann::json& value, int* out) {
  if (value.is_number_integer()) {
    if (value.is_number_unsigned()) {
      if (value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
        return false;
      }
      *out = static_cast<int>(value.get<uint64_t>());
      return true;
    }
    int64_t v = value.get<int64_t>();
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) return false;
    *out = static_cast<int>(v);
    return true;
  }
  if (!value.is_string()) return false;
  std::string_view s = value.get_ref<const std::string&>();
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

}  // namespace ferry
