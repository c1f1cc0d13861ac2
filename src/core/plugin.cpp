#include "core/plugin.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include <fmt/format.h>

#include "core/duration.h"

namespace ferry {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Optimal string alignment distance: Levenshtein plus transposition of two neighbours, so
// "mdoe" is one edit from "mode".
size_t edit_distance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) {
    d[i][0] = i;
  }
  for (size_t j = 0; j <= m; ++j) {
    d[0][j] = j;
  }
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

bool parses_as_int(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

// A short rendering of a user's value for an error message.
std::string show(const nlohmann::json& v) {
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

const char* type_phrase(OptionType t) {
  switch (t) {
    case OptionType::kString:
      return "a string";
    case OptionType::kInt:
      return "an integer";
    case OptionType::kBool:
      return "true or false";
    case OptionType::kDuration:
      return "a duration such as 30s, 5m or 1h";
    case OptionType::kList:
      return "a list";
    case OptionType::kMap:
      return "a map";
    case OptionType::kAny:
      return "any value";
  }
  return "?";
}

bool type_ok(OptionType t, const nlohmann::json& v) {
  switch (t) {
    case OptionType::kString:
      return v.is_string() || v.is_number() || v.is_boolean();
    case OptionType::kInt:
      return v.is_number_integer() || (v.is_string() && parses_as_int(v.get<std::string>()));
    case OptionType::kBool:
      return v.is_boolean() || (v.is_string() && (v == "true" || v == "false"));
    case OptionType::kDuration:
      if (v.is_number()) return v.get<double>() >= 0;
      return v.is_string() && parse_duration_seconds(v.get<std::string>()).ok();
    case OptionType::kList:
      return v.is_array();
    case OptionType::kMap:
      return v.is_object();
    case OptionType::kAny:
      return true;
  }
  return false;
}

std::string escape_cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '|':
        out += "\\|";
        break;
      case '\n':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A plain-text table, columns padded to their widest cell; the last column is not padded.
std::string text_table(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return "";
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = "  ";
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out += line + "\n";
  }
  return out;
}

std::string options_help(const std::string& title, const std::vector<OptionDecl>& options) {
  std::string out = title + "\n";
  if (options.empty()) return out + "  (none)\n";
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "TYPE", "DEFAULT", "REQUIRED", "SECRET", "DESCRIPTION"}};
  for (const OptionDecl& o : options) {
    rows.push_back({o.name, option_type_name(o.type), o.default_value, o.required ? "yes" : "",
                    o.secret ? "yes" : "", o.description});
  }
  return out + text_table(rows);
}

std::string roles(const PluginDecl& p) {
  if (p.is_source && p.is_destination) return "source, destination";
  if (p.is_source) return "source";
  if (p.is_destination) return "destination";
  return "connection only";
}

}  // namespace

const char* option_type_name(OptionType t) {
  switch (t) {
    case OptionType::kString:
      return "string";
    case OptionType::kInt:
      return "int";
    case OptionType::kBool:
      return "bool";
    case OptionType::kDuration:
      return "duration";
    case OptionType::kList:
      return "list";
    case OptionType::kMap:
      return "map";
    case OptionType::kAny:
      return "any";
  }
  return "?";
}

bool is_unresolved(const nlohmann::json& value) {
  if (!value.is_string()) return false;
  const std::string& s = value.get_ref<const std::string&>();
  return s.find("{{") != std::string::npos || s.find("${") != std::string::npos;
}

