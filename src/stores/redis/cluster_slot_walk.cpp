#include "cluster_slot_walk.hpp"

#include "redis_hash_slot.hpp"

#include <sessionkit/error.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <map>
#include <set>
#include <sstream>

namespace sessionkit::detail {

bool cluster_nodes_view::owns(unsigned slot) const {
  return std::any_of(own.begin(), own.end(), [&](const auto& r) { return r.first <= slot && slot <= r.second; });
}

std::optional<std::string> cluster_nodes_view::migrating_to(unsigned slot) const {
  for (const auto& [s, id] : migrating) {
    if (s != slot) continue;
    for (const auto& [node, where] : address)
      if (node == id) return where;
  }
  return std::nullopt;
}

std::optional<std::string> cluster_nodes_view::server_of(unsigned slot) const {
  for (const auto& r : served)
    if (r.first <= slot && slot <= r.last) return r.node;
  return std::nullopt;
}

namespace {

std::optional<unsigned> number(std::string_view text) {
  unsigned n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return n;
}

}  // namespace

// <id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
// where a slot is "N", "A-B", "[N->-id]" (migrating to id) or "[N-<-id]" (importing).
cluster_nodes_view parse_cluster_nodes(const std::string& text, const std::string& answered_by) {
  cluster_nodes_view view;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string id, address, flags, skip;
    if (!(words >> id >> address >> flags >> skip >> skip >> skip >> skip >> skip)) continue;
    std::string where = address.substr(0, address.find('@'));
    if (!where.empty() && where.front() == ':') where = answered_by.substr(0, answered_by.rfind(':')) + where;
    view.address.emplace_back(id, where);
    const bool myself = flags.find("myself") != std::string::npos;
    std::string slot;
    while (words >> slot) {
      if (slot.size() > 2 && slot.front() == '[') {
        const std::size_t arrow = slot.find("->-");
        if (!myself || arrow == std::string::npos) continue;  // importing: not ours yet
        if (const auto n = number(std::string_view(slot).substr(1, arrow - 1)))
          view.migrating.emplace_back(*n, slot.substr(arrow + 3, slot.size() - arrow - 4));
        continue;
      }
      const std::size_t dash = slot.find('-');
      const auto first = number(std::string_view(slot).substr(0, dash));
      const auto last = dash == std::string::npos ? first : number(std::string_view(slot).substr(dash + 1));
      if (!first || !last) continue;
      view.served.push_back({*first, *last, where});
      if (myself) view.own.emplace_back(*first, *last);
    }
  }
  return view;
}

