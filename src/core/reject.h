// A rejected record: what could not be loaded, where it came from and why.
// Rejects are written to the warehouse table _ferry_rejects with the job and run.
#pragma once

#include <string>

#include "core/batch.h"

namespace ferry {

struct Reject {
  Origin origin;       // file/URL/table, line or record index, byte offset
  std::string reason;  // "expected 3 fields, found 4", "value 'x' is not an int (freeze)"
  std::string raw;     // the raw text of the record, truncated to 64 KiB
};

}  // namespace ferry
