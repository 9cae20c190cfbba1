// runtime/calendar: one IANA time zone, looked up once and shared — the only place that asks the
// date library for UTC offsets, and that turns local wall-clock time into instants (the gap and
// fold rule of calendar.h). Internal to runtime/calendar (includes <date/tz.h>).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <date/tz.h>

namespace Posix {
class time_zone;
}  // namespace Posix

namespace tariff::calendar::internal {

using Micros = std::chrono::microseconds;
using SysMicros = date::sys_time<Micros>;
using LocalMicros = date::local_time<Micros>;

class Zone {
 public:
  // The zone named `name`, shared by every Calendar that asks for it. Throws
  // CalendarError(kUnknownTimeZone) naming it when the database does not have it.
  static std::shared_ptr<const Zone> Find(const std::string& name);

  Zone(const date::time_zone* tz, std::unique_ptr<const Posix::time_zone> rule);
  ~Zone();
  Zone(const Zone&) = delete;
  Zone& operator=(const Zone&) = delete;

  // The UTC offset in force at `instant`.
  std::chrono::seconds OffsetAt(SysMicros instant) const;
  // The wall-clock time at `instant`.
  LocalMicros ToLocal(SysMicros instant) const { return LocalMicros{(instant + OffsetAt(instant)).time_since_epoch()}; }
  // The instant of a wall-clock time: a time in a gap → the first instant after the gap (the
  // transition); a time in a fold → the earlier instant (date::choose::earliest).
  SysMicros ToSys(LocalMicros local) const;

  const std::string& name() const { return tz_->name(); }
  // Whether the zone's POSIX TZ rule continues the zone file's transitions (see calendar.h).
  bool has_rule() const { return rule_ != nullptr; }

 private:
  const date::time_zone* tz_;                    // owned by date::get_tzdb(), lives forever
  std::unique_ptr<const Posix::time_zone> rule_;  // the zone file's footer, or null
  date::sys_seconds table_end_;                  // the last transition the zone file lists
};

}  // namespace tariff::calendar::internal
