// How a chunk of JSON bytes holds its records (shared by sources and the JSON reader).
#pragma once

namespace ferry {

enum class JsonLayout {
  kLines,    // JSON Lines: one document per line
  kDocument  // one document: an array of records, an object, or records under a pointer
};

}  // namespace ferry
