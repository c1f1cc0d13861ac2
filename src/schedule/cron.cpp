#include "schedule/cron.h"

#include <array>
#include <cctype>
#include <charconv>
#include <exception>
#include <optional>
#include <string>

#include <date/tz.h>

namespace ferry {
namespace {

namespace chr = std::chrono;
using LocalMinutes = chr::local_time<chr::minutes>;
using SysSeconds = chr::sys_seconds;

constexpr std::array<const char*, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<const char*, 7> kDayNames = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct FieldSpec {
  const char* name;
  int low;
  int high;                            // highest value accepted (7 for day-of-week)
  int star_high;                       // highest value `*` stands for (6 for day-of-week)
  const char* const* names = nullptr;  // three-letter names, the first one is `low`
  int name_count = 0;
  const char* name_kind = "";  // "a month name (JAN-DEC)"
};

const FieldSpec kMinute{"minute", 0, 59, 59};
const FieldSpec kHour{"hour", 0, 23, 23};
const FieldSpec kDayOfMonth{"day-of-month", 1, 31, 31};
const FieldSpec kMonth{"month", 1, 12, 12, kMonthNames.data(), 12, "a month name (JAN-DEC)"};
const FieldSpec kDayOfWeek{"day-of-week", 0, 7, 6, kDayNames.data(), 7, "a day name (SUN-SAT)"};

constexpr const char* kFieldList = "minute hour day-of-month month day-of-week";

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back()))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// "minute field '61'" when the item is the culprit, "minute field '10-70': '70'" for a part.
std::string subject(const FieldSpec& spec, std::string_view item, std::string_view part) {
  if (part == item) return fmt::format("{} field '{}'", spec.name, item);
  return fmt::format("{} field '{}': '{}'", spec.name, item, part);
}

// A value of the field: digits or (month and day-of-week) a three-letter name.
Result<int> parse_value(const FieldSpec& spec, std::string_view item, std::string_view part) {
  if (part.empty()) return Status::invalid("{} is missing a value", subject(spec, item, item));
  if (std::isdigit(static_cast<unsigned char>(part.front()))) {
    int value = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (end != part.data() + part.size() && ec == std::errc()) {
      return Status::invalid("{} is not a number", subject(spec, item, part));
    }
    if (ec != std::errc() || value < spec.low || value > spec.high) {
      return Status::invalid("{} is out of range {}-{}", subject(spec, item, part), spec.low,
                             spec.high);
    }
    return value;
  }
  for (int i = 0; i < spec.name_count; ++i) {
    if (iequals(part, spec.names[i])) return spec.low + i;
  }
  if (spec.name_count == 0) return Status::invalid("{} is not a number", subject(spec, item, part));
  return Status::invalid("{} is not a number or {}", subject(spec, item, part), spec.name_kind);
}

// Sets the bits of one list item: `*`, `v`, `a-b`, `*/s` or `a-b/s`.
Status parse_item(const FieldSpec& spec, std::string_view item, std::bitset<64>& bits) {
  std::string_view base = item;
  std::optional<std::string_view> step_text;
  if (size_t slash = item.find('/'); slash != std::string_view::npos) {
    base = item.substr(0, slash);
    step_text = item.substr(slash + 1);
  }
  int first = spec.low;
  int last = spec.star_high;
  bool single = false;
  if (base != "*") {
    const size_t dash = base.find('-');
    FERRY_ASSIGN(first, parse_value(spec, item, base.substr(0, dash)));
    if (dash == std::string_view::npos) {
      last = first;
      single = true;
    } else {
      FERRY_ASSIGN(last, parse_value(spec, item, base.substr(dash + 1)));
      // Sunday is 0 and 7: a range that ends on it ("FRI-SUN") means 7.
      if (&spec == &kDayOfWeek && last == 0 && first > 0) last = 7;
      if (first > last) {
        return Status::invalid("{} is a backwards range (write the lower value first)",
                               subject(spec, item, item));
      }
    }
  }
  int step = 1;
  if (step_text) {
    if (single) {
      return Status::invalid("{}: a step needs '*' or a range (write {}-{}/{})",
                             subject(spec, item, item), base, spec.star_high, *step_text);
    }
    const int max_step = spec.star_high - spec.low + 1;
    const std::string_view s = *step_text;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
    if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.front())) ||
        end != s.data() + s.size() || ec != std::errc() || step < 1 || step > max_step) {
      return Status::invalid("{}: the step must be a number from 1 to {}",
                             subject(spec, item, item), max_step);
    }
  }
  for (int v = first; v <= last; v += step)
    bits.set(static_cast<size_t>(v));
  return Status::success();
}

