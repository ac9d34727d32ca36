#include <sessionkit/time.hpp>

#include "fixtures.hpp"

#include <gtest/gtest.h>

namespace sessionkit::test {
namespace {

TEST(time, formats_like_javascript_date) {
  const auto vectors = load_fixture("date_vectors.json");
  std::size_t checked = 0;
  for (const auto& item : vectors) {
    const std::string iso = str(item.at("iso"));
    if (iso.size() != 24) continue;  // years outside 0000..9999 use JavaScript's extended form
    const timestamp t{std::chrono::milliseconds(item.at("ms").to_number<long long>())};
    SCOPED_TRACE(iso);
    EXPECT_EQ(format_iso_date(t), iso);
    EXPECT_EQ(format_http_date(t), str(item.at("utc")));
    EXPECT_EQ(parse_date(iso), t);
    ++checked;
  }
  EXPECT_GE(checked, 40u);
}

TEST(time, parses_the_forms_date_parse_accepts) {
  EXPECT_EQ(parse_date("1970-01-01T00:00:01Z"), timestamp{std::chrono::seconds(1)});
  EXPECT_EQ(parse_date("1970-01-01T01:00:00.000+01:00"), timestamp{});
  EXPECT_EQ(parse_date("Thu, 01 Jan 1970 00:00:10 GMT"), timestamp{std::chrono::seconds(10)});
  for (const char* bad : {"", "yesterday", "2026-13-01T00:00:00.000Z", "2026-02-30T00:00:00.000Z",
                          "2026-01-01T00:00:00.000", "2026-01-01T25:00:00Z"})
    EXPECT_EQ(parse_date(bad), std::nullopt) << bad;
}

}  // namespace
}  // namespace sessionkit::test
