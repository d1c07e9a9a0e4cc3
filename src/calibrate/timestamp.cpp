#include "lcsim/calibrate/timestamp.hpp"

#include <cstdio>
#include <string>

namespace lcsim {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/// Reads exactly `width` digits at `pos`; advances on success.
bool read_digits(std::string_view s, std::size_t& pos, std::size_t width, int& out) {
  if (pos + width > s.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = s[pos + i];
    if (!is_digit(c)) return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  pos += width;
  return true;
}

bool leap(std::int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(std::int64_t year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leap(year) ? 29 : kDays[month - 1];
}

/// "YYYY-MM-DD" at `pos`; advances on success.
std::optional<std::int64_t> read_date(std::string_view s, std::size_t& pos) {
  int year = 0;
  int month = 0;
  int day = 0;
  if (!read_digits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-' ||
      !read_digits(s, pos, 2, month) || pos >= s.size() || s[pos++] != '-' ||
      !read_digits(s, pos, 2, day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  return days_from_civil(year, month, day);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  // H. Hinnant's days_from_civil: exact for the proleptic Gregorian calendar.
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const std::int64_t yoe = year - era * 400;                       // [0, 399]
  const std::int64_t mp = (month + 9) % 12;                        // March = 0
  const std::int64_t doy = (153 * mp + 2) / 5 + day - 1;           // [0, 365]
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  // [0, 146096]
  return era * 146097 + doe - 719468;
}

std::string civil_date(std::int64_t day) {
  const std::int64_t z = day + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buffer[80];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02lld-%02lld", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d));
  return buffer;
}

int weekday(std::int64_t day) {
  // 1970-01-01 was a Thursday (3 with Monday = 0).
  const std::int64_t w = (day + 3) % 7;
  return static_cast<int>(w < 0 ? w + 7 : w);
}

std::optional<std::int64_t> parse_date(std::string_view text) {
  const std::string_view s = trim(text);
  std::size_t pos = 0;
  const auto day = read_date(s, pos);
  if (!day || pos != s.size()) return std::nullopt;
  return day;
}

std::optional<Timestamp> parse_timestamp(std::string_view text) {
  const std::string_view s = trim(text);
  std::size_t pos = 0;
  const auto day = read_date(s, pos);
  if (!day) return std::nullopt;
  Timestamp out{*day, 0.0};
  if (pos == s.size()) return out;

  const char sep = s[pos++];
  if (sep != ' ' && sep != 'T' && sep != 't') return std::nullopt;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!read_digits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':' ||
      !read_digits(s, pos, 2, minute)) {
    return std::nullopt;
  }
  double fraction = 0.0;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!read_digits(s, pos, 2, second)) return std::nullopt;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      double scale = 0.1;
      const std::size_t start = pos;
      while (pos < s.size() && is_digit(s[pos])) {
        fraction += scale * (s[pos] - '0');
        scale /= 10.0;
        ++pos;
      }
      if (pos == start) return std::nullopt;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;

  int offset_minutes = 0;
  if (pos < s.size()) {
    const char zone = s[pos++];
    if (zone == 'Z' || zone == 'z') {
      if (pos != s.size()) return std::nullopt;
    } else if (zone == '+' || zone == '-') {
      int oh = 0;
      int om = 0;
      if (!read_digits(s, pos, 2, oh)) return std::nullopt;
      if (pos < s.size() && s[pos] == ':') ++pos;
      if (!read_digits(s, pos, 2, om) || pos != s.size()) return std::nullopt;
      if (oh > 23 || om > 59) return std::nullopt;
      offset_minutes = (zone == '+' ? 1 : -1) * (oh * 60 + om);
    } else {
      return std::nullopt;
    }
  }
  // Local time minus the offset is UTC; carry whole seconds into the day, then add the fraction
  // (so one instant written with different offsets gives identical values).
  std::int64_t whole = hour * 3600 + minute * 60 + second - offset_minutes * 60;
  while (whole < 0) {
    whole += 86400;
    --out.day;
  }
  while (whole >= 86400) {
    whole -= 86400;
    ++out.day;
  }
  out.seconds = static_cast<double>(whole) + fraction;
  return out;
}

bool has_utc_offset(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  // The date's own '-' are at 4 and 7; a sign after the time (position 11 on) starts an offset.
  return text.size() > 11 && text.find_first_of("+-", 11) != std::string_view::npos;
}

std::string time_zone_of(std::string_view text) {
  const std::string_view s = trim(text);
  if (s.empty()) return {};
  if (s.back() == 'Z' || s.back() == 'z') return "Z";
  if (!has_utc_offset(s)) return {};
  // The offset is the last sign and what follows: +HH:MM or +HHMM.
  const std::size_t sign = s.find_last_of("+-");
  std::string digits;
  for (const char c : s.substr(sign + 1)) {
    if (is_digit(c)) digits += c;
  }
  if (digits.size() != 4) return std::string(s.substr(sign));
  return std::string(1, s[sign]) + digits.substr(0, 2) + ":" + digits.substr(2);
}

bool is_utc_zone(std::string_view zone) {
  return zone == "Z" || zone == "+00:00" || zone == "-00:00";
}

bool has_time_of_day(std::string_view text) {
  return trim(text).find(':') != std::string_view::npos;
}

std::optional<Timestamp> parse_timestamp(std::string_view text, DateOrder order) {
  if (auto iso = parse_timestamp(text)) return iso;
  if (order == DateOrder::kIso) return std::nullopt;
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  // D/M/YYYY or M/D/YYYY (separator '/', '.' or '-', one or two digits), then the ISO time part.
  int parts[3] = {0, 0, 0};
  std::size_t digits[3] = {0, 0, 0};
  std::size_t pos = 0;
  char sep = 0;
  for (int k = 0; k < 3; ++k) {
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && digits[k] < 4) {
      parts[k] = parts[k] * 10 + (text[pos] - '0');
      ++digits[k];
      ++pos;
    }
    if (k < 2) {
      if (pos >= text.size() || (text[pos] != '/' && text[pos] != '.' && text[pos] != '-'))
        return std::nullopt;
      if (sep == 0) sep = text[pos];
      if (text[pos] != sep) return std::nullopt;
      ++pos;
    }
  }
  if (digits[0] == 0 || digits[0] > 2 || digits[1] == 0 || digits[1] > 2 || digits[2] != 4)
    return std::nullopt;
  const int day = order == DateOrder::kDayFirst ? parts[0] : parts[1];
  const int month = order == DateOrder::kDayFirst ? parts[1] : parts[0];
  char iso[11];
  std::snprintf(iso, sizeof iso, "%04d-%02d-%02d", parts[2], month, day);
  return parse_timestamp(std::string(iso) + std::string(text.substr(pos)));
}

}  // namespace lcsim