std::string did_you_mean(std::string_view key, const std::vector<std::string>& candidates) {
  const std::string k = lower(key);
  if (k.empty()) return "";
  // Short keys allow one edit, longer ones up to a third of their length.
  const size_t limit = std::max<size_t>(1, k.size() / 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& c : candidates) {
    const std::string lc = lower(c);
    size_t d = edit_distance(k, lc);
    // A key that is a clear prefix of a longer name ("primary" for "primary_key").
    if (d > limit && k.size() >= 4 && lc.rfind(k, 0) == 0) d = limit;
    if (d < best_distance && d < std::max(k.size(), lc.size())) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::vector<OptionProblem> validate_options(const std::vector<OptionDecl>& decls,
                                            const nlohmann::json& given,
                                            const std::vector<std::string>& ignore) {
  std::vector<OptionProblem> problems;
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json* object = &given;
  if (given.is_null()) {
    object = &kEmpty;  // `source:` with nothing after it: only the required keys are missing
  } else if (!given.is_object()) {
    problems.push_back({"", fmt::format("expected a map of options, got {}", show(given))});
    return problems;
  }

  std::vector<std::string> names;
  for (const OptionDecl& d : decls) {
    names.push_back(d.name);
  }
  names.insert(names.end(), ignore.begin(), ignore.end());

  for (const auto& [key, value] : object->items()) {
    if (std::find(ignore.begin(), ignore.end(), key) != ignore.end()) continue;
    auto decl = std::find_if(decls.begin(), decls.end(),
                             [&key = key](const OptionDecl& d) { return d.name == key; });
    if (decl == decls.end()) {
      std::string suggestion = did_you_mean(key, names);
      problems.push_back(
          {key, suggestion.empty()
                    ? fmt::format("unknown key '{}'", key)
                    : fmt::format("unknown key '{}' (did you mean '{}'?)", key, suggestion)});
      continue;
    }
    if (value.is_null()) {
      if (decl->required) {
        problems.push_back({key, fmt::format("'{}' needs a value", key)});
      }
      continue;  // an optional key left empty takes its default
    }
    if (is_unresolved(value)) continue;  // checked once {{...}} / ${...} are resolved
    if (!type_ok(decl->type, value)) {
      problems.push_back({key, decl->secret
                                   ? fmt::format("'{}' must be {}", key, type_phrase(decl->type))
                                   : fmt::format("'{}' must be {}, got {}", key,
                                                 type_phrase(decl->type), show(value))});
    }
  }
  for (const OptionDecl& d : decls) {
    if (d.required && !object->contains(d.name)) {
      problems.push_back({"", fmt::format("missing required key '{}'", d.name)});
    }
  }
  return problems;
}

std::string render_help(const PluginDecl& plugin) {
  std::string out = fmt::format("{} ({}): {}\n\n", plugin.kind, roles(plugin), plugin.description);
  out += options_help(
      fmt::format("Connection options (connections: <name>: {{type: {}, ...}}):", plugin.kind),
      plugin.connection_options);
  if (plugin.is_source) {
    out += "\n" + options_help("Source options (a job's source: block):", plugin.source_options);
  }
  if (plugin.is_destination) {
    out += "\n" + options_help("Target options (a job's target: block):", plugin.target_options);
  }
  bool any_secret = false;
  for (const auto* list :
       {&plugin.connection_options, &plugin.source_options, &plugin.target_options}) {
    for (const OptionDecl& o : *list) {
      any_secret = any_secret || o.secret;
    }
  }
  if (any_secret) {
    out += "\nSecret options must come from the environment, e.g. password: \"${PG_PASSWORD}\".\n";
  }
  return out;
}

std::string render_options_markdown(const std::vector<OptionDecl>& options) {
  if (options.empty()) return "(no options)\n";
  std::string out =
      "| Option | Type | Default | Required | Description |\n"
      "|---|---|---|---|---|\n";
  for (const OptionDecl& o : options) {
    std::string description = escape_cell(o.description);
    if (o.secret) description += " Secret: give it as `${ENV_VAR}`.";
    out += fmt::format("| `{}` | {} | {} | {} | {} |\n", o.name, option_type_name(o.type),
                       o.default_value.empty() ? "" : "`" + escape_cell(o.default_value) + "`",
                       o.required ? "yes" : "", description);
  }
  return out;
}

std::string render_markdown(const std::vector<PluginDecl>& plugins) {
  std::vector<const PluginDecl*> sorted;
  for (const PluginDecl& p : plugins) {
    sorted.push_back(&p);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const PluginDecl* a, const PluginDecl* b) { return a->kind < b->kind; });

  std::string out = "## Connection kinds\n\n";
  for (const PluginDecl* p : sorted) {
    out +=
        fmt::format("- [`{}`](#kind-{}): {} ({})\n", p->kind, p->kind, p->description, roles(*p));
  }
  for (const PluginDecl* p : sorted) {
    out += fmt::format("\n### <a id=\"kind-{}\"></a>`{}`\n\n{}\n\nUsed as: {}.\n", p->kind, p->kind,
                       p->description, roles(*p));
    out += fmt::format("\n**Connection options** (`connections: {{name: {{type: {}, ...}}}}`)\n\n",
                       p->kind);
    out += render_options_markdown(p->connection_options);
    if (p->is_source) {
      out += "\n**Source options** (a job's `source:` block)\n\n";
      out += render_options_markdown(p->source_options);
    }
    if (p->is_destination) {
      out += "\n**Target options** (a job's `target:` block)\n\n";
      out += render_options_markdown(p->target_options);
    }
  }
  return out;
}

}  // namespace ferry
