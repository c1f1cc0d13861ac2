#include "config/yaml.h"

#include <cctype>
#include <charconv>

#include <yaml-cpp/yaml.h>

namespace ferry {
namespace {

SourceMark to_mark(const YAML::Mark& m, SourceMark fallback) {
  if (m.is_null() || m.line < 0) return fallback;
  return {m.line + 1, m.column + 1};
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// [-+]?(0|[1-9][0-9]*)
bool looks_int(std::string_view s) {
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  return all_digits(s) && (s.size() == 1 || s.front() != '0');
}

// [-+]?(int)?\.[0-9]+([eE][-+]?[0-9]+)? or int with an exponent, "007.5" excluded.
bool looks_float(std::string_view s) {
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  size_t e = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, e);
  if (e != std::string_view::npos) {
    std::string_view exp = s.substr(e + 1);
    if (!exp.empty() && (exp.front() == '-' || exp.front() == '+')) exp.remove_prefix(1);
    if (!all_digits(exp)) return false;
  }
  size_t dot = mantissa.find('.');
  std::string_view whole = mantissa.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? "" : mantissa.substr(dot + 1);
  if (dot == std::string_view::npos && e == std::string_view::npos) return false;
  if (whole.empty() && frac.empty()) return false;
  if (!whole.empty() && !looks_int(whole)) return false;
  return frac.empty() || all_digits(frac);
}

nlohmann::json plain_scalar(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (looks_int(s)) {
    std::string_view v = s;
    if (v.front() == '+') v.remove_prefix(1);
    int64_t i = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
    if (ec == std::errc() && end == v.data() + v.size()) return i;
    return s;  // too large for int64: keep the digits
  }
  if (looks_float(s)) {
    try {
      return std::stod(s);
    } catch (const std::exception&) {
      return s;
    }
  }
  return s;
}

nlohmann::json scalar(const YAML::Node& node) {
  const std::string& tag = node.Tag();
  const std::string& s = node.Scalar();
  if (tag == "?") return plain_scalar(s);
  if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float" ||
      tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:null") {
    return plain_scalar(s);
  }
  return s;  // quoted ("!"), !!str or an application tag
}

struct Converter {
  int file;
  SourceMap* map;
  std::vector<YamlProblem>* problems;

  nlohmann::json convert(const YAML::Node& node, const std::string& pointer, SourceMark at) {
    switch (node.Type()) {
      case YAML::NodeType::Scalar:
        return scalar(node);
      case YAML::NodeType::Sequence: {
        nlohmann::json out = nlohmann::json::array();
        size_t i = 0;
        for (const YAML::Node& item : node) {
          std::string p = pointer_child(pointer, i++);
          SourceMark m = to_mark(item.Mark(), at);
          map->entries[p] = {file, m, m, p};
          out.push_back(convert(item, p, m));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& kv : node) {
          SourceMark key_mark = to_mark(kv.first.Mark(), at);
          if (!kv.first.IsScalar()) {
            problems->push_back({pointer, key_mark, "a key must be a plain name"});
            continue;
          }
          const std::string& key = kv.first.Scalar();
          std::string p = pointer_child(pointer, key);
          if (out.contains(key)) {
            problems->push_back({pointer, key_mark, "duplicate key '" + key + "'"});
            continue;
          }
          // An empty value (`key:`) has no position of its own: use the key's.
          SourceMark value_mark =
              kv.second.IsNull() ? key_mark : to_mark(kv.second.Mark(), key_mark);
          map->entries[p] = {file, key_mark, value_mark, p};
          out[key] = convert(kv.second, p, value_mark);
        }
        return out;
      }
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
    }
    return nullptr;
  }
};

std::string escape_segment(const std::string& key) {
  std::string out;
  for (char c : key) {
    switch (c) {
      case '~':
        out += "~0";
        break;
      case '/':
        out += "~1";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool plain_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

const SourceEntry* SourceMap::find(const std::string& pointer, std::string* rest) const {
  std::string p = pointer;
  for (;;) {
    auto it = entries.find(p);
    if (it != entries.end()) {
      if (rest) *rest = pointer.substr(p.size());
      return &it->second;
    }
    if (p.empty()) return nullptr;
    p.resize(p.rfind('/'));
  }
}

Result<nlohmann::json> parse_yaml(const std::string& text, int file, SourceMap* map,
                                  std::vector<YamlProblem>* problems) {
  const std::string& name = map->files.at(static_cast<size_t>(file));
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    SourceMark m = to_mark(e.mark, {1, 1});
    return Status::invalid("{}:{}:{}: invalid YAML: {}", name, m.line, m.column, e.msg);
  }
  SourceMark start = to_mark(root.Mark(), {1, 1});
  map->entries[""] = {file, start, start, ""};
  Converter c{file, map, problems};
  try {
    return c.convert(root, "", start);
  } catch (const YAML::Exception& e) {
    SourceMark m = to_mark(e.mark, {1, 1});
    return Status::invalid("{}:{}:{}: invalid YAML: {}", name, m.line, m.column, e.msg);
  }
}

std::string pointer_child(const std::string& pointer, const std::string& key) {
  return pointer + "/" + escape_segment(key);
}

std::string pointer_child(const std::string& pointer, size_t index) {
  return pointer + "/" + std::to_string(index);
}

std::vector<std::string> pointer_segments(const std::string& pointer) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < pointer.size()) {
    size_t next = pointer.find('/', pos + 1);
    std::string raw =
        pointer.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    std::string seg;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size()) {
        seg += raw[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        seg += raw[i];
      }
    }
    out.push_back(std::move(seg));
    if (next == std::string::npos) break;
    pos = next;
  }
  return out;
}

std::string render_pointer(const std::string& pointer) {
  std::string out;
  for (const std::string& seg : pointer_segments(pointer)) {
    if (all_digits(seg)) {
      out += "[" + seg + "]";
    } else if (plain_name(seg)) {
      if (!out.empty()) out += ".";
      out += seg;
    } else {
      out += "[" + nlohmann::json(seg).dump() + "]";
    }
  }
  return out;
}

}  // namespace ferry
