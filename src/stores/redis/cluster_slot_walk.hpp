#pragma once
// A walk over a Redis Cluster's keys in slot order, a page at a time, that holds nothing but the
// next slot and is exact while slots migrate: each slot's keys are read from its master in one
// pipeline with CLUSTER NODES (Redis runs a client's pipelined commands back to back, so no
// MIGRATE comes in between); when that says the slot is MIGRATING, the keys already moved are
// read from the target afterwards (a key moves only from the source to the target), and when
// the master no longer owns the slot, the map is refreshed and the slot read again.

#include "redis_client.hpp"

#include <optional>
#include <string>
#include <vector>

namespace sessionkit::detail {

struct slot_walk_step {
  std::vector<std::string> keys;  ///< keys starting with the prefix, of whole slots
  std::optional<unsigned> next;   ///< the slot to go on from; none: the walk is done
};

/// From slot `from`, the keys starting with `prefix` of whole slots, until at least `want` keys
/// or the last slot. Fails (store_unavailable) when a slot has no master or its owner cannot be
/// settled after a few map refreshes.
void walk_cluster_slots(std::shared_ptr<redis_client> client, std::string prefix, unsigned from, std::size_t want,
                        unique_function<void(std::error_code, slot_walk_step)> done);

/// What CLUSTER NODES says of the node that answered ("myself"): the slots it serves, the
/// slots it is migrating away (slot -> target node id), and every node's address by id.
struct cluster_nodes_view {
  struct range {
    unsigned first, last;  ///< inclusive
    std::string node;      ///< "host:port" of the node that serves it
  };
  std::vector<std::pair<unsigned, unsigned>> own;             ///< the answering node's, inclusive
  std::vector<range> served;                                  ///< every node's, as it sees them
  std::vector<std::pair<unsigned, std::string>> migrating;    ///< slot, target id
  std::vector<std::pair<std::string, std::string>> address;   ///< id, "host:port"
  bool owns(unsigned slot) const;
  std::optional<std::string> migrating_to(unsigned slot) const;  ///< "host:port" of the target
  std::optional<std::string> server_of(unsigned slot) const;     ///< "host:port" of its master
};
cluster_nodes_view parse_cluster_nodes(const std::string& text, const std::string& answered_by);

}  // namespace sessionkit::detail
