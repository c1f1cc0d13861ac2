// Helpers shared by ferry's tests: temporary directories and paths to fixtures.
#pragma once

#include <filesystem>
#include <string>

namespace ferry::testing {

// A fresh directory under the system temp dir, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  // Writes `content` to path()/name (creating parent directories) and returns the full path.
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

// The source tree root (FERRY_SOURCE_DIR, set by ctest), e.g. for tests/data.
std::filesystem::path source_dir();
// The build directory (FERRY_BUILD_DIR), where npm test corpora are installed.
std::filesystem::path build_dir();
std::string read_file(const std::filesystem::path& path);

}  // namespace ferry::testing
