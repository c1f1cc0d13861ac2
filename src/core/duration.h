// Durations as users write them in project files: "250ms", "30s", "5m", "1h", "1d", several
// parts in a row ("1h30m"), decimals ("1.5h"), or a bare number of seconds ("90").
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "core/status.h"

namespace ferry {

// The duration in seconds. Fails (kInvalid) on empty text, a negative value, an unknown unit
// or trailing garbage; the message quotes the text.
Result<double> parse_duration_seconds(std::string_view text);

}  // namespace ferry
