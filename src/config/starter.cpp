// write_starter_project (declared in config/project.h): the project `ferry init` writes.
#include <filesystem>
#include <fstream>

#include "config/project.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFerryYml =
    R"(# A ferry project: connections, jobs and the transforms that run after them.
# Every option is described in docs/config.md and by `ferry help <kind>`.
project: starter
warehouse: wh                   # where jobs load by default

connections:
  wh:    {type: sqlite, path: warehouse.db}
  files: {type: file, path: data/}

jobs:
  - id: cities
    description: The sample CSV in data/.
    source: {connection: files, path: cities.csv, format: csv}
    target: {table: ods_cities, mode: replace}
    # schedule: "0 2 * * *"     # or every: 15m, or on: new_objects
)";

constexpr const char* kCitiesCsv =
    "id,name,country,population\n"
    "1,Berlin,DE,3755251\n"
    "2,Hamburg,DE,1892122\n"
    "3,Vienna,AT,1982097\n"
    "4,Zurich,CH,421878\n";

constexpr const char* kGitignore =
    ".ferry/\n"
    "warehouse.db*\n";

Status write(const fs::path& path, const char* content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  out.close();
  if (!out) return Status::io("cannot write {}", path.string());
  return Status::success();
}

}  // namespace

Status write_starter_project(const std::string& dir) {
  const fs::path root(dir);
  std::error_code ec;
  if (fs::exists(root / "ferry.yml", ec)) {
    return Status::invalid("{} already exists; nothing was written", (root / "ferry.yml").string());
  }
  fs::create_directories(root / "data", ec);
  if (ec) return Status::io("cannot create {}: {}", (root / "data").string(), ec.message());
  FERRY_TRY(write(root / "ferry.yml", kFerryYml));
  if (!fs::exists(root / "data" / "cities.csv", ec)) {
    FERRY_TRY(write(root / "data" / "cities.csv", kCitiesCsv));
  }
  if (!fs::exists(root / ".gitignore", ec)) FERRY_TRY(write(root / ".gitignore", kGitignore));
  return Status::success();
}

}  // namespace ferry
