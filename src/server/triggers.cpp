#include "server/triggers.h"

#include "schedule/cron.h"
#include "schedule/time_zone.h"

namespace ferry::server {

Result<std::chrono::system_clock::time_point> next_cron_tick(
    const std::string& cron, const std::string& timezone,
    std::chrono::system_clock::time_point after) {
  FERRY_ASSIGN(CronSchedule schedule, parse_cron(cron));
  FERRY_ASSIGN(TimeZone zone, find_zone(timezone.empty() ? "UTC" : timezone));
  return next_tick(schedule, after, zone);
}

Result<std::vector<std::chrono::system_clock::time_point>> missed_cron_ticks(
    const std::string& cron, const std::string& timezone,
    std::chrono::system_clock::time_point from, std::chrono::system_clock::time_point to,
    size_t max) {
  FERRY_ASSIGN(CronSchedule schedule, parse_cron(cron));
  FERRY_ASSIGN(TimeZone zone, find_zone(timezone.empty() ? "UTC" : timezone));
  FERRY_ASSIGN(MissedTicks missed, missed_ticks(schedule, from, to, zone, max));
  return missed.ticks;
}

}  // namespace ferry::server
