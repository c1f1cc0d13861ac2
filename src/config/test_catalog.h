// For tests only: a small plugin catalog shaped like the real one (file and http sources, a
// sqlite destination), so config tests do not depend on the plugins' own declarations.
#pragma once

#include "core/plugin.h"

namespace ferry::testing {

inline PluginCatalog test_catalog() {
  using T = OptionType;
  PluginCatalog catalog;

  PluginDecl file;
  file.kind = "file";
  file.description = "Local files or folders.";
  file.is_source = true;
  file.connection_options = {{"path", T::kString, "", "Base folder.", true}};
  file.source_options = {
      {"path", T::kString, "", "File or folder under the connection's path.", true},
      {"pattern", T::kString, "*", "Glob of file names."},
      {"format", T::kString, "csv", "csv, json or jsonl."},
      {"delimiter", T::kString, ",", "CSV field separator."},
      {"header", T::kBool, "true", "First line holds the column names."},
  };
  catalog["file"] = file;

  PluginDecl sqlite;
  sqlite.kind = "sqlite";
  sqlite.description = "Embedded SQLite warehouse.";
  sqlite.is_destination = true;
  sqlite.connection_options = {{"path", T::kString, "warehouse.db", "Database file.", true}};
  sqlite.target_options = {{"batch_rows", T::kInt, "10000", "Rows per insert batch."}};
  catalog["sqlite"] = sqlite;

  PluginDecl http;
  http.kind = "http";
  http.description = "REST APIs.";
  http.is_source = true;
  http.connection_options = {
      {"base_url", T::kString, "", "Prefix of every URL.", true},
      {"token", T::kString, "", "Bearer token.", false, true},
  };
  http.source_options = {
      {"path", T::kString, "", "Request path.", true},
      {"params", T::kMap, "", "Query parameters."},
      {"records", T::kString, "", "JSON pointer to the records."},
      {"page_size", T::kInt, "100", "Records per page."},
  };
  catalog["http"] = http;
  return catalog;
}

}  // namespace ferry::testing
