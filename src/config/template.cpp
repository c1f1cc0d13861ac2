#include "config/template.h"

#include <cctype>

namespace ferry {
namespace {

bool is_identifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s.front()))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') {
    s.remove_prefix(1);
  }
  while (!s.empty() && s.back() == ' ') {
    s.remove_suffix(1);
  }
  return s;
}

void collect_params(const nlohmann::json& value, std::set<std::string>& out) {
  if (value.is_string()) {
    auto tokens = tokenize_template(value.get_ref<const std::string&>());
    if (!tokens.ok()) return;
    for (const TemplateToken& t : tokens.value()) {
      if (t.kind == TemplateToken::Kind::kParam) out.insert(t.text);
    }
  } else if (value.is_structured()) {
    for (const auto& child : value) {
      collect_params(child, out);
    }
  }
}

}  // namespace

Result<std::vector<TemplateToken>> tokenize_template(std::string_view text, bool params) {
  std::vector<TemplateToken> tokens;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) tokens.push_back({TemplateToken::Kind::kText, std::move(literal)});
    literal.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      literal += "${";
      i += 3;
    } else if (text.compare(i, 2, "${") == 0) {
      size_t end = text.find('}', i + 2);
      if (end == std::string_view::npos) {
        return Status::invalid("unterminated '${{' in '{}'", text);
      }
      std::string_view name = text.substr(i + 2, end - i - 2);
      if (!is_identifier(name)) {
        return Status::invalid(
            "bad environment variable '${{{}}}': a name is letters, digits and _", name);
      }
      flush();
      tokens.push_back({TemplateToken::Kind::kEnv, std::string(name)});
      i = end + 1;
    } else if (params && text.compare(i, 2, "{{") == 0) {
      size_t end = text.find("}}", i + 2);
      if (end == std::string_view::npos) {
        return Status::invalid("unterminated '{{{{' in '{}'", text);
      }
      std::string_view name = trim(text.substr(i + 2, end - i - 2));
      if (!is_identifier(name)) {
        return Status::invalid("bad placeholder '{}': a param name is letters, digits and _",
                               text.substr(i, end + 2 - i));
      }
      flush();
      tokens.push_back({TemplateToken::Kind::kParam, std::string(name)});
      i = end + 2;
    } else {
      literal += text[i++];
    }
  }
  flush();
  return tokens;
}

std::set<std::string> template_params(const nlohmann::json& value) {
  std::set<std::string> out;
  collect_params(value, out);
  return out;
}

std::string render_template(std::string_view text, const nlohmann::json& params,
                            const std::string& watermark, std::vector<std::string>* missing) {
  auto tokens = tokenize_template(text);
  if (!tokens.ok()) return std::string(text);
  std::string out;
  for (const TemplateToken& t : tokens.value()) {
    switch (t.kind) {
      case TemplateToken::Kind::kText: {
        // Re-escape so that the result still reads the same way.
        size_t pos = 0, hit;
        while ((hit = t.text.find("${", pos)) != std::string::npos) {
          out.append(t.text, pos, hit - pos).append("$${");
          pos = hit + 2;
        }
        out.append(t.text, pos);
        break;
      }
      case TemplateToken::Kind::kEnv:
        out += "${" + t.text + "}";
        break;
      case TemplateToken::Kind::kParam:
        if (t.text == "watermark") {
          out += watermark;
        } else if (params.is_object() && params.contains(t.text)) {
          const nlohmann::json& v = params[t.text];
          out += v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
        } else {
          out += "{{" + t.text + "}}";
          if (missing) missing->push_back(t.text);
        }
        break;
    }
  }
  return out;
}

}  // namespace ferry
