// TimeZone: one zone of the IANA time-zone database, for schedules in local time.
//
// Zones come from the system's database (Debian's tzdata under /usr/share/zoneinfo), read by
// Howard Hinnant's date library (Debian's libhowardhinnant-date-dev, built with USE_OS_TZDB):
// offsets and DST rules are never computed by hand. A tzdata update takes effect when the
// process restarts. Caveat of the library's OS mode: it uses the transitions stored in the
// zone files, which Debian writes out to 2037; later instants keep the last stored offset.
//
// Thread-safety: a TimeZone is a small copyable handle on a zone owned by the process-wide
// database, which lives until exit; it may be copied and used from any thread.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/status.h"

namespace date {
class time_zone;
}  // namespace date

namespace ferry {

class TimeZone {
 public:
  // The zone's name in the database, e.g. "Europe/Berlin".
  const std::string& name() const;
  // `t` as local time in this zone, e.g. "2025-03-30 03:00:00 CEST" (whole seconds), for logs
  // and messages.
  std::string format_local(std::chrono::system_clock::time_point t) const;
  // The underlying zone, for code that does time-zone arithmetic (the schedule module).
  const date::time_zone& zone() const { return *zone_; }

 private:
  friend Result<TimeZone> find_zone(std::string_view iana_name);
  explicit TimeZone(const date::time_zone* zone) : zone_(zone) {}

  const date::time_zone* zone_;  // never null; owned by the tz database
};

// The zone named `iana_name` ("Europe/Berlin", "America/New_York", "UTC").
// Fails with kInvalid on an unknown name ("unknown time zone 'Europe/Berln' (did you mean
// 'Europe/Berlin'?)"), and with kIo when the system's database cannot be read.
Result<TimeZone> find_zone(std::string_view iana_name);

}  // namespace ferry
