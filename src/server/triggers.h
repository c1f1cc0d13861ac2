// Time-based triggers of `ferry serve`: the next tick of a job's cron `schedule` in the
// project's time zone (src/schedule does the calendar work).
//
// Thread-safety: re-entrant.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/status.h"

namespace ferry::server {

// The first tick of `cron` strictly after `after`, in the IANA zone `timezone`. kInvalid
// naming the expression or the zone when either is wrong.
Result<std::chrono::system_clock::time_point> next_cron_tick(
    const std::string& cron, const std::string& timezone,
    std::chrono::system_clock::time_point after);

// The ticks of `cron` in (from, to], oldest first, at most `max`.
Result<std::vector<std::chrono::system_clock::time_point>> missed_cron_ticks(
    const std::string& cron, const std::string& timezone,
    std::chrono::system_clock::time_point from, std::chrono::system_clock::time_point to,
    size_t max);

}  // namespace ferry::server