namespace {

constexpr unsigned chunk_slots = 2048;  // slots asked for per round trip
constexpr int max_attempts = 8;        // map refreshes for one chunk before giving up

struct walk_state {
  std::shared_ptr<redis_client> client;
  std::string prefix;
  unsigned slot = 0;
  std::size_t want = 0;
  int attempts = 0;
  std::vector<std::string> keys;
  unique_function<void(std::error_code, slot_walk_step)> done;
};

// Replies from several nodes (on their own strands), gathered; the last one continues.
struct gathered {
  struct answer {
    std::string node;
    std::vector<unsigned> slots;
    std::error_code error;
    redis_reply reply;
  };
  std::vector<answer> answers;
  std::atomic<std::size_t> left{0};
};

using gathered_handler = std::function<void(std::shared_ptr<gathered>)>;

// Sends to each node its commands (`prefix_commands` then GETKEYSINSLOT per slot).
void ask_nodes(const std::shared_ptr<redis_client>& client, const std::map<std::string, std::vector<unsigned>>& slots_of,
               const std::string& prefix_commands, std::size_t prefix_replies, gathered_handler then) {
  auto g = std::make_shared<gathered>();
  for (const auto& [node, slots] : slots_of) g->answers.push_back({node, slots, {}, {}});
  g->left = g->answers.size();
  for (std::size_t i = 0; i < g->answers.size(); ++i) {
    std::string wire = prefix_commands;
    for (const unsigned s : g->answers[i].slots)
      wire += resp_command({"CLUSTER", "GETKEYSINSLOT", std::to_string(s), "1000000000"});
    client->execute_on(g->answers[i].node, std::move(wire), prefix_replies + g->answers[i].slots.size(),
                       [g, i, then](std::error_code ec, redis_reply r) {
                         g->answers[i].error = ec;
                         g->answers[i].reply = std::move(r);
                         if (g->left.fetch_sub(1, std::memory_order_acq_rel) == 1) then(g);
                       });
  }
}

// The keys starting with `prefix` in a GETKEYSINSLOT reply.
void take_keys(const redis_reply& r, const std::string& prefix, std::set<std::string>& into) {
  for (const auto& k : r.elements)
    if (k.text.compare(0, prefix.size(), prefix) == 0) into.insert(k.text);
}

// The element `i` of a pipeline's replies (one reply comes as it is, several as an array).
const redis_reply& element(const redis_reply& r, std::size_t count, std::size_t i) {
  return count == 1 ? r : r.elements.at(i);
}

void read_chunk(std::shared_ptr<walk_state> w);

void retry_chunk(const std::shared_ptr<walk_state>& w) {
  if (++w->attempts > max_attempts) return w->done(error::store_unavailable, {});
  w->client->refresh_soon();
  w->client->post_after(std::chrono::milliseconds(100), [w] { read_chunk(w); });
}

void finish_chunk(const std::shared_ptr<walk_state>& w, const std::set<std::string>& found, unsigned end) {
  w->keys.insert(w->keys.end(), found.begin(), found.end());
  w->slot = end;
  w->attempts = 0;
  if (w->keys.size() < w->want && end < redis_cluster_slots) return read_chunk(w);
  slot_walk_step step{std::move(w->keys), {}};
  if (end < redis_cluster_slots) step.next = end;
  w->done({}, std::move(step));
}

// The keys of `slots_of` (node -> slots) as those nodes answer them, each read in a pipeline
// behind CLUSTER NODES. A slot the node serves: its keys, and when it is migrating, the target
// is asked afterwards (`moved_to`); a slot it does not serve (the map is behind: a migration
// ended, a failover): the node it names is asked in the next round (`elsewhere`).
struct round_result {
  std::set<std::string> keys;
  std::map<std::string, std::vector<unsigned>> moved_to, elsewhere;
  std::error_code error;
};

round_result read_answers(const gathered& g, const std::string& prefix) {
  round_result out;
  for (const auto& a : g.answers) {
    if (a.error) {
      out.error = a.error;
      return out;
    }
    const std::size_t count = 1 + a.slots.size();
    if (a.reply.type != redis_reply::kind::array || a.reply.elements.size() != count ||
        a.reply.elements[0].type == redis_reply::kind::error) {
      out.error = error::store_unavailable;
      return out;
    }
    const cluster_nodes_view view = parse_cluster_nodes(a.reply.elements[0].text, a.node);
    for (std::size_t i = 0; i < a.slots.size(); ++i) {
      const unsigned s = a.slots[i];
      if (!view.owns(s)) {
        const auto server = view.server_of(s);
        if (!server || *server == a.node) {
          out.error = error::store_unavailable;  // nobody serves it
          return out;
        }
        out.elsewhere[*server].push_back(s);
        continue;
      }
      take_keys(a.reply.elements[1 + i], prefix, out.keys);
      if (auto target = view.migrating_to(s)) out.moved_to[*target].push_back(s);
    }
  }
  return out;
}

// The keys of the target side of migrating slots (no ownership to check: it is importing them).
void take_target_keys(const gathered& g, const std::string& prefix, round_result& into) {
  for (const auto& a : g.answers) {
    const std::size_t count = a.slots.size();
    if (a.error || (count > 1 && (a.reply.type != redis_reply::kind::array || a.reply.elements.size() != count))) {
      into.error = a.error ? a.error : std::error_code(error::store_failure);
      return;
    }
    for (std::size_t i = 0; i < count; ++i) take_keys(element(a.reply, count, i), prefix, into.keys);
  }
}

// Round `round` of a chunk: the masters (by the map, then as they say) and migration targets.
void read_round(const std::shared_ptr<walk_state>& w, std::map<std::string, std::vector<unsigned>> slots_of,
                std::shared_ptr<std::set<std::string>> found, unsigned end, int round) {
  ask_nodes(w->client, slots_of, resp_command({"CLUSTER", "NODES"}), 1, [w, found, end, round](std::shared_ptr<gathered> g) {
    auto result = std::make_shared<round_result>(read_answers(*g, w->prefix));
    if (result->error) return w->done(result->error, {});
    found->insert(result->keys.begin(), result->keys.end());
    auto next = [w, found, end, round, result] {
      if (result->elsewhere.empty()) return finish_chunk(w, *found, end);
      // The map was behind; the slots that moved are read where their master says they are.
      w->client->refresh_soon();
      if (round >= max_attempts) return w->done(error::store_unavailable, {});
      read_round(w, std::move(result->elsewhere), found, end, round + 1);
    };
    if (result->moved_to.empty()) return next();
    // Slots being migrated: what has moved already is on the target (read after the source).
    ask_nodes(w->client, result->moved_to, std::string(), 0, [w, found, result, next](std::shared_ptr<gathered> g) {
      round_result targets;
      take_target_keys(*g, w->prefix, targets);
      if (targets.error) return w->done(targets.error, {});
      found->insert(targets.keys.begin(), targets.keys.end());
      next();
    });
  });
}

void read_chunk(std::shared_ptr<walk_state> w) {
  if (w->slot >= redis_cluster_slots) return w->done({}, {std::move(w->keys), std::nullopt});
  const unsigned end = std::min(w->slot + chunk_slots, redis_cluster_slots);
  std::map<std::string, std::vector<unsigned>> by_master;
  for (unsigned s = w->slot; s < end; ++s) {
    std::string master = w->client->holder_of(s);
    if (master.empty()) return retry_chunk(w);  // a slot without a master: maybe after a refresh
    by_master[std::move(master)].push_back(s);
  }
  read_round(w, std::move(by_master), std::make_shared<std::set<std::string>>(), end, 1);
}

}  // namespace

void walk_cluster_slots(std::shared_ptr<redis_client> client, std::string prefix, unsigned from, std::size_t want,
                        unique_function<void(std::error_code, slot_walk_step)> done) {
  auto w = std::make_shared<walk_state>();
  w->client = std::move(client);
  w->prefix = std::move(prefix);
  w->slot = from;
  w->want = std::max<std::size_t>(want, 1);
  w->done = std::move(done);
  read_chunk(std::move(w));
}

}  // namespace sessionkit::detail
