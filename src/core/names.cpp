#include "core/names.h"

namespace ferry {
namespace {

// `text` between two `quote`s, each `quote` in it doubled (SQL's escaping).
std::string quoted(std::string_view text, char quote) {
  std::string out(1, quote);
  for (char c : text) {
    if (c == quote) out.push_back(quote);
    out.push_back(c);
  }
  out.push_back(quote);
  return out;
}

}  // namespace

std::string sanitize_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  bool pending_sep = false;
  for (unsigned char c : name) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80 || c == '_';
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<unsigned char>(c - 'A' + 'a');
      keep = true;
    }
    if (!keep) {
      pending_sep = true;
      continue;
    }
    if (pending_sep && !out.empty() && out.back() != '_' && c != '_') out.push_back('_');
    pending_sep = false;
    out.push_back(static_cast<char>(c));
  }
  size_t b = out.find_first_not_of('_');
  if (b == std::string::npos) return "_col";
  // Keep leading underscores of names like _id, but trim the trailing ones.
  size_t e = out.find_last_not_of('_');
  out = out.substr(0, e + 1);
  if (out[0] >= '0' && out[0] <= '9') out.insert(out.begin(), '_');
  if (out.size() > 63) out.resize(63);
  return out;
}

std::string quote_ident(std::string_view name) {
  return quoted(name, '"');
}

std::string quote_literal(std::string_view text) {
  return quoted(text, '\'');
}

}  // namespace ferry