// Parses one field into `bits`.
Status parse_field(const FieldSpec& spec, std::string_view field, std::bitset<64>& bits) {
  size_t start = 0;
  while (true) {
    const size_t comma = field.find(',', start);
    const std::string_view item = field.substr(start, comma - start);
    if (item.empty()) {
      return Status::invalid("{} field '{}' has an empty list item", spec.name, field);
    }
    FERRY_TRY(parse_item(spec, item, bits));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return Status::success();
}

template <size_t N>
std::bitset<N> narrow(const std::bitset<64>& bits) {
  std::bitset<N> out;
  for (size_t i = 0; i < N; ++i)
    out[i] = bits[i];
  return out;
}

// The five fields a macro stands for, or "" for an unknown macro.
std::string_view macro_fields(std::string_view macro) {
  if (iequals(macro, "@hourly")) return "0 * * * *";
  if (iequals(macro, "@daily") || iequals(macro, "@midnight")) return "0 0 * * *";
  if (iequals(macro, "@weekly")) return "0 0 * * 0";
  if (iequals(macro, "@monthly")) return "0 0 1 * *";
  if (iequals(macro, "@yearly") || iequals(macro, "@annually")) return "0 0 1 1 *";
  return "";
}

// Whether some selected month has some selected day of the month (February counts 29 days).
bool some_date_exists(const std::bitset<32>& days, const std::bitset<13>& months) {
  constexpr std::array<int, 13> kMaxDays = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  for (size_t m = 1; m <= 12; ++m) {
    if (!months[m]) continue;
    for (int d = 1; d <= kMaxDays[m]; ++d) {
      if (days[static_cast<size_t>(d)]) return true;
    }
  }
  return false;
}

// The first local minute at or after `from` whose date, hour and minute match, looking no
// further than `limit`.
std::optional<LocalMinutes> first_match(const CronSchedule& s, LocalMinutes from,
                                        chr::local_days limit) {
  chr::local_days day = chr::floor<chr::days>(from);
  int minute_of_day = static_cast<int>((from - day).count());
  while (day < limit) {
    const chr::year_month_day ymd{day};
    if (!s.months()[static_cast<unsigned>(ymd.month())]) {  // skip to the next month
      const chr::year_month next = chr::year_month{ymd.year(), ymd.month()} + chr::months{1};
      day = chr::local_days{next / chr::day{1}};
      minute_of_day = 0;
      continue;
    }
    if (s.matches_date(ymd)) {
      for (int h = minute_of_day / 60; h < 24; ++h) {
        if (!s.hours()[static_cast<size_t>(h)]) continue;
        for (int m = h == minute_of_day / 60 ? minute_of_day % 60 : 0; m < 60; ++m) {
          if (s.minutes()[static_cast<size_t>(m)]) return day + chr::hours{h} + chr::minutes{m};
        }
      }
    }
    day += chr::days{1};
    minute_of_day = 0;
  }
  return std::nullopt;
}

date::local_seconds to_date_local(LocalMinutes t) {
  return date::local_seconds{chr::seconds{t.time_since_epoch()}};
}

Result<chr::system_clock::time_point> next_tick_impl(const CronSchedule& s,
                                                     chr::system_clock::time_point after,
                                                     const date::time_zone& tz) {
  const SysSeconds latest = chr::floor<chr::seconds>(chr::system_clock::time_point::max());
  const date::local_seconds local_after = tz.to_local(chr::floor<chr::seconds>(after));
  LocalMinutes from{chr::floor<chr::minutes>(local_after.time_since_epoch()) + chr::minutes{1}};
  // Any schedule that parses has a tick within one 400-year Gregorian cycle (146,097 days).
  const chr::local_days limit = chr::floor<chr::days>(from) + chr::days{146097 + 366};
  // Local times map to instants monotonically (first occurrences, gaps collapsed), and the
  // local time of `after` maps to at most `after`; so the answer is the first match after it
  // whose instant is later than `after`. Only matches inside an overlap are passed over.
  while (true) {
    const std::optional<LocalMinutes> match = first_match(s, from, limit);
    if (!match) break;
    const date::local_info info = tz.get_info(to_date_local(*match));
    SysSeconds tick;
    if (info.result == date::local_info::nonexistent) {
      if (!s.fixed_time()) {  // skip the gap: resume at its local end
        const SysSeconds gap_end_local = info.second.begin + info.second.offset;
        from = chr::ceil<chr::minutes>(chr::local_seconds{gap_end_local.time_since_epoch()});
        continue;
      }
      tick = info.second.begin;  // the first instant after the gap
    } else {
      // unique, or ambiguous: `first` is the offset in force before the transition, which
      // gives the earlier of the two instants.
      tick = SysSeconds{to_date_local(*match).time_since_epoch()} - info.first.offset;
    }
    if (tick > latest) break;
    if (tick > after) return chr::system_clock::time_point{tick};
    from = *match + chr::minutes{1};
  }
  return Status::not_found("cron schedule '{}' has no tick after {} that can be represented",
                           s.expression(),
                           date::format("%F %T UTC", chr::floor<chr::seconds>(after)));
}

}  // namespace

