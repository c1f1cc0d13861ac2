// Cron schedules for `ferry serve`: parsing 5-field expressions and finding their ticks in a
// time zone.
//
// Syntax (Vixie cron): "minute hour day-of-month month day-of-week", fields separated by
// blanks. A field is a comma-separated list of items; an item is `*`, a value `5`, a range
// `1-5`, or `*` or a range with a step (`*/15`, `10-50/20`). A lone value takes no step (write
// `5-59/15`). Ranges are minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC,
// day-of-week 0-7 or SUN-SAT (0 and 7 are Sunday; a range may end on SUN, as in FRI-SUN).
// Names are three letters, any case. Macros: @hourly, @daily (= @midnight), @weekly (Sunday
// 00:00), @monthly, @yearly (= @annually).
//
// Day rule (Vixie): when the day-of-month and day-of-week fields are both restricted, a day
// matches if EITHER matches ("0 0 13 * FRI" runs on every 13th and every Friday). A field that
// starts with `*` (`*`, `*/2`) counts as unrestricted for this rule, so then both must match.
//
// Time zones and DST (local time is the zone's wall clock):
//   * A local time that occurs twice (the fall-back overlap, e.g. 02:30 on the last Sunday of
//     October in Europe/Berlin) runs ONCE, at its first occurrence (the summer-time one).
//     This holds for every schedule, so `*/15 * * * *` does not run during the repeated hour.
//   * A local time that does not exist (the spring-forward gap, e.g. 02:30 on the last Sunday
//     of March in Europe/Berlin):
//       - for a fixed-time schedule (neither the minute nor the hour field starts with `*`,
//         e.g. "30 2 * * *", @daily) the tick runs once at the first instant after the gap
//         (03:00 CEST), so a daily job never loses a day; several ticks inside one gap make
//         one run there, and a tick that also falls at that instant is the same run;
//       - for other schedules ("*/15 * * * *", "30 * * * *", @hourly) the ticks in the gap
//         are skipped: they repeat anyway, and their next tick is the first after the gap.
//   This follows cron's own rule for fixed-time and wildcard jobs (Vixie cron, cronie) on the
//   gap side; on the overlap side a local time never runs twice.
//
// Ticks are whole local minutes; instants are system_clock time points (UTC).
//
// Thread-safety: CronSchedule is an immutable value; the functions are pure and re-entrant.
#pragma once

#include <bitset>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "schedule/time_zone.h"

namespace ferry {

class CronSchedule {
 public:
  // The expression as written (trimmed), e.g. "*/15 9-17 * * MON-FRI" or "@daily".
  const std::string& expression() const { return expression_; }

  // The values each field selects. Bit v is value v: minutes 0-59, hours 0-23, days of the
  // month 1-31 (bit 0 unused), months 1-12 (bit 0 unused), days of the week 0-6 (0 = Sunday;
  // a 7 in the expression sets bit 0).
  const std::bitset<60>& minutes() const { return minutes_; }
  const std::bitset<24>& hours() const { return hours_; }
  const std::bitset<32>& days_of_month() const { return days_of_month_; }
  const std::bitset<13>& months() const { return months_; }
  const std::bitset<7>& days_of_week() const { return days_of_week_; }

  // True when neither the minute nor the hour field starts with `*`: the schedule names its
  // times of day, and a tick in a spring-forward gap runs right after the gap.
  bool fixed_time() const { return fixed_time_; }

  // Whether the schedule runs on this civil date (month field and the day rule above).
  bool matches_date(std::chrono::year_month_day date) const;

 private:
  friend Result<CronSchedule> parse_cron(std::string_view expression);
  CronSchedule() = default;

  std::string expression_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;
  std::bitset<13> months_;
  std::bitset<7> days_of_week_;
  bool day_of_month_star_ = false;  // the field starts with '*'
  bool day_of_week_star_ = false;   // the field starts with '*'
  bool fixed_time_ = false;
};

// Parses a cron expression (syntax above). Fails with kInvalid and a message that quotes the
// expression and names the bad field, e.g. "invalid cron expression '61 * * * *': minute
// field '61' is out of range 0-59". Also refuses expressions that can never run
// ("0 0 30 2 *").
Result<CronSchedule> parse_cron(std::string_view expression);

// The first tick of `schedule` in `zone` strictly after `after`, under the DST rules above.
// Fails with kNotFound when there is none that system_clock can represent (from about 2262);
// kIo when the zone's data cannot be read.
Result<std::chrono::system_clock::time_point> next_tick(const CronSchedule& schedule,
                                                        std::chrono::system_clock::time_point after,
                                                        const TimeZone& zone);

// The ticks that fell in (from, to], oldest first: what `catchup: all` runs after the daemon
// was down. `from` is the instant up to which the schedule was already handled (its last
// tick, or when the daemon last looked); a tick exactly at `to` is included, so
// next_tick(schedule, to, zone) continues without a gap or an overlap.
struct MissedTicks {
  std::vector<std::chrono::system_clock::time_point> ticks;
  // More ticks fell in (ticks.back(), to] than `max_ticks` allowed; call again from
  // ticks.back() to page on.
  bool truncated = false;
};
Result<MissedTicks> missed_ticks(const CronSchedule& schedule,
                                 std::chrono::system_clock::time_point from,
                                 std::chrono::system_clock::time_point to, const TimeZone& zone,
                                 size_t max_ticks);

// Whether any tick fell in (from, to]: for `catchup: none`, which runs once at start if so.
Result<bool> missed_any_tick(const CronSchedule& schedule,
                             std::chrono::system_clock::time_point from,
                             std::chrono::system_clock::time_point to, const TimeZone& zone);

}  // namespace ferry
