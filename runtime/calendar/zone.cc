// runtime/calendar: time zones from the system database (date::locate_zone), continued past the
// zone file's last transition by the file's POSIX TZ rule (date's ptz.h). The only translation
// unit that includes <date/ptz.h> (it defines a non-inline function).
#include "runtime/calendar/zone.h"

#include <cstdint>
#include <exception>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "runtime/calendar/calendar.h"

// ptz.h 3.0.1 does not compile as C++20: Posix::time_zone::name() says `hh_mm_ss` under both
// `using namespace date` and `using namespace std::chrono`, which C++20 makes ambiguous
// (std::chrono::hh_mm_ss). The macro qualifies that one use; the alias keeps ptz.h's other,
// already qualified `date::hh_mm_ss` (which the macro turns into `date::date::hh_mm_ss`) valid.
namespace date {
namespace date = ::date;
}  // namespace date
#define hh_mm_ss date::hh_mm_ss
#include <date/ptz.h>
#undef hh_mm_ss

namespace tariff::calendar::internal {

namespace {

// Where the Debian build of the date library (USE_OS_TZDB=1) reads zones from.
constexpr const char* kZoneInfoDir = "/usr/share/zoneinfo";

std::uint32_t BigEndian32(const std::string& bytes, std::size_t pos) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[pos + i]);
  return value;
}

// The POSIX TZ string at the end of a TZif (version 2+) file (RFC 8536, section 3.3), or ""
// when the file is missing, version 1, malformed, or its footer is empty. The two data blocks
// are skipped by their header counts, so the footer is found exactly, not guessed.
std::string ReadFooter(const std::string& zone_name) {
  std::ifstream file(std::string(kZoneInfoDir) + "/" + zone_name, std::ios::binary);
  if (!file) return {};
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  constexpr std::size_t kHeader = 44;
  auto block_end = [&bytes](std::size_t header, std::size_t time_size) -> std::size_t {
    // Counts: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt.
    const std::size_t isut = BigEndian32(bytes, header + 20), isstd = BigEndian32(bytes, header + 24),
                      leap = BigEndian32(bytes, header + 28), time = BigEndian32(bytes, header + 32),
                      type = BigEndian32(bytes, header + 36), chars = BigEndian32(bytes, header + 40);
    return header + kHeader + time * time_size + time + type * 6 + chars + leap * (time_size + 4) + isstd + isut;
  };
  if (bytes.size() < kHeader || bytes.compare(0, 4, "TZif") != 0 || bytes[4] < '2') return {};
  const std::size_t second_header = block_end(0, 4);
  if (second_header + kHeader > bytes.size() || bytes.compare(second_header, 4, "TZif") != 0) return {};
  const std::size_t footer = block_end(second_header, 8);
  if (footer >= bytes.size() || bytes[footer] != '\n') return {};
  const std::size_t footer_end = bytes.find('\n', footer + 1);
  if (footer_end == std::string::npos) return {};
  return bytes.substr(footer + 1, footer_end - footer - 1);
}

// The zone's POSIX rule, or null (no footer, or one ptz.h cannot parse: see calendar.h).
std::unique_ptr<const Posix::time_zone> ReadRule(const std::string& zone_name) {
  const std::string footer = ReadFooter(zone_name);
  if (footer.empty()) return nullptr;
  try {
    return std::make_unique<const Posix::time_zone>(footer);
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace

Zone::Zone(const date::time_zone* tz, std::unique_ptr<const Posix::time_zone> rule)
    : tz_(tz),
      rule_(std::move(rule)),
      // The last entry of the zone file runs "forever": its start is the last transition.
      table_end_(tz->get_info(date::sys_days{date::year::max() / date::January / 1}).begin) {}

Zone::~Zone() = default;

std::shared_ptr<const Zone> Zone::Find(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Zone>, std::less<>> zones;
  const std::lock_guard<std::mutex> lock(mutex);
  if (auto found = zones.find(name); found != zones.end()) return found->second;

  try {
    date::get_tzdb();  // read once, on first use
  } catch (const std::exception& e) {
    throw CalendarError(CalendarErrorKind::kUnknownTimeZone, "unknown time zone \"" + name +
                                                                 "\": the time zone database cannot be read (" +
                                                                 e.what() + ")");
  }
  const date::time_zone* tz = nullptr;
  try {
    tz = date::locate_zone(name);
  } catch (const std::exception&) {
    throw CalendarError(CalendarErrorKind::kUnknownTimeZone,
                        "unknown time zone \"" + name + "\": not in the IANA time zone database (" + kZoneInfoDir +
                            "); names are case-sensitive, such as \"UTC\", \"America/New_York\", \"Europe/Paris\"");
  }
  auto zone = std::make_shared<const Zone>(tz, ReadRule(tz->name()));
  zones.emplace(name, zone);
  return zone;
}

std::chrono::seconds Zone::OffsetAt(SysMicros instant) const {
  const auto seconds = date::floor<std::chrono::seconds>(instant);
  if (rule_ != nullptr && seconds >= table_end_) return rule_->get_info(seconds).offset;
  return tz_->get_info(seconds).offset;
}

SysMicros Zone::ToSys(LocalMicros local) const {
  // Transitions fall on whole seconds, so the second that contains `local` classifies it.
  const auto seconds = date::floor<std::chrono::seconds>(local);
  date::local_info info = tz_->get_info(seconds);
  if (rule_ != nullptr && info.result == date::local_info::unique && info.first.begin >= table_end_) {
    info = rule_->get_info(seconds);
  }
  // What date's to_sys(local, choose::earliest) does, with the rule's answer past the table.
  if (info.result == date::local_info::nonexistent) return SysMicros{info.first.end};
  return SysMicros{local.time_since_epoch() - info.first.offset};
}

}  // namespace tariff::calendar::internal
