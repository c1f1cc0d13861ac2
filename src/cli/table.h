// Plain-text tables for the CLI: columns sized to their widest cell, numbers right-aligned.
#pragma once

#include <string>
#include <vector>

namespace ferry::cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// 1234567 -> "1,234,567"
std::string with_commas(long long n);

}  // namespace ferry::cli
