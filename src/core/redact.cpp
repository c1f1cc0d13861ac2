#include "core/redact.h"

#include <algorithm>
#include <mutex>
#include <vector>

namespace ferry {
namespace {

std::mutex& mu() {
  static std::mutex m;
  return m;
}
std::vector<std::string>& secrets() {
  static std::vector<std::string> s;
  return s;
}

}  // namespace

void register_secret(std::string_view value) {
  if (value.size() < 4) return;
  std::lock_guard lock(mu());
  auto& s = secrets();
  if (std::find(s.begin(), s.end(), value) != s.end()) return;
  s.emplace_back(value);
  // Longest first, so a secret containing another is replaced whole.
  std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

std::string redact(std::string_view text) {
  std::string out(text);
  std::lock_guard lock(mu());
  for (const std::string& secret : secrets()) {
    size_t pos = 0;
    while ((pos = out.find(secret, pos)) != std::string::npos) {
      out.replace(pos, secret.size(), "***");
      pos += 3;
    }
  }
  return out;
}

}  // namespace ferry
