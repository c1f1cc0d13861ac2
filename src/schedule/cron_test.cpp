#include "schedule/cron.h"

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <date/date.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "schedule/time_zone.h"

namespace ferry {
namespace {

namespace chr = std::chrono;
using Clock = chr::system_clock;
using ::testing::HasSubstr;

// "2025-03-30T01:00:00Z" -> instant. Every instant in these tests is written in UTC.
Clock::time_point at(const std::string& iso) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char z = 0;
  const int n = std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d%c", &y, &mo, &d, &h, &mi, &s, &z);
  EXPECT_TRUE(n == 7 && z == 'Z') << iso;
  const chr::year_month_day date{chr::year{y}, chr::month{static_cast<unsigned>(mo)},
                                 chr::day{static_cast<unsigned>(d)}};
  EXPECT_TRUE(date.ok()) << iso;
  return chr::sys_days{date} + chr::hours{h} + chr::minutes{mi} + chr::seconds{s};
}

std::string iso(Clock::time_point t) {
  return date::format("%FT%TZ", chr::floor<chr::seconds>(t));
}

CronSchedule cron(const std::string& expression) {
  Result<CronSchedule> s = parse_cron(expression);
  EXPECT_TRUE(s.ok()) << expression << ": " << s.status().message();
  if (!s.ok()) return parse_cron("* * * * *").value();
  return std::move(s).value();
}

TimeZone zone(const std::string& name) {
  Result<TimeZone> z = find_zone(name);
  EXPECT_TRUE(z.ok()) << z.status().message();
  if (!z.ok()) return find_zone("UTC").value();
  return std::move(z).value();
}

// The next tick after `after` as "YYYY-MM-DDTHH:MM:SSZ", or "error: ...".
std::string next(const std::string& expression, const std::string& after,
                 const std::string& zone_name) {
  Result<Clock::time_point> t = next_tick(cron(expression), at(after), zone(zone_name));
  if (!t.ok()) return "error: " + t.status().message();
  return iso(*t);
}

std::vector<std::string> missed(const std::string& expression, const std::string& from,
                                const std::string& to, const std::string& zone_name,
                                size_t max_ticks = 1000) {
  Result<MissedTicks> m =
      missed_ticks(cron(expression), at(from), at(to), zone(zone_name), max_ticks);
  EXPECT_TRUE(m.ok()) << m.status().message();
  std::vector<std::string> out;
  if (!m.ok()) return out;
  EXPECT_FALSE(m->truncated);
  for (Clock::time_point t : m->ticks)
    out.push_back(iso(t));
  return out;
}

std::string parse_error(const std::string& expression) {
  Result<CronSchedule> s = parse_cron(expression);
  if (s.ok()) return "parsed";
  EXPECT_EQ(s.status().code(), Code::kInvalid);
  return s.status().message();
}

template <size_t N>
std::vector<int> values(const std::bitset<N>& bits) {
  std::vector<int> out;
  for (size_t i = 0; i < N; ++i) {
    if (bits[i]) out.push_back(static_cast<int>(i));
  }
  return out;
}

chr::year_month_day ymd(int y, unsigned m, unsigned d) {
  return chr::year_month_day{chr::year{y}, chr::month{m}, chr::day{d}};
}

// ---- parser ---------------------------------------------------------------------------------

TEST(CronParse, StarsRangesAndSteps) {
  CronSchedule s = cron("*/15 9-17 * * MON-FRI");
  EXPECT_EQ(values(s.minutes()), (std::vector<int>{0, 15, 30, 45}));
  EXPECT_EQ(values(s.hours()), (std::vector<int>{9, 10, 11, 12, 13, 14, 15, 16, 17}));
  EXPECT_EQ(s.days_of_month().count(), 31u);
  EXPECT_FALSE(s.days_of_month()[0]);
  EXPECT_EQ(values(s.months()), (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(values(s.days_of_week()), (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(s.expression(), "*/15 9-17 * * MON-FRI");

  EXPECT_EQ(values(cron("10-50/20 * * * *").minutes()), (std::vector<int>{10, 30, 50}));
  EXPECT_EQ(values(cron("0 */6 * * *").hours()), (std::vector<int>{0, 6, 12, 18}));
  EXPECT_EQ(values(cron("0 0 */10 * *").days_of_month()), (std::vector<int>{1, 11, 21, 31}));
  EXPECT_EQ(values(cron("0 0 1 */4 *").months()), (std::vector<int>{1, 5, 9}));
  // A step larger than the range keeps only its start.
  EXPECT_EQ(values(cron("*/60 * * * *").minutes()), (std::vector<int>{0}));
}

TEST(CronParse, Lists) {
  EXPECT_EQ(values(cron("1,3,5 * * * *").minutes()), (std::vector<int>{1, 3, 5}));
  EXPECT_EQ(values(cron("0,30-35/5,59 * * * *").minutes()), (std::vector<int>{0, 30, 35, 59}));
  EXPECT_EQ(values(cron("0 0 * * 1,3-4").days_of_week()), (std::vector<int>{1, 3, 4}));
}

TEST(CronParse, NamesAnyCase) {
  CronSchedule s = cron("0 0 * jan,Mar,DEC sun");
  EXPECT_EQ(values(s.months()), (std::vector<int>{1, 3, 12}));
  EXPECT_EQ(values(s.days_of_week()), (std::vector<int>{0}));
  EXPECT_EQ(values(cron("0 0 * FEB-apr Tue-Thu").months()), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(values(cron("0 0 * FEB-apr Tue-Thu").days_of_week()), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(values(cron("0 0 * JAN-DEC/3 *").months()), (std::vector<int>{1, 4, 7, 10}));
}

TEST(CronParse, SevenIsSunday) {
  EXPECT_EQ(values(cron("0 0 * * 7").days_of_week()), (std::vector<int>{0}));
  EXPECT_EQ(values(cron("0 0 * * 5-7").days_of_week()), (std::vector<int>{0, 5, 6}));
  // A range may end on SUN (= 7): Friday, Saturday, Sunday.
  EXPECT_EQ(values(cron("0 0 * * FRI-SUN").days_of_week()), (std::vector<int>{0, 5, 6}));
  EXPECT_EQ(values(cron("0 0 * * 0,7").days_of_week()), (std::vector<int>{0}));
}

TEST(CronParse, MacrosEqualTheirFields) {
  struct Case {
    const char* macro;
    const char* fields;
  };
  for (const Case& c :
       {Case{"@hourly", "0 * * * *"}, Case{"@daily", "0 0 * * *"}, Case{"@midnight", "0 0 * * *"},
        Case{"@weekly", "0 0 * * 0"}, Case{"@monthly", "0 0 1 * *"}, Case{"@yearly", "0 0 1 1 *"},
        Case{"@annually", "0 0 1 1 *"}, Case{"@DAILY", "0 0 * * *"}}) {
    SCOPED_TRACE(c.macro);
    CronSchedule m = cron(c.macro);
    CronSchedule f = cron(c.fields);
    EXPECT_EQ(m.expression(), c.macro);
    EXPECT_EQ(m.minutes(), f.minutes());
    EXPECT_EQ(m.hours(), f.hours());
    EXPECT_EQ(m.days_of_month(), f.days_of_month());
    EXPECT_EQ(m.months(), f.months());
    EXPECT_EQ(m.days_of_week(), f.days_of_week());
    EXPECT_EQ(m.fixed_time(), f.fixed_time());
  }
  EXPECT_EQ(values(cron("@weekly").days_of_week()), (std::vector<int>{0}));
  EXPECT_EQ(values(cron("@monthly").days_of_month()), (std::vector<int>{1}));
}

TEST(CronParse, BlanksAreTrimmedAndCollapsed) {
  CronSchedule s = cron("  5   12\t* *  *  ");
  EXPECT_EQ(s.expression(), "5   12\t* *  *");
  EXPECT_EQ(values(s.minutes()), (std::vector<int>{5}));
  EXPECT_EQ(values(s.hours()), (std::vector<int>{12}));
  EXPECT_EQ(cron(" @daily ").expression(), "@daily");
}

TEST(CronParse, FixedTimeMeansNoStarInMinuteOrHour) {
  EXPECT_TRUE(cron("30 2 * * *").fixed_time());
  EXPECT_TRUE(cron("0,30 2 * * *").fixed_time());
  EXPECT_TRUE(cron("0 0-23 * * *").fixed_time());
  EXPECT_TRUE(cron("@daily").fixed_time());
  EXPECT_FALSE(cron("*/15 * * * *").fixed_time());
  EXPECT_FALSE(cron("30 * * * *").fixed_time());
  EXPECT_FALSE(cron("* 2 * * *").fixed_time());
  EXPECT_FALSE(cron("@hourly").fixed_time());
}

TEST(CronParse, ErrorsQuoteTheExpressionAndNameTheField) {
  EXPECT_EQ(parse_error("61 * * * *"),
            "invalid cron expression '61 * * * *': minute field '61' is out of range 0-59");
  EXPECT_EQ(parse_error("0 24 * * *"),
            "invalid cron expression '0 24 * * *': hour field '24' is out of range 0-23");
  EXPECT_EQ(parse_error("0 0 0 * *"),
            "invalid cron expression '0 0 0 * *': day-of-month field '0' is out of range 1-31");
  EXPECT_EQ(parse_error("0 0 * 13 *"),
            "invalid cron expression '0 0 * 13 *': month field '13' is out of range 1-12");
  EXPECT_EQ(parse_error("0 0 * * 8"),
            "invalid cron expression '0 0 * * 8': day-of-week field '8' is out of range 0-7");
  EXPECT_EQ(parse_error("10-70 * * * *"),
            "invalid cron expression '10-70 * * * *': minute field '10-70': '70' is out of "
            "range 0-59");
  EXPECT_EQ(parse_error("99999999999 * * * *"),
            "invalid cron expression '99999999999 * * * *': minute field '99999999999' is out "
            "of range 0-59");
  EXPECT_EQ(parse_error("0 0 * JUNE *"),
            "invalid cron expression '0 0 * JUNE *': month field 'JUNE' is not a number or a "
            "month name (JAN-DEC)");
  EXPECT_EQ(parse_error("0 0 * * MON-FUN"),
            "invalid cron expression '0 0 * * MON-FUN': day-of-week field 'MON-FUN': 'FUN' is "
            "not a number or a day name (SUN-SAT)");
  EXPECT_EQ(parse_error("x * * * *"),
            "invalid cron expression 'x * * * *': minute field 'x' is not a number");
  EXPECT_EQ(parse_error("5x * * * *"),
            "invalid cron expression '5x * * * *': minute field '5x' is not a number");
  EXPECT_EQ(parse_error("0 MON * * *"),
            "invalid cron expression '0 MON * * *': hour field 'MON' is not a number");
  EXPECT_EQ(parse_error("1- * * * *"),
            "invalid cron expression '1- * * * *': minute field '1-' is missing a value");
  EXPECT_EQ(parse_error("*/0 * * * *"),
            "invalid cron expression '*/0 * * * *': minute field '*/0': the step must be a "
            "number from 1 to 60");
  EXPECT_EQ(parse_error("0 0 */x * *"),
            "invalid cron expression '0 0 */x * *': day-of-month field '*/x': the step must be "
            "a number from 1 to 31");
  EXPECT_EQ(parse_error("5/15 * * * *"),
            "invalid cron expression '5/15 * * * *': minute field '5/15': a step needs '*' or "
            "a range (write 5-59/15)");
  EXPECT_EQ(parse_error("0 5-1 * * *"),
            "invalid cron expression '0 5-1 * * *': hour field '5-1' is a backwards range "
            "(write the lower value first)");
  EXPECT_EQ(parse_error("1,,2 * * * *"),
            "invalid cron expression '1,,2 * * * *': minute field '1,,2' has an empty list item");
  EXPECT_EQ(parse_error("* * * *"),
            "invalid cron expression '* * * *': expected 5 fields (minute hour day-of-month "
            "month day-of-week) or a macro such as @daily, got 4");
  EXPECT_EQ(parse_error("* * * * * *"),
            "invalid cron expression '* * * * * *': expected 5 fields (minute hour day-of-month "
            "month day-of-week) or a macro such as @daily, got 6");
  EXPECT_EQ(parse_error("@reboot"),
            "invalid cron expression '@reboot': unknown macro (use @hourly, @daily, @midnight, "
            "@weekly, @monthly, @yearly or @annually)");
  EXPECT_EQ(parse_error("  "),
            "empty cron expression (expected minute hour day-of-month month day-of-week)");
}

TEST(CronParse, RefusesDatesThatNeverHappen) {
  EXPECT_EQ(parse_error("0 0 30 2 *"),
            "invalid cron expression '0 0 30 2 *': it never runs: no month in month field '2' "
            "has a day in day-of-month field '30'");
  EXPECT_THAT(parse_error("0 0 31 4,6,9,11 *"), HasSubstr("it never runs"));
  // One month with a 31st is enough; Feb 29 exists in leap years; a day-of-week list also
  // selects days (the OR rule), so Mondays of February still run.
  EXPECT_EQ(parse_error("0 0 31 4,5 *"), "parsed");
  EXPECT_EQ(parse_error("0 0 29 2 *"), "parsed");
  EXPECT_EQ(parse_error("0 0 30 2 MON"), "parsed");
}

// ---- the day rule ---------------------------------------------------------------------------

TEST(CronDays, BothRestrictedMeansEither) {
  CronSchedule s = cron("0 0 13 * FRI");
  EXPECT_TRUE(s.matches_date(ymd(2025, 5, 13)));   // Tuesday the 13th: day of month
  EXPECT_TRUE(s.matches_date(ymd(2025, 5, 16)));   // Friday the 16th: day of week
  EXPECT_TRUE(s.matches_date(ymd(2025, 6, 13)));   // Friday the 13th: both
  EXPECT_FALSE(s.matches_date(ymd(2025, 5, 14)));  // Wednesday the 14th: neither
  // The month field still applies to both.
  EXPECT_FALSE(cron("0 0 13 6 FRI").matches_date(ymd(2025, 5, 16)));
  EXPECT_TRUE(cron("0 0 13 6 FRI").matches_date(ymd(2025, 6, 6)));
}

TEST(CronDays, AStarFieldMeansBoth) {
  // Day-of-week `*`: only the 13th.
  EXPECT_TRUE(cron("0 0 13 * *").matches_date(ymd(2025, 5, 13)));
  EXPECT_FALSE(cron("0 0 13 * *").matches_date(ymd(2025, 5, 16)));
  // Day-of-month `*`: only Fridays.
  EXPECT_FALSE(cron("0 0 * * FRI").matches_date(ymd(2025, 5, 13)));
  EXPECT_TRUE(cron("0 0 * * FRI").matches_date(ymd(2025, 5, 16)));
  // Vixie: `*/2` starts with '*', so it is ANDed: odd days that are Fridays.
  CronSchedule odd_fridays = cron("0 0 */2 * FRI");
  EXPECT_TRUE(odd_fridays.matches_date(ymd(2025, 5, 9)));    // Friday the 9th
  EXPECT_FALSE(odd_fridays.matches_date(ymd(2025, 5, 16)));  // Friday, but even
  EXPECT_FALSE(odd_fridays.matches_date(ymd(2025, 5, 13)));  // odd, but Tuesday
}

TEST(CronNext, DayRuleOverSeveralWeeks) {
  // June 2025: the 1st is a Sunday; Fridays are the 6th, 13th, 20th, 27th.
  EXPECT_EQ(missed("0 9 13 * FRI", "2025-06-01T00:00:00Z", "2025-07-14T00:00:00Z", "UTC"),
            (std::vector<std::string>{"2025-06-06T09:00:00Z", "2025-06-13T09:00:00Z",
                                      "2025-06-20T09:00:00Z", "2025-06-27T09:00:00Z",
                                      "2025-07-04T09:00:00Z", "2025-07-11T09:00:00Z",
                                      "2025-07-13T09:00:00Z"}));
}

// ---- next tick, no DST ----------------------------------------------------------------------

TEST(CronNext, StrictlyAfter) {
  EXPECT_EQ(next("*/15 * * * *", "2025-01-01T10:07:30Z", "UTC"), "2025-01-01T10:15:00Z");
  EXPECT_EQ(next("*/15 * * * *", "2025-01-01T10:15:00Z", "UTC"), "2025-01-01T10:30:00Z");
  // Sub-second `after`: 10:14:59.5 is before 10:15:00.
  Result<Clock::time_point> t = next_tick(
      cron("*/15 * * * *"), at("2025-01-01T10:14:59Z") + chr::milliseconds{500}, zone("UTC"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(iso(*t), "2025-01-01T10:15:00Z");
  EXPECT_EQ(next("* * * * *", "2025-12-31T23:59:00Z", "UTC"), "2026-01-01T00:00:00Z");
}

TEST(CronNext, LocalTimeOutsideDst) {
  // Berlin in May is CEST (UTC+2): 09:00 local = 07:00Z. Friday 16 May -> Monday 19 May.
  EXPECT_EQ(next("0 9 * * MON-FRI", "2025-05-16T07:00:00Z", "Europe/Berlin"),
            "2025-05-19T07:00:00Z");
  // New York in January is EST (UTC-5): 23:30 local on Jan 1 = 04:30Z on Jan 2.
  EXPECT_EQ(next("30 23 * * *", "2025-01-01T12:00:00Z", "America/New_York"),
            "2025-01-02T04:30:00Z");
}

TEST(CronNext, Macros) {
  // Wednesday 14 May 2025 -> Sunday 18 May 00:00.
  EXPECT_EQ(next("@weekly", "2025-05-14T12:00:00Z", "UTC"), "2025-05-18T00:00:00Z");
  EXPECT_EQ(next("0 0 * * 7", "2025-05-14T12:00:00Z", "UTC"), "2025-05-18T00:00:00Z");
  EXPECT_EQ(next("@monthly", "2025-01-31T23:59:00Z", "UTC"), "2025-02-01T00:00:00Z");
  EXPECT_EQ(next("@yearly", "2025-01-01T00:00:00Z", "UTC"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(next("@annually", "2025-06-01T00:00:00Z", "UTC"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(next("@hourly", "2025-12-31T23:30:00Z", "UTC"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(next("@daily", "2025-02-28T00:00:00Z", "UTC"), "2025-03-01T00:00:00Z");
  EXPECT_EQ(next("@midnight", "2024-02-28T00:00:00Z", "UTC"), "2024-02-29T00:00:00Z");
  // @daily in Berlin: midnight CET (UTC+1) is 23:00Z the day before.
  EXPECT_EQ(next("@daily", "2025-01-10T12:00:00Z", "Europe/Berlin"), "2025-01-10T23:00:00Z");
}

TEST(CronNext, MonthEnds) {
  // The 31st only exists in Jan, Mar, May, Jul, Aug, Oct, Dec.
  EXPECT_EQ(missed("0 0 31 * *", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "UTC"),
            (std::vector<std::string>{"2025-01-31T00:00:00Z", "2025-03-31T00:00:00Z",
                                      "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z",
                                      "2025-08-31T00:00:00Z", "2025-10-31T00:00:00Z",
                                      "2025-12-31T00:00:00Z"}));
  // From April (30 days) straight to May 31; June (30 days) is skipped too.
  EXPECT_EQ(next("0 0 31 * *", "2025-04-01T00:00:00Z", "UTC"), "2025-05-31T00:00:00Z");
  EXPECT_EQ(next("0 0 31 * *", "2025-05-31T00:00:00Z", "UTC"), "2025-07-31T00:00:00Z");
  // The 30th skips February.
  EXPECT_EQ(next("0 0 30 * *", "2025-01-30T00:00:00Z", "UTC"), "2025-03-30T00:00:00Z");
}

TEST(CronNext, LeapDays) {
  EXPECT_EQ(next("0 0 29 2 *", "2025-01-01T00:00:00Z", "UTC"), "2028-02-29T00:00:00Z");
  EXPECT_EQ(next("0 0 29 2 *", "2028-02-29T00:00:00Z", "UTC"), "2032-02-29T00:00:00Z");
  // 2100 is not a leap year (divisible by 100, not by 400): 2096 -> 2104.
  EXPECT_EQ(next("0 0 29 2 *", "2096-02-29T00:00:00Z", "UTC"), "2104-02-29T00:00:00Z");
  // 2000 was (divisible by 400).
  EXPECT_EQ(next("0 0 29 2 *", "1999-01-01T00:00:00Z", "UTC"), "2000-02-29T00:00:00Z");
  // "Last day of February" with a list: the 28th every year, the 29th in leap years.
  EXPECT_EQ(next("0 0 28,29 2 *", "2024-02-28T00:00:00Z", "UTC"), "2024-02-29T00:00:00Z");
  EXPECT_EQ(next("0 0 28,29 2 *", "2025-02-01T00:00:00Z", "UTC"), "2025-02-28T00:00:00Z");
  EXPECT_EQ(next("0 0 28,29 2 *", "2025-02-28T00:00:00Z", "UTC"), "2026-02-28T00:00:00Z");
}

TEST(CronNext, BeyondTheClockRangeIsNotFound) {
  // system_clock counts nanoseconds in 64 bits: its last instant is in April 2262.
  Result<Clock::time_point> t =
      next_tick(cron("0 0 1 1 *"), at("2262-01-02T00:00:00Z"), zone("UTC"));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Code::kNotFound);
  EXPECT_THAT(t.status().message(), HasSubstr("'0 0 1 1 *' has no tick after 2262-01-02"));
}

// ---- DST: Europe/Berlin ---------------------------------------------------------------------
// 2025-03-30: at 01:00Z clocks jump from 02:00 CET (UTC+1) to 03:00 CEST (UTC+2); local
//             02:00-02:59 does not exist.
// 2025-10-26: at 01:00Z clocks fall back from 03:00 CEST to 02:00 CET; local 02:00-02:59
//             happens twice: first 00:00Z-00:59Z (CEST), again 01:00Z-01:59Z (CET).

TEST(CronDstBerlin, FixedTimeInTheGapRunsRightAfterIt) {
  // 29 March: 02:30 CET = 01:30Z.
  EXPECT_EQ(next("30 2 * * *", "2025-03-28T12:00:00Z", "Europe/Berlin"), "2025-03-29T01:30:00Z");
  // 30 March: 02:30 does not exist; it runs at the end of the gap, 03:00 CEST = 01:00Z.
  EXPECT_EQ(next("30 2 * * *", "2025-03-29T12:00:00Z", "Europe/Berlin"), "2025-03-30T01:00:00Z");
  EXPECT_EQ(next("30 2 * * *", "2025-03-30T00:59:59Z", "Europe/Berlin"), "2025-03-30T01:00:00Z");
  // And only once: next is 31 March, 02:30 CEST = 00:30Z.
  EXPECT_EQ(next("30 2 * * *", "2025-03-30T01:00:00Z", "Europe/Berlin"), "2025-03-31T00:30:00Z");
  // Two ticks in the gap (02:00 and 02:30) make one run at 01:00Z; then 02:00 CEST on the
  // 31st = 00:00Z.
  EXPECT_EQ(next("0,30 2 * * *", "2025-03-29T23:00:00Z", "Europe/Berlin"), "2025-03-30T01:00:00Z");
  EXPECT_EQ(next("0,30 2 * * *", "2025-03-30T01:00:00Z", "Europe/Berlin"), "2025-03-31T00:00:00Z");
  // 02:30 shifted to 03:00 CEST and the 03:00 tick are the same instant: one run, then 04:00
  // CEST = 02:00Z.
  EXPECT_EQ(next("0,30 2-4 * * *", "2025-03-30T00:00:00Z", "Europe/Berlin"),
            "2025-03-30T01:00:00Z");
  EXPECT_EQ(next("0,30 2-4 * * *", "2025-03-30T01:00:00Z", "Europe/Berlin"),
            "2025-03-30T01:30:00Z");  // 03:30 CEST
}

TEST(CronDstBerlin, WildcardTicksInTheGapAreSkipped) {
  // 01:30 CET = 00:30Z; 02:30 does not exist and is skipped; 03:30 CEST = 01:30Z.
  EXPECT_EQ(next("30 * * * *", "2025-03-30T00:00:00Z", "Europe/Berlin"), "2025-03-30T00:30:00Z");
  EXPECT_EQ(next("30 * * * *", "2025-03-30T00:30:00Z", "Europe/Berlin"), "2025-03-30T01:30:00Z");
  // Every 30 minutes from 00:00 CET (23:00Z) to 04:00 CEST (02:00Z): 00:30, 01:00, 01:30 CET,
  // (02:00 and 02:30 skipped), 03:00, 03:30, 04:00 CEST.
  EXPECT_EQ(missed("*/30 * * * *", "2025-03-29T23:00:00Z", "2025-03-30T02:00:00Z", "Europe/Berlin"),
            (std::vector<std::string>{"2025-03-29T23:30:00Z", "2025-03-30T00:00:00Z",
                                      "2025-03-30T00:30:00Z", "2025-03-30T01:00:00Z",
                                      "2025-03-30T01:30:00Z", "2025-03-30T02:00:00Z"}));
  // Every minute during hour 2 (minute field '*'): nothing at all on the 30th.
  EXPECT_EQ(next("* 2 * * *", "2025-03-30T00:00:00Z", "Europe/Berlin"), "2025-03-31T00:00:00Z");
}

TEST(CronDstBerlin, RepeatedLocalTimeRunsOnceAtItsFirstOccurrence) {
  // 02:30 CEST (first occurrence) = 00:30Z.
  EXPECT_EQ(next("30 2 * * *", "2025-10-25T12:00:00Z", "Europe/Berlin"), "2025-10-26T00:30:00Z");
  // Not again at 02:30 CET (01:30Z): next is 27 October, 02:30 CET = 01:30Z.
  EXPECT_EQ(next("30 2 * * *", "2025-10-26T00:30:00Z", "Europe/Berlin"), "2025-10-27T01:30:00Z");
  // Asked from inside the second pass (02:15 CET = 01:15Z): 03:00 CET = 02:00Z is next.
  EXPECT_EQ(next("*/30 * * * *", "2025-10-26T01:15:00Z", "Europe/Berlin"), "2025-10-26T02:00:00Z");
  // 03:00 happens once (in CET) = 02:00Z.
  EXPECT_EQ(next("0 3 * * *", "2025-10-26T00:00:00Z", "Europe/Berlin"), "2025-10-26T02:00:00Z");
  // Every 30 minutes from 01:00 CEST (23:00Z) to 03:00 CET (02:00Z): 01:30, 02:00, 02:30 CEST,
  // then the repeated 02:00 and 02:30 (CET) do not run again, then 03:00 CET.
  EXPECT_EQ(missed("*/30 * * * *", "2025-10-25T23:00:00Z", "2025-10-26T02:00:00Z", "Europe/Berlin"),
            (std::vector<std::string>{"2025-10-25T23:30:00Z", "2025-10-26T00:00:00Z",
                                      "2025-10-26T00:30:00Z", "2025-10-26T02:00:00Z"}));
}

TEST(CronDstBerlin, EveryLocalTimeOfTheDayRunsAtMostOnce) {
  // Every 15 minutes over the spring day, (00:00 CET 30 Mar, 00:00 CEST 31 Mar]: 95 local
  // times after 00:00 on the 30th, minus 02:00/02:15/02:30/02:45, plus 00:00 on the 31st = 92.
  EXPECT_EQ(missed("*/15 * * * *", "2025-03-29T23:00:00Z", "2025-03-30T22:00:00Z", "Europe/Berlin")
                .size(),
            92u);
  // Over the autumn day, (00:00 CEST 26 Oct, 00:00 CET 27 Oct], a 25-hour day: still each
  // local time once, 95 + 1 = 96.
  EXPECT_EQ(missed("*/15 * * * *", "2025-10-25T22:00:00Z", "2025-10-26T23:00:00Z", "Europe/Berlin")
                .size(),
            96u);
  // A daily job at 02:30 runs exactly once on each of the 275 days from 1 March to
  // 30 November, both transitions included (31+30+31+30+31+31+30+31+30).
  std::vector<std::string> daily =
      missed("30 2 * * *", "2025-03-01T00:00:00Z", "2025-12-01T00:00:00Z", "Europe/Berlin");
  EXPECT_EQ(daily.size(), 275u);
}

// ---- DST: America/New_York ------------------------------------------------------------------
// 2025-03-09: at 07:00Z clocks jump from 02:00 EST (UTC-5) to 03:00 EDT (UTC-4).
// 2025-11-02: at 06:00Z clocks fall back from 02:00 EDT to 01:00 EST; local 01:00-01:59
//             happens twice: first 05:00Z-05:59Z (EDT), again 06:00Z-06:59Z (EST).

TEST(CronDstNewYork, SpringForward) {
  // 8 March: 02:30 EST = 07:30Z.
  EXPECT_EQ(next("30 2 * * *", "2025-03-07T12:00:00Z", "America/New_York"), "2025-03-08T07:30:00Z");
  // 9 March: 02:30 does not exist; runs at 03:00 EDT = 07:00Z.
  EXPECT_EQ(next("30 2 * * *", "2025-03-08T12:00:00Z", "America/New_York"), "2025-03-09T07:00:00Z");
  // 10 March: 02:30 EDT = 06:30Z.
  EXPECT_EQ(next("30 2 * * *", "2025-03-09T07:00:00Z", "America/New_York"), "2025-03-10T06:30:00Z");
  // Hourly from 00:00 EST (05:00Z) to 04:00 EDT (08:00Z): 01:00 EST, (02:00 skipped),
  // 03:00 EDT, 04:00 EDT.
  EXPECT_EQ(missed("@hourly", "2025-03-09T05:00:00Z", "2025-03-09T08:00:00Z", "America/New_York"),
            (std::vector<std::string>{"2025-03-09T06:00:00Z", "2025-03-09T07:00:00Z",
                                      "2025-03-09T08:00:00Z"}));
}

TEST(CronDstNewYork, FallBack) {
  // 2 November: 01:30 EDT (first occurrence) = 05:30Z.
  EXPECT_EQ(next("30 1 * * *", "2025-11-01T12:00:00Z", "America/New_York"), "2025-11-02T05:30:00Z");
  // Not again at 01:30 EST (06:30Z): next is 3 November, 01:30 EST = 06:30Z.
  EXPECT_EQ(next("30 1 * * *", "2025-11-02T05:30:00Z", "America/New_York"), "2025-11-03T06:30:00Z");
  // Hourly from 00:00 EDT (04:00Z) to 02:00 EST (07:00Z): 01:00 EDT, (01:00 EST not again),
  // 02:00 EST.
  EXPECT_EQ(missed("@hourly", "2025-11-02T04:00:00Z", "2025-11-02T07:00:00Z", "America/New_York"),
            (std::vector<std::string>{"2025-11-02T05:00:00Z", "2025-11-02T07:00:00Z"}));
}

// ---- missed ticks ---------------------------------------------------------------------------

TEST(CronMissed, BoundedAndPageable) {
  const TimeZone utc = zone("UTC");
  const CronSchedule every_minute = cron("* * * * *");
  Result<MissedTicks> first =
      missed_ticks(every_minute, at("2025-01-01T00:00:00Z"), at("2025-01-01T01:00:00Z"), utc, 10);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->ticks.size(), 10u);
  EXPECT_TRUE(first->truncated);
  EXPECT_EQ(iso(first->ticks.front()), "2025-01-01T00:01:00Z");
  EXPECT_EQ(iso(first->ticks.back()), "2025-01-01T00:10:00Z");
  // Page on from the last one: the remaining 50, ending with the tick at `to` itself.
  Result<MissedTicks> rest =
      missed_ticks(every_minute, first->ticks.back(), at("2025-01-01T01:00:00Z"), utc, 100);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->ticks.size(), 50u);
  EXPECT_FALSE(rest->truncated);
  EXPECT_EQ(iso(rest->ticks.front()), "2025-01-01T00:11:00Z");
  EXPECT_EQ(iso(rest->ticks.back()), "2025-01-01T01:00:00Z");
  // Exactly max_ticks ticks: all of them, not truncated.
  Result<MissedTicks> exact =
      missed_ticks(every_minute, at("2025-01-01T00:00:00Z"), at("2025-01-01T00:10:00Z"), utc, 10);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->ticks.size(), 10u);
  EXPECT_FALSE(exact->truncated);
  // An empty or reversed interval has none.
  Result<MissedTicks> none =
      missed_ticks(every_minute, at("2025-01-01T01:00:00Z"), at("2025-01-01T00:00:00Z"), utc, 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->ticks.empty());
  EXPECT_FALSE(none->truncated);
}

TEST(CronMissed, AnyTickIsHalfOpen) {
  const TimeZone utc = zone("UTC");
  const CronSchedule daily = cron("0 3 * * *");
  auto any = [&](const std::string& from, const std::string& to, const TimeZone& z,
                 const CronSchedule& s) {
    Result<bool> r = missed_any_tick(s, at(from), at(to), z);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() && *r;
  };
  // (03:00 on the 1st, 02:59 on the 2nd]: the 03:00 tick on the 1st was already handled.
  EXPECT_FALSE(any("2025-01-01T03:00:00Z", "2025-01-02T02:59:00Z", utc, daily));
  // A tick exactly at `to` counts.
  EXPECT_TRUE(any("2025-01-01T03:00:00Z", "2025-01-02T03:00:00Z", utc, daily));
  EXPECT_TRUE(any("2025-01-01T00:00:00Z", "2025-01-09T00:00:00Z", utc, daily));
  EXPECT_FALSE(any("2025-01-02T00:00:00Z", "2025-01-01T00:00:00Z", utc, daily));
  // Down over the Berlin gap: the 02:30 job's shifted run at 01:00Z was missed.
  EXPECT_TRUE(any("2025-03-30T00:59:00Z", "2025-03-30T01:00:00Z", zone("Europe/Berlin"),
                  cron("30 2 * * *")));
  // Down only during the second pass of the Berlin overlap: 02:30 already ran in CEST.
  EXPECT_FALSE(any("2025-10-26T00:30:00Z", "2025-10-26T01:59:00Z", zone("Europe/Berlin"),
                   cron("30 2 * * *")));
}

// ---- zones ----------------------------------------------------------------------------------

TEST(TimeZone, FindsIanaNames) {
  Result<TimeZone> berlin = find_zone("Europe/Berlin");
  ASSERT_TRUE(berlin.ok()) << berlin.status().message();
  EXPECT_EQ(berlin->name(), "Europe/Berlin");
  EXPECT_EQ(berlin->format_local(at("2025-03-30T00:59:59Z")), "2025-03-30 01:59:59 CET");
  EXPECT_EQ(berlin->format_local(at("2025-03-30T01:00:00Z")), "2025-03-30 03:00:00 CEST");
  Result<TimeZone> ny = find_zone("America/New_York");
  ASSERT_TRUE(ny.ok());
  EXPECT_EQ(ny->format_local(at("2025-11-02T05:30:00Z")), "2025-11-02 01:30:00 EDT");
  EXPECT_EQ(ny->format_local(at("2025-11-02T06:30:00Z")), "2025-11-02 01:30:00 EST");
  EXPECT_TRUE(find_zone("UTC").ok());
}

TEST(TimeZone, UnknownNames) {
  Result<TimeZone> typo = find_zone("Europe/Berln");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.status().code(), Code::kInvalid);
  EXPECT_EQ(typo.status().message(),
            "unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?)");
  Result<TimeZone> lower = find_zone("europe/berlin");
  ASSERT_FALSE(lower.ok());
  EXPECT_EQ(lower.status().message(),
            "unknown time zone 'europe/berlin' (did you mean 'Europe/Berlin'?)");
  Result<TimeZone> nowhere = find_zone("Nowhere/Xyzzy");
  ASSERT_FALSE(nowhere.ok());
  EXPECT_EQ(nowhere.status().code(), Code::kInvalid);
  EXPECT_THAT(nowhere.status().message(), HasSubstr("unknown time zone 'Nowhere/Xyzzy'"));
  EXPECT_FALSE(find_zone("").ok());
}

}  // namespace
}  // namespace ferry
