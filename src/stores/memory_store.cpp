#include <sessionkit/stores/memory_store.hpp>

#include <sessionkit/json.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sessionkit {
namespace {

constexpr std::size_t shard_count = 64;  // a power of two

struct entry {
  std::string json;
  timestamp expires;
};

// Heterogeneous lookup: find by string_view without building a std::string key.
struct id_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

struct shard {
  mutable std::mutex mutex;
  std::unordered_map<std::string, entry, id_hash, std::equal_to<>> sessions;
};

}  // namespace

struct memory_store::state {
  boost::asio::any_io_executor executor;
  memory_store_options options;
  std::array<shard, shard_count> shards;
  boost::asio::steady_timer timer;
  std::mutex timer_mutex;
  bool stopped = false;

  state(boost::asio::any_io_executor ex, memory_store_options opts)
      : executor(ex), options(opts), timer(ex) {}

  shard& shard_for(std::string_view id) { return shards[id_hash{}(id) & (shard_count - 1)]; }

  timestamp expiry_of(const session_record& record, timestamp at) const {
    return record.expires ? *record.expires
                          : at + std::chrono::duration_cast<std::chrono::milliseconds>(
                                     options.ttl_without_expiry);
  }

  template <class F>
  void post(F&& f) {
    boost::asio::post(executor, std::forward<F>(f));
  }

  static void schedule(const std::shared_ptr<state>& self) {
    std::lock_guard lock(self->timer_mutex);
    if (self->stopped) return;
    self->timer.expires_after(self->options.prune_interval);
    self->timer.async_wait([weak = std::weak_ptr<state>(self)](boost::system::error_code ec) {
      if (ec) return;
      if (auto s = weak.lock()) {
        s->prune();
        schedule(s);
      }
    });
  }

  std::size_t prune() {
    const timestamp at = now();
    std::size_t removed = 0;
    for (auto& sh : shards) {
      std::lock_guard lock(sh.mutex);
      removed += std::erase_if(sh.sessions, [&](const auto& kv) { return kv.second.expires <= at; });
    }
    return removed;
  }
};

memory_store::memory_store(boost::asio::any_io_executor executor, memory_store_options opts)
    : state_(std::make_shared<state>(std::move(executor), opts)) {
  state::schedule(state_);
}

memory_store::~memory_store() { stop(); }

void memory_store::stop() {
  std::lock_guard lock(state_->timer_mutex);
  state_->stopped = true;
  state_->timer.cancel();
}

void memory_store::defer(detail::unique_function<void()> fn) {
  state_->post([f = std::move(fn)]() mutable { f(); });
}

void memory_store::get(std::string_view id, get_handler handler) {
  std::optional<std::string> found;
  {
    shard& sh = state_->shard_for(id);
    std::lock_guard lock(sh.mutex);
    if (auto it = sh.sessions.find(id); it != sh.sessions.end()) {
      if (it->second.expires <= now()) sh.sessions.erase(it);  // expired: never returned
      else found = it->second.json;
    }
  }
  state_->post([h = std::move(handler), found = std::move(found)]() mutable { h({}, std::move(found)); });
}

void memory_store::set(std::string_view id, session_record record, completion_handler handler) {
  const timestamp at = now();
  const timestamp expires = state_->expiry_of(record, at);
  {
    shard& sh = state_->shard_for(id);
    std::lock_guard lock(sh.mutex);
    auto it = sh.sessions.find(id);
    if (expires <= at) {
      // Already expired (connect-redis deletes instead of writing): nothing live to keep.
      if (it != sh.sessions.end()) sh.sessions.erase(it);
    } else if (it != sh.sessions.end()) {
      it->second = {std::move(record.json), expires};
    } else {
      sh.sessions.emplace(std::string(id), entry{std::move(record.json), expires});
    }
  }
  state_->post([h = std::move(handler)]() mutable { h({}); });
}

void memory_store::destroy(std::string_view id, completion_handler handler) {
  {
    shard& sh = state_->shard_for(id);
    std::lock_guard lock(sh.mutex);
    if (auto it = sh.sessions.find(id); it != sh.sessions.end()) sh.sessions.erase(it);
  }
  state_->post([h = std::move(handler)]() mutable { h({}); });
}

void memory_store::touch(std::string_view id, session_record record, completion_handler handler) {
  const timestamp at = now();
  {
    shard& sh = state_->shard_for(id);
    std::lock_guard lock(sh.mutex);
    // Like express's MemoryStore: only a live session is touched; its data is kept and only
    // the cookie (expiry) is refreshed, so a concurrent write is not undone.
    if (auto it = sh.sessions.find(id); it != sh.sessions.end() && it->second.expires > at) {
      if (auto cookie = leading_cookie_json(record.json)) {
        if (auto spliced = splice_record_cookie(it->second.json, *cookie))
          it->second.json = std::move(*spliced);
      }
      it->second.expires = state_->expiry_of(record, at);
      if (it->second.expires <= at) sh.sessions.erase(it);
    }
  }
  state_->post([h = std::move(handler)]() mutable { h({}); });
}

void memory_store::all(all_handler handler) {
  std::vector<std::pair<std::string, std::string>> out;
  const timestamp at = now();
  for (auto& sh : state_->shards) {
    std::lock_guard lock(sh.mutex);
    for (const auto& [id, e] : sh.sessions)
      if (e.expires > at) out.emplace_back(id, e.json);
  }
  state_->post([h = std::move(handler), out = std::move(out)]() mutable { h({}, std::move(out)); });
}

void memory_store::ids(ids_handler handler) {
  std::vector<std::string> out;
  const timestamp at = now();
  for (auto& sh : state_->shards) {
    std::lock_guard lock(sh.mutex);
    for (const auto& [id, e] : sh.sessions)
      if (e.expires > at) out.push_back(id);
  }
  state_->post([h = std::move(handler), out = std::move(out)]() mutable { h({}, std::move(out)); });
}

void memory_store::length(length_handler handler) {
  std::size_t n = 0;
  const timestamp at = now();
  for (auto& sh : state_->shards) {
    std::lock_guard lock(sh.mutex);
    for (const auto& kv : sh.sessions)
      if (kv.second.expires > at) ++n;
  }
  state_->post([h = std::move(handler), n]() mutable { h({}, n); });
}

void memory_store::clear(completion_handler handler) {
  for (auto& sh : state_->shards) {
    std::lock_guard lock(sh.mutex);
    sh.sessions.clear();
  }
  state_->post([h = std::move(handler)]() mutable { h({}); });
}

std::size_t memory_store::prune() { return state_->prune(); }

std::size_t memory_store::stored_count() const {
  std::size_t n = 0;
  for (auto& sh : state_->shards) {
    std::lock_guard lock(sh.mutex);
    n += sh.sessions.size();
  }
  return n;
}

}  // namespace sessionkit
