#include <sessionkit/time.hpp>

#include <algorithm>
#include <cstring>

#include <array>
#include <charconv>

namespace sessionkit {
namespace {

using namespace std::chrono;

constexpr std::array<const char*, 7> weekday_names{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> month_names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct broken_down {
  long long year;
  unsigned month, day, weekday, hour, minute, second, millisecond;
};

constexpr long long ms_per_day = 86'400'000;

long long floor_div(long long a, long long b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Days since 1970-01-01 of a proleptic Gregorian date, and back, for any year JavaScript's Date
// reaches (std::chrono::year stops at 32767). The usual era-of-400-years arithmetic.
long long days_from_civil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = floor_div(y, 400);
  const auto year_of_era = static_cast<unsigned>(y - era * 400);
  const unsigned day_of_year = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<long long>(day_of_era) - 719468;
}

void civil_from_days(long long z, long long& y, unsigned& m, unsigned& d) {
  z += 719468;
  const long long era = floor_div(z, 146097);
  const auto day_of_era = static_cast<unsigned>(z - era * 146097);
  const unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned mp = (5 * day_of_year + 2) / 153;
  d = day_of_year - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<long long>(year_of_era) + era * 400 + (m <= 2);
}

bool is_leap(long long y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

unsigned days_in_month(long long y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

broken_down split(timestamp t) {
  const long long ms = t.time_since_epoch().count();
  const long long day = floor_div(ms, ms_per_day);
  const auto in_day = static_cast<unsigned>(ms - day * ms_per_day);
  broken_down b{};
  civil_from_days(day, b.year, b.month, b.day);
  b.weekday = static_cast<unsigned>(floor_div(day + 4, 7) * -7 + day + 4);  // 1970-01-01: Thursday
  b.hour = in_day / 3'600'000;
  b.minute = in_day / 60'000 % 60;
  b.second = in_day / 1000 % 60;
  b.millisecond = in_day % 1000;
  return b;
}

// Reads exactly `width` digits at `pos`, advancing it.
bool read_digits(std::string_view s, std::size_t& pos, std::size_t width, int& out) {
  if (pos + width > s.size()) return false;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += width;
  out = value;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

std::optional<timestamp> make_time(long long y, int mo, int d, int h, int mi, int sec, int ms) {
  if (mo < 1 || mo > 12 || d < 1 || unsigned(d) > days_in_month(y, unsigned(mo)) || h > 24 || mi > 59 || sec > 59)
    return std::nullopt;
  if (h == 24 && (mi != 0 || sec != 0 || ms != 0)) return std::nullopt;
  const long long t = days_from_civil(y, unsigned(mo), unsigned(d)) * ms_per_day + h * 3'600'000LL +
                      mi * 60'000LL + sec * 1000LL + ms;
  if (t > max_js_time_ms || t < -max_js_time_ms) return std::nullopt;  // an Invalid Date
  return timestamp{milliseconds{t}};
}

std::optional<timestamp> parse_iso(std::string_view s) {
  std::size_t pos = 0;
  int mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0;
  long long y = 0;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    // An expanded year (toISOString past 0000..9999): a sign and six digits, not "-000000".
    const bool negative = s[0] == '-';
    pos = 1;
    int six = 0;
    if (!read_digits(s, pos, 6, six) || (negative && six == 0)) return std::nullopt;
    y = negative ? -six : six;
  } else {
    int four = 0;
    if (!read_digits(s, pos, 4, four)) return std::nullopt;
    y = four;
  }
  if (pos < s.size() && !(expect(s, pos, '-') && read_digits(s, pos, 2, mo))) return std::nullopt;
  if (pos < s.size() && s[pos] == '-' && !(expect(s, pos, '-') && read_digits(s, pos, 2, d)))
    return std::nullopt;
  if (pos == s.size()) return make_time(y, mo, d, 0, 0, 0, 0);  // date-only forms are UTC
  if (!expect(s, pos, 'T') || !read_digits(s, pos, 2, h) || !expect(s, pos, ':') ||
      !read_digits(s, pos, 2, mi))
    return std::nullopt;
  if (pos < s.size() && s[pos] == ':') {
    if (!expect(s, pos, ':') || !read_digits(s, pos, 2, sec)) return std::nullopt;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      // JavaScript keeps milliseconds; further digits are accepted and dropped.
      std::size_t digits = 0;
      int fraction = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (digits < 3) fraction = fraction * 10 + (s[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0) return std::nullopt;
      for (std::size_t i = digits; i < 3; ++i) fraction *= 10;
      ms = fraction;
    }
  }
  // Local-time forms (no designator) would depend on the machine's zone: refuse them.
  if (pos >= s.size()) return std::nullopt;
  int offset_minutes = 0;
  if (s[pos] == 'Z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    const int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!read_digits(s, pos, 2, oh) || !expect(s, pos, ':') || !read_digits(s, pos, 2, om))
      return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  auto t = make_time(y, mo, d, h, mi, sec, ms);
  if (!t) return std::nullopt;
  const timestamp at = *t - minutes{offset_minutes};
  if (!in_js_date_range(at)) return std::nullopt;
  return at;
}

// "Thu, 01 Jan 1970 00:00:00 GMT"
std::optional<timestamp> parse_imf(std::string_view s) {
  if (s.size() != 29 || s.substr(3, 2) != ", " || s.substr(25) != " GMT") return std::nullopt;
  std::size_t pos = 5;
  int d = 0, y = 0, h = 0, mi = 0, sec = 0;
  if (!read_digits(s, pos, 2, d) || !expect(s, pos, ' ')) return std::nullopt;
  int mo = 0;
  for (int i = 0; i < 12; ++i)
    if (s.substr(pos, 3) == month_names[std::size_t(i)]) mo = i + 1;
  if (mo == 0) return std::nullopt;
  pos += 3;
  if (!expect(s, pos, ' ') || !read_digits(s, pos, 4, y) || !expect(s, pos, ' ') ||
      !read_digits(s, pos, 2, h) || !expect(s, pos, ':') || !read_digits(s, pos, 2, mi) ||
      !expect(s, pos, ':') || !read_digits(s, pos, 2, sec))
    return std::nullopt;
  return make_time(y, mo, d, h, mi, sec, 0);
}

}  // namespace

timestamp now() noexcept { return floor<milliseconds>(system_clock::now()); }

namespace {

void append_digits(std::string& out, unsigned value, int width) {
  char digits[4];
  for (int i = width - 1; i >= 0; --i) {
    digits[i] = char('0' + value % 10);
    value /= 10;
  }
  out.append(digits, std::size_t(width));
}

}  // namespace

// Hand-formatted (the hot path: every Set-Cookie and stored record).
void append_http_date(std::string& out, timestamp t) {
  // Date.prototype.toUTCString: the year zero-padded to four digits, "-" before negative ones
  // ("Sat, 01 Jan 10000", "Fri, 31 Dec -0001").
  const auto b = split(t);
  out.append(weekday_names[b.weekday], 3).append(", ");
  append_digits(out, b.day, 2);
  out.push_back(' ');
  out.append(month_names[b.month - 1], 3).push_back(' ');
  if (b.year < 0) out.push_back('-');
  const unsigned long long year = static_cast<unsigned long long>(b.year < 0 ? -b.year : b.year);
  if (year <= 9999) append_digits(out, unsigned(year), 4);
  else out.append(std::to_string(year));
  out.push_back(' ');
  append_digits(out, b.hour, 2);
  out.push_back(':');
  append_digits(out, b.minute, 2);
  out.push_back(':');
  append_digits(out, b.second, 2);
  out.append(" GMT");
}

namespace {

char* write_digits(char* out, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = char('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

}  // namespace

std::size_t write_iso_date(char* out, timestamp t) {
  // Date.prototype.toISOString: four year digits for 0000..9999, else a sign and six digits.
  const auto b = split(t);
  char* p = out;
  if (b.year >= 0 && b.year <= 9999) {
    p = write_digits(p, unsigned(b.year), 4);
  } else {
    *p++ = b.year < 0 ? '-' : '+';
    p = write_digits(p, unsigned(b.year < 0 ? -b.year : b.year) % 1'000'000, 6);
  }
  *p++ = '-';
  p = write_digits(p, b.month, 2);
  *p++ = '-';
  p = write_digits(p, b.day, 2);
  *p++ = 'T';
  p = write_digits(p, b.hour, 2);
  *p++ = ':';
  p = write_digits(p, b.minute, 2);
  *p++ = ':';
  p = write_digits(p, b.second, 2);
  *p++ = '.';
  p = write_digits(p, b.millisecond, 3);
  *p++ = 'Z';
  return std::size_t(p - out);
}

void append_iso_date(std::string& out, timestamp t) {
  char buffer[max_iso_date_size];
  out.append(buffer, write_iso_date(buffer, t));
}

std::string format_http_date(timestamp t) {
  std::string out;
  out.reserve(29);
  append_http_date(out, t);
  return out;
}

std::string format_iso_date(timestamp t) {
  std::string out;
  out.reserve(24);
  append_iso_date(out, t);
  return out;
}

std::optional<timestamp> parse_date(std::string_view text) noexcept {
  if (text.size() >= 4 && ((text[0] >= '0' && text[0] <= '9') || text[0] == '+' || text[0] == '-'))
    return parse_iso(text);
  return parse_imf(text);
}

}  // namespace sessionkit
