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

}  // namespace ferry::server
