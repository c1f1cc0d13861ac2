#include "cli/table.h"

#include <algorithm>

namespace ferry::cli {
namespace {

bool numeric(const std::string& s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) {
                       return (c >= '0' && c <= '9') || c == ',' || c == '.' || c == '-' ||
                              c == '/' || c == 's';
                     }) &&
         s[0] != 's';
}

// Display width of UTF-8 text: code points, not bytes.
size_t width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    n += (c & 0xc0) != 0x80;
  return n;
}

}  // namespace

std::string TextTable::render() const {
  std::vector<size_t> w(header_.size(), 0);
  for (size_t i = 0; i < header_.size(); ++i)
    w[i] = width(header_[i]);
  for (const auto& r : rows_)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i)
      w[i] = std::max(w[i], width(r[i]));
  std::string out;
  auto line = [&](const std::vector<std::string>& r, bool head) {
    for (size_t i = 0; i < w.size(); ++i) {
      std::string cell = i < r.size() ? r[i] : "";
      std::string pad(w[i] - std::min(w[i], width(cell)), ' ');
      bool right = !head && numeric(cell);
      out += right ? pad + cell : cell + (i + 1 < w.size() ? pad : "");
      if (i + 1 < w.size()) out += "  ";
    }
    while (!out.empty() && out.back() == ' ')
      out.pop_back();
    out += '\n';
  };
  line(header_, true);
  std::vector<std::string> rule;
  for (size_t x : w)
    rule.push_back(std::string(x, '-'));
  line(rule, true);
  for (const auto& r : rows_)
    line(r, false);
  return out;
}

std::string with_commas(long long n) {
  std::string s = std::to_string(n < 0 ? -n : n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<size_t>(i), ",");
  return n < 0 ? "-" + s : s;
}

}  // namespace ferry::cli
