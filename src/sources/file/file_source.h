// The `file` source: a local file, or a folder and a glob pattern; CSV, JSON or JSON Lines,
// gzipped or not.
//
// Each file is loaded once: the job's state keeps, per file (path relative to the
// connection's folder), its size, mtime and a content hash. On the next run a file with the
// same size and mtime is skipped; one whose size or mtime changed is hashed and loaded again
// only when its content changed. New files are picked up in name order.
#pragma once

#include "sources/source.h"

namespace ferry {

SourceDescriptor file_source_descriptor();

}  // namespace ferry
