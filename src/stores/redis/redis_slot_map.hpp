#pragma once
// Redis Cluster's slot map (which master serves each hash slot) as CLUSTER SLOTS gives it, and
// the replies that send a command elsewhere (MOVED, ASK, TRYAGAIN).

#include "redis_connection.hpp"
#include "redis_hash_slot.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessionkit::detail {

struct slot_map {
  std::vector<std::string> masters;                      ///< "host:port", sorted
  std::vector<std::shared_ptr<redis_connection>> links;  ///< the connection of each master (the client's)
  std::array<std::int16_t, redis_cluster_slots> owner;   ///< index into masters; -1: none
  std::size_t uncovered = redis_cluster_slots;           ///< slots without a master

  slot_map() { owner.fill(-1); }
};

/// "host:port".
std::string node_name(std::string_view host, std::uint16_t port);

/// The map in a CLUSTER SLOTS reply ([[first, last, [host, port, id...], replicas...], ...]) asked
/// of node `asked` ("host:port"): an empty or "?" host is that node's. None when the reply is
/// not such a map.
std::optional<slot_map> parse_cluster_slots(const redis_reply& reply, const std::string& asked);

/// The node ("host:port") a MOVED or ASK error names ("MOVED 3999 127.0.0.1:6381"); a target
/// without a host (":6381") is on the host of `answered_by`. Empty when there is none.
std::string redirect_target(std::string_view error, const std::string& answered_by);

/// An error reply that starts with `prefix`.
inline bool is_error_starting(const redis_reply& r, std::string_view prefix) {
  return r.type == redis_reply::kind::error && r.text.compare(0, prefix.size(), prefix) == 0;
}

/// MOVED, ASK or TRYAGAIN: the command is to go elsewhere or again.
inline bool needs_redirect(const redis_reply& r) {
  return is_error_starting(r, "MOVED ") || is_error_starting(r, "ASK ") || is_error_starting(r, "TRYAGAIN");
}

}  // namespace sessionkit::detail
