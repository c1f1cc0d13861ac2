#include "schedule/time_zone.h"

#include <exception>
#include <string>
#include <vector>

#include <date/tz.h>

#include "core/plugin.h"

namespace ferry {
namespace {

// Every zone name of the database, for "did you mean". (Built with USE_OS_TZDB, the library
// lists each file under /usr/share/zoneinfo as a zone, aliases such as "US/Eastern" included.)
std::vector<std::string> zone_names(const date::tzdb& db) {
  std::vector<std::string> names;
  names.reserve(db.zones.size());
  for (const date::time_zone& z : db.zones)
    names.push_back(z.name());
  return names;
}

}  // namespace

const std::string& TimeZone::name() const {
  return zone_->name();
}

std::string TimeZone::format_local(std::chrono::system_clock::time_point t) const {
  const date::sys_seconds s = std::chrono::floor<std::chrono::seconds>(t);
  const date::sys_info info = zone_->get_info(s);
  return date::format("%F %T ", s + info.offset) + info.abbrev;
}

Result<TimeZone> find_zone(std::string_view iana_name) {
  const date::tzdb* db = nullptr;
  try {
    db = &date::get_tzdb();
  } catch (const std::exception& e) {
    return Status::io("cannot read the time zone database: {}", e.what());
  }
  // locate_zone() reports an unknown name by throwing; look it up without that.
  for (const date::time_zone& z : db->zones) {
    if (z.name() == iana_name) return TimeZone(&z);
  }
  const std::string suggestion = did_you_mean(iana_name, zone_names(*db));
  if (suggestion.empty()) return Status::invalid("unknown time zone '{}'", iana_name);
  return Status::invalid("unknown time zone '{}' (did you mean '{}'?)", iana_name, suggestion);
}

}  // namespace ferry
