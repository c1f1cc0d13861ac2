// The SQLite backend of the metastore (see meta/metastore.h for the contract).
#pragma once

#include <filesystem>
#include <memory>

#include "core/status.h"
#include "meta/metastore.h"

namespace ferry::meta {

// Opens the metastore file at `path`, creating it and its parent directories when missing,
// in WAL mode with a 10 s busy timeout, and migrates it to the current schema.
Result<std::unique_ptr<Metastore>> open_sqlite_metastore(const std::filesystem::path& path);

}  // namespace ferry::meta