bool CronSchedule::matches_date(chr::year_month_day date) const {
  if (!date.ok() || !months_[static_cast<unsigned>(date.month())]) return false;
  const bool dom = days_of_month_[static_cast<unsigned>(date.day())];
  const bool dow = days_of_week_[chr::weekday{chr::sys_days{date}}.c_encoding()];
  if (day_of_month_star_ || day_of_week_star_) return dom && dow;
  return dom || dow;
}

Result<CronSchedule> parse_cron(std::string_view expression) {
  const std::string_view text = trim(expression);
  auto fail = [&](const Status& st) {
    return Status::invalid("invalid cron expression '{}': {}", text, st.message());
  };
  if (text.empty()) return Status::invalid("empty cron expression (expected {})", kFieldList);

  std::string_view fields_text = text;
  if (text.front() == '@') {
    fields_text = macro_fields(text);
    if (fields_text.empty()) {
      return fail(Status::invalid(
          "unknown macro (use @hourly, @daily, @midnight, @weekly, @monthly, @yearly or "
          "@annually)"));
    }
  }

  std::array<std::string_view, 5> fields;
  size_t count = 0;
  for (size_t i = 0; i < fields_text.size();) {
    if (is_blank(fields_text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < fields_text.size() && !is_blank(fields_text[end]))
      ++end;
    if (count < fields.size()) fields[count] = fields_text.substr(i, end - i);
    ++count;
    i = end;
  }
  if (count != fields.size()) {
    return fail(Status::invalid("expected 5 fields ({}) or a macro such as @daily, got {}",
                                kFieldList, count));
  }

  const std::array<const FieldSpec*, 5> specs = {&kMinute, &kHour, &kDayOfMonth, &kMonth,
                                                 &kDayOfWeek};
  std::array<std::bitset<64>, 5> bits;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (Status st = parse_field(*specs[i], fields[i], bits[i]); !st.is_ok()) return fail(st);
  }
  if (bits[4][7]) bits[4].set(0);  // 7 is Sunday too

  CronSchedule s;
  s.expression_ = std::string(text);
  s.minutes_ = narrow<60>(bits[0]);
  s.hours_ = narrow<24>(bits[1]);
  s.days_of_month_ = narrow<32>(bits[2]);
  s.months_ = narrow<13>(bits[3]);
  s.days_of_week_ = narrow<7>(bits[4]);
  s.day_of_month_star_ = fields[2].front() == '*';
  s.day_of_week_star_ = fields[4].front() == '*';
  s.fixed_time_ = fields[0].front() != '*' && fields[1].front() != '*';
  // When the days of the month count alone (day-of-week is `*...`), some selected month must
  // have one of them; a day-of-week list or a `*...` day-of-month always meets some date.
  if (s.day_of_week_star_ && !some_date_exists(s.days_of_month_, s.months_)) {
    return fail(Status::invalid(
        "it never runs: no month in month field '{}' has a day in day-of-month field '{}'",
        fields[3], fields[2]));
  }
  return s;
}

Result<chr::system_clock::time_point> next_tick(const CronSchedule& schedule,
                                                chr::system_clock::time_point after,
                                                const TimeZone& zone) {
  try {
    return next_tick_impl(schedule, after, zone.zone());
  } catch (const std::exception& e) {  // the library reads a zone's file on first use
    return Status::io("time zone '{}': {}", zone.name(), e.what());
  }
}

Result<MissedTicks> missed_ticks(const CronSchedule& schedule, chr::system_clock::time_point from,
                                 chr::system_clock::time_point to, const TimeZone& zone,
                                 size_t max_ticks) {
  MissedTicks out;
  chr::system_clock::time_point t = from;
  while (t < to) {
    Result<chr::system_clock::time_point> next = next_tick(schedule, t, zone);
    if (!next.ok() && next.status().code() == Code::kNotFound) break;
    if (!next.ok()) return next.status();
    if (*next > to) break;
    if (out.ticks.size() == max_ticks) {
      out.truncated = true;
      break;
    }
    out.ticks.push_back(*next);
    t = *next;
  }
  return out;
}

Result<bool> missed_any_tick(const CronSchedule& schedule, chr::system_clock::time_point from,
                             chr::system_clock::time_point to, const TimeZone& zone) {
  if (from >= to) return false;
  Result<chr::system_clock::time_point> next = next_tick(schedule, from, zone);
  if (!next.ok() && next.status().code() == Code::kNotFound) return false;
  if (!next.ok()) return next.status();
  return *next <= to;
}

}  // namespace ferry
