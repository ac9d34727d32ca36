#include "redis_slot_map.hpp"

#include <map>

namespace sessionkit::detail {

std::string node_name(std::string_view host, std::uint16_t port) {
  return std::string(host) + ":" + std::to_string(port);
}

std::string redirect_target(std::string_view error, const std::string& answered_by) {
  const std::size_t space = error.rfind(' ');
  if (space == std::string_view::npos) return {};
  const std::string_view target = error.substr(space + 1);
  if (target.find(':') == std::string_view::npos) return {};
  if (target.front() == ':') {
    const std::size_t colon = answered_by.rfind(':');
    if (colon == std::string::npos) return {};
    return answered_by.substr(0, colon) + std::string(target);
  }
  return std::string(target);
}

std::optional<slot_map> parse_cluster_slots(const redis_reply& reply, const std::string& asked) {
  if (reply.type != redis_reply::kind::array) return std::nullopt;
  std::map<std::string, std::int16_t> index;  // sorted by name
  std::vector<std::pair<std::string, std::pair<long long, long long>>> ranges;
  for (const redis_reply& range : reply.elements) {
    if (range.type != redis_reply::kind::array || range.elements.size() < 3) return std::nullopt;
    const redis_reply& master = range.elements[2];
    const long long first = range.elements[0].integer, last = range.elements[1].integer;
    if (range.elements[0].type != redis_reply::kind::integer || range.elements[1].type != redis_reply::kind::integer ||
        first < 0 || last < first || last >= redis_cluster_slots || master.type != redis_reply::kind::array ||
        master.elements.size() < 2 || master.elements[1].type != redis_reply::kind::integer ||
        master.elements[1].integer <= 0 || master.elements[1].integer > 65535)
      return std::nullopt;
    std::string host = master.elements[0].text;
    if (host.empty() || host == "?") host = asked.substr(0, asked.rfind(':'));
    ranges.push_back({node_name(host, static_cast<std::uint16_t>(master.elements[1].integer)), {first, last}});
    index.emplace(ranges.back().first, 0);
  }
  slot_map map;
  for (auto& [name, i] : index) {
    i = static_cast<std::int16_t>(map.masters.size());
    map.masters.push_back(name);
  }
  for (const auto& [name, range] : ranges)
    for (long long slot = range.first; slot <= range.second; ++slot) {
      if (map.owner[std::size_t(slot)] < 0) --map.uncovered;
      map.owner[std::size_t(slot)] = index[name];
    }
  return map;
}

}  // namespace sessionkit::detail
