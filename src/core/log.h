// Logging setup. Logs go to stderr (stdout is a command's output): text by default, or one
// JSON object per line ({"time", "level", "message"}) for log collectors (`ferry serve
// --log-format json`). Messages pass through core/redact.h first.
//
// Thread-safety: call once at start, before other threads log.
#pragma once

#include <string>

#include "core/status.h"

namespace ferry {

// "text" or "json"; kInvalid for anything else.
Status set_log_format(const std::string& format);

}  // namespace ferry
