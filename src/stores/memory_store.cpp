#include <sessionkit/stores/memory_store.hpp>

#include <sessionkit/json.hpp>
#include <sessionkit/record.hpp>

#include "../core/detail/base64.hpp"
#include "short_text.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace sessionkit {
namespace {

constexpr std::size_t shard_count = 64;  // a power of two

// --- compact records ---------------------------------------------------------------------------
// A small session's record is mostly its cookie object, and every session of an application has
// the same cookie object but for `expires`. So a record is kept as the number of a shared cookie
// template, the cookie's expiry as an offset from the store's (which it keeps anyway), and the
// rest of the record, which for a small session fits inside a 16-byte short_text: an entry is 32
// bytes, its key 24.

struct cookie_template {
  std::string text;        // the cookie object with the expiry's ISO text cut out
  std::size_t insert_at;   // where the ISO text goes back, or npos when expires is null
};

// Templates are interned for the life of the store; an application has a handful. Entries name
// them by number (1..max_templates; 0: none).
class template_table {
 public:
  static constexpr std::size_t max_templates = 64;

  // The template this thread used last in this table, or 0.
  std::uint16_t last_used_here() const {
    const last_used& last = last_for_thread();
    return last.table == id_ ? last.index : 0;
  }

  // Template `index` (not 0). Lock-free: a template is written before its number is handed out,
  // and an entry holding the number is read under its shard's lock, taken after the write.
  const cookie_template& at(std::uint16_t index) const { return *templates_[index - 1]; }

  // The number of the template whose text is `head + tail` (the expiry goes between them, at
  // `insert_at`), found without building that text unless it is new; 0 when the table is full.
  std::uint16_t intern(std::string_view head, std::string_view tail, std::size_t insert_at) {
    // Each thread remembers the template it used last, so the usual case takes no lock. Tables
    // have ids never reused, and a table's templates never change or go while it lives.
    last_used& last = last_for_thread();
    if (last.table == id_ && matches(at(last.index), head, tail, insert_at)) return last.index;
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < count_; ++i) {
      if (matches(*templates_[i], head, tail, insert_at)) {
        last = {id_, static_cast<std::uint16_t>(i + 1)};
        return last.index;
      }
    }
    if (count_ >= max_templates) return 0;  // keep records verbatim instead
    std::string text;
    text.reserve(head.size() + tail.size());
    text.append(head).append(tail);
    templates_[count_] = std::make_unique<cookie_template>(cookie_template{std::move(text), insert_at});
    ++count_;
    last = {id_, static_cast<std::uint16_t>(count_)};
    return last.index;
  }

 private:
  struct last_used {
    std::uint64_t table = 0;
    std::uint16_t index = 0;
  };
  static last_used& last_for_thread() {
    thread_local last_used last;
    return last;
  }

  static bool matches(const cookie_template& t, std::string_view head, std::string_view tail,
                      std::size_t insert_at) {
    const std::string_view text = t.text;
    return t.insert_at == insert_at && text.size() == head.size() + tail.size() &&
           text.substr(0, head.size()) == head && text.substr(head.size()) == tail;
  }

  static inline std::atomic<std::uint64_t> next_id_{1};
  const std::uint64_t id_ = next_id_++;
  std::mutex mutex_;
  std::array<std::unique_ptr<cookie_template>, max_templates> templates_;  // never moved
  std::size_t count_ = 0;
};

struct entry {
  timestamp expires;                // when the store forgets the session
  std::int32_t cookie_offset = 0;   // the cookie's own `expires` minus `expires`, in ms
  std::uint16_t cookie = 0;         // the cookie's template (0: `rest` is the whole record)
  detail::short_text rest;          // the record after the cookie object

  timestamp cookie_expires() const { return expires + std::chrono::milliseconds(cookie_offset); }

  // Sets both expiries; false (and nothing changed) when the cookie's is too far from the
  // store's for the offset (24 days): then the record is kept verbatim.
  bool set_expiries(timestamp store_expires, std::optional<timestamp> cookie_expires) {
    std::int64_t offset = 0;
    if (cookie_expires) {
      offset = (*cookie_expires - store_expires).count();
      if (offset < INT32_MIN || offset > INT32_MAX) return false;
    }
    expires = store_expires;
    cookie_offset = static_cast<std::int32_t>(offset);
    return true;
  }
};
static_assert(sizeof(entry) == 32, "an entry is a slot of the session table: keep it small");

// The number of the shared template of a record's cookie object (its text with the expiry cut
// out), or 0 when the cookie has another shape.
std::uint16_t template_of(template_table& table, std::string_view cookie,
                          std::optional<timestamp> cookie_expires) {
  if (cookie_expires) {
    // `"expires":"<ISO>"`, on the stack.
    constexpr std::string_view key = "\"expires\":\"";
    char text[key.size() + max_iso_date_size + 1];
    std::memcpy(text, key.data(), key.size());
    std::size_t size = key.size() + write_iso_date(text + key.size(), *cookie_expires);
    text[size++] = '"';
    const std::string_view expected(text, size);
    const std::size_t at = cookie.find(expected);
    if (at == std::string_view::npos) return 0;
    const std::size_t insert_at = at + key.size();  // just after `"expires":"`
    return table.intern(cookie.substr(0, insert_at), cookie.substr(at + expected.size() - 1), insert_at);
  }
  if (cookie.find("\"expires\":null") == std::string_view::npos) return 0;
  return table.intern(cookie, {}, std::string::npos);
}

// The length of `json`'s leading `{"cookie":{...}` when it is template `t` with `cookie_expires`
// put in (compared, not parsed), else 0.
std::size_t matches_template(std::string_view json, const cookie_template& t,
                             std::optional<timestamp> cookie_expires) {
  const std::string_view head = record::prefix();
  constexpr std::size_t iso_size = 24;
  if (json.substr(0, head.size()) != head) return 0;
  const std::string_view body = json.substr(head.size());
  const std::string_view text = t.text;
  if (t.insert_at == std::string::npos) {  // a template with `"expires":null`
    return !cookie_expires && body.substr(0, text.size()) == text ? head.size() + text.size() : 0;
  }
  if (!cookie_expires) return 0;
  if (body.size() < text.size() + iso_size || body.substr(0, t.insert_at) != text.substr(0, t.insert_at) ||
      body.substr(t.insert_at + iso_size, text.size() - t.insert_at) != text.substr(t.insert_at))
    return 0;
  char iso[max_iso_date_size];
  if (body.substr(t.insert_at, iso_size) != std::string_view(iso, write_iso_date(iso, *cookie_expires))) return 0;
  return head.size() + text.size() + iso_size;
}

// Splits a record into a shared cookie template and the rest, when it has the usual shape.
entry compact(template_table& table, std::string&& json, std::optional<timestamp> cookie_expires,
              timestamp expires) {
  entry e;
  e.expires = expires;
  if (e.set_expiries(expires, cookie_expires)) {
    // Usually the record's cookie is the template this thread used last: compared, not scanned.
    if (const std::uint16_t last = table.last_used_here()) {
      if (const std::size_t end = matches_template(json, table.at(last), cookie_expires)) {
        e.cookie = last;
        e.rest.assign(std::string_view(json).substr(end));
        record::give_back(std::move(json));  // the next record is written into its buffer
        return e;
      }
    }
    if (const auto cookie = record::leading_cookie(json)) {
      if (const std::uint16_t t = template_of(table, *cookie, cookie_expires)) {
        e.cookie = t;
        e.rest.assign(std::string_view(json).substr(std::size_t(cookie->data() + cookie->size() - json.data())));
        record::give_back(std::move(json));
        return e;
      }
    }
  }
  e.cookie_offset = 0;
  e.rest.assign(json);
  record::give_back(std::move(json));
  return e;
}

// The record as it was written, into `out` (its capacity reused).
void expand_into(std::string& out, const template_table& table, const entry& e) {
  out.clear();
  if (!e.cookie) {
    out.append(e.rest.view());
    return;
  }
  const cookie_template& t = table.at(e.cookie);
  const std::string_view rest = e.rest.view();
  out.reserve(record::prefix().size() + t.text.size() + 24 + rest.size());
  out += record::prefix();
  if (t.insert_at == std::string::npos) {
    out += t.text;
  } else {
    char iso[max_iso_date_size];
    out.append(t.text, 0, t.insert_at)
        .append(iso, write_iso_date(iso, e.cookie_expires()))
        .append(t.text, t.insert_at);
  }
  out += rest;
}

std::string expand(const template_table& table, const entry& e) {
  std::string out;
  expand_into(out, table, e);
  return out;
}

// What a session costs against the store's limits: its record's length (the cookie template is
// shared, but counted in every record, as the record a client gets back is that long).
std::size_t record_size(const template_table& table, const entry& e) {
  std::size_t n = e.rest.size();
  if (!e.cookie) return n;
  const cookie_template& t = table.at(e.cookie);
  n += record::prefix().size() + t.text.size();
  if (t.insert_at != std::string::npos) {
    // The ISO date: 24 characters for years 0000..9999, 27 with an expanded year.
    constexpr long long year_0 = -62'167'219'200'000, year_10000 = 253'402'300'800'000;
    const long long ms = e.cookie_expires().time_since_epoch().count();
    n += ms >= year_0 && ms < year_10000 ? 24 : 27;
  }
  return n;
}

// A session with nothing but its cookie (express-session's uninitialized session, what every
// cookieless request makes with saveUninitialized): the first to go when the store is full.
bool holds_no_data(const entry& e) { return e.cookie && e.rest.view() == "}"; }

// --- keys ---------------------------------------------------------------------------------------
// Default ids (32 base64url characters) are kept as their 24 bytes, in the map node itself.

using raw_id = std::array<unsigned char, 24>;

std::optional<raw_id> to_raw(std::string_view id) {
  // A request reads its session, then writes it: the second conversion is the first's again.
  // (Store keys, not secrets: only the result's speed depends on the match.)
  struct converted {
    std::array<char, 32> text{};
    raw_id raw{};
    bool valid = false;
  };
  thread_local converted last;
  if (id.size() == last.text.size() && last.valid && std::memcmp(id.data(), last.text.data(), id.size()) == 0)
    return last.raw;
  raw_id raw;
  if (!detail::decode_base64url(id, raw)) return std::nullopt;
  std::memcpy(last.text.data(), id.data(), last.text.size());
  last.raw = raw;
  last.valid = true;
  return raw;
}

std::string from_raw(const raw_id& raw);
inline const std::string& key_text(const std::string& key) { return key; }
inline std::string key_text(const raw_id& key) { return from_raw(key); }

std::string from_raw(const raw_id& raw) {
  std::string out;
  out.reserve(32);
  detail::append_base64(out, raw.data(), raw.size(), detail::base64_alphabet::url);
  return out;
}

struct raw_hash {
  std::size_t operator()(const raw_id& r) const noexcept {
    std::size_t h;
    std::memcpy(&h, r.data(), sizeof h);  // the bytes are random already
    return h;
  }
};

// Heterogeneous lookup: find by string_view without building a std::string key.
struct id_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// A session's lock (concurrency lock): its owner's token and when its lease ends.
struct lock_entry {
  std::string owner;
  std::chrono::steady_clock::time_point until;
};

struct shard {
  mutable std::mutex mutex;
  // Locks held now (one per session some request holds; gone when released or run out).
  std::unordered_map<std::string, lock_entry, id_hash, std::equal_to<>> locks;
  // Open addressing: a session is one slot of the table, not a node of its own (no allocation
  // per new session, fewer cache misses with millions of them).
  boost::unordered_flat_map<raw_id, entry, raw_hash> compact_ids;
  std::unordered_map<std::string, entry, id_hash, std::equal_to<>> other_ids;
  std::size_t without_data = 0;  // entries that hold no data (see holds_no_data)
  // No entry expires before this (a lower bound, exact after a sweep): a full store skips shards
  // with nothing to remove instead of sweeping them on every refused request.
  timestamp earliest_expiry = timestamp::max();
  // The user of each session that has one (session_record::user): the shard's half of the user
  // index, so a session's removal finds its user without a field in every entry.
  std::unordered_map<std::string, std::string, id_hash, std::equal_to<>> user_of;

  template <class F>
  void for_each(F&& f) const {
    for (const auto& [k, e] : compact_ids) f(from_raw(k), e);
    for (const auto& [k, e] : other_ids) f(k, e);
  }

  std::size_t size() const { return compact_ids.size() + other_ids.size(); }
};

}  // namespace

struct memory_store::state {
  boost::asio::any_io_executor executor;
  memory_store_options options;
  std::array<shard, shard_count> shards;
  template_table templates;
  boost::asio::steady_timer timer;
  std::mutex timer_mutex;
  bool stopped = false;
  std::size_t next_shard = 0;  // the shard the next pruning tick sweeps

  state(boost::asio::any_io_executor ex, memory_store_options opts)
      : executor(ex), options(opts), timer(ex) {}

  // Calls f(shard, map, iterator, make_key) for the entry of `id` (end when absent) with its
  // shard locked. A default id's bytes are random already: its shard comes from them, not a hash.
  template <class F>
  void with_entry(std::string_view id, F&& f) {
    if (auto raw = to_raw(id)) {
      shard& sh = shards[(*raw)[0] & (shard_count - 1)];
      std::lock_guard lock(sh.mutex);
      f(sh, sh.compact_ids, sh.compact_ids.find(*raw), [&] { return *raw; });
      return;
    }
    shard& sh = shards[id_hash{}(id) & (shard_count - 1)];
    std::lock_guard lock(sh.mutex);
    f(sh, sh.other_ids, sh.other_ids.find(id), [&] { return std::string(id); });
  }

  // --- the user index: user -> ids (each shard knows id -> user); lock order: shard, then this -----
  std::mutex users_mutex;
  std::unordered_map<std::string, std::unordered_set<std::string>, id_hash, std::equal_to<>> ids_of_user;

  // Session `id` of shard `sh` (locked) is now `user`'s (empty: nobody's).
  void note_user(shard& sh, std::string_view id, std::string_view user) {
    if (user.empty() && sh.user_of.empty()) return;  // the usual case: no logged-in sessions
    auto it = sh.user_of.find(id);
    if (it != sh.user_of.end() && it->second == user) return;
    std::lock_guard lock(users_mutex);
    if (it != sh.user_of.end()) {
      unindex(it->second, id);
      if (user.empty()) {
        sh.user_of.erase(it);
        return;
      }
      it->second = user;
    } else {
      sh.user_of.emplace(std::string(id), std::string(user));
    }
    auto found = ids_of_user.find(user);
    if (found == ids_of_user.end()) found = ids_of_user.emplace(std::string(user), std::unordered_set<std::string>{}).first;
    found->second.emplace(id);
  }
  // Session `id` of shard `sh` (locked) is gone.
  void forget_user(shard& sh, std::string_view id) {
    auto it = sh.user_of.find(id);
    if (it == sh.user_of.end()) return;
    std::lock_guard lock(users_mutex);
    unindex(it->second, id);
    sh.user_of.erase(it);
  }
  void unindex(std::string_view user, std::string_view id) {  // users_mutex held
    auto found = ids_of_user.find(user);
    if (found == ids_of_user.end()) return;
    found->second.erase(std::string(id));
    if (found->second.empty()) ids_of_user.erase(found);
  }
  template <class Key>
  void forget_user_of_key(shard& sh, const Key& key) {
    if (!sh.user_of.empty()) forget_user(sh, key_text(key));
  }

  // --- the limits: every change of a map goes through these (with the shard locked) ----------
  std::atomic<std::size_t> session_count{0};
  std::atomic<std::size_t> byte_count{0};
  std::atomic<std::size_t> evict_cursor{0};

  void added(shard& sh, const entry& e) {
    ++session_count;
    byte_count += record_size(templates, e);
    sh.without_data += holds_no_data(e);
    sh.earliest_expiry = std::min(sh.earliest_expiry, e.expires);
  }
  void removed(shard& sh, const entry& e) {
    --session_count;
    byte_count -= record_size(templates, e);
    sh.without_data -= holds_no_data(e);
  }
  template <class Map>
  void erase(shard& sh, Map& map, typename Map::iterator it) {
    removed(sh, it->second);
    forget_user_of_key(sh, it->first);
    map.erase(it);
  }
  bool over_limits(std::size_t more_sessions, std::size_t more_bytes) const {
    return (options.max_sessions != 0 && session_count + more_sessions > options.max_sessions) ||
           (options.max_bytes != 0 && byte_count + more_bytes > options.max_bytes);
  }

  // Makes room for a record of `size` bytes when the store is at its limits: removes expired
  // sessions, then sessions that hold no data, a shard at a time. Sessions with data are never
  // evicted: once only they are left, new sessions are refused (`error::store_full`).
  void make_room(std::size_t size) {
    if (!over_limits(1, size)) return;
    const timestamp at = now();
    for (std::size_t i = 0; i < shard_count && over_limits(1, size); ++i) {
      shard& sh = shards[evict_cursor++ % shard_count];
      std::lock_guard lock(sh.mutex);
      const bool empties = sh.without_data != 0;
      if (!empties && sh.earliest_expiry > at) continue;  // nothing here can go: no sweep
      timestamp earliest = timestamp::max();
      auto goes = [&](const auto& kv) {
        const entry& e = kv.second;
        if (e.expires > at && !(empties && holds_no_data(e))) {
          earliest = std::min(earliest, e.expires);
          return false;
        }
        removed(sh, e);
        forget_user_of_key(sh, kv.first);
        return true;
      };
      boost::unordered::erase_if(sh.compact_ids, goes);
      std::erase_if(sh.other_ids, goes);
      sh.earliest_expiry = earliest;
    }
  }

  timestamp expiry_of(const session_record& record, timestamp at) const {
    return sessionkit::expiry_of(record, at, options.ttl_without_expiry);
  }

  // Writes `record` under `id` when `check(live entry or null)` gives no error; the check runs under
  // the shard's lock, with the write, so nothing can come between.
  template <class Check>
  std::error_code write_checked(std::string_view id, session_record&& record, Check&& check) {
    const timestamp at = now();
    const timestamp expires = expiry_of(record, at);
    const std::size_t size = record.json.size();
    const std::string& user = record.user;
    if (expires > at) make_room(size);  // outside the shard lock: it takes others
    // Compact outside the shard lock: it may take the template table's.
    std::optional<entry> fresh;
    if (expires > at) fresh = compact(templates, std::move(record.json), record.cookie_expires, expires);
    std::error_code result;
    with_entry(id, [&](shard& sh, auto& map, auto it, auto make_key) {
      const bool live = it != map.end() && it->second.expires > at;
      if ((result = check(live ? &it->second : nullptr))) return;
      if (!fresh) {
        // Already expired (connect-redis deletes instead of writing): nothing live to keep.
        if (it != map.end()) erase(sh, map, it);
      } else if (it != map.end()) {
        // An existing session may grow while the bytes allow it.
        const std::size_t old = record_size(templates, it->second);
        if (size > old && over_limits(0, size - old)) {
          result = error::store_full;
          return;
        }
        removed(sh, it->second);
        it->second = std::move(*fresh);
        added(sh, it->second);
        note_user(sh, id, user);
      } else {
        if (over_limits(1, size)) {  // only sessions with data left: no new ones
          result = error::store_full;
          return;
        }
        added(sh, map.emplace(make_key(), std::move(*fresh)).first->second);
        note_user(sh, id, user);
      }
    });
    return result;
  }

  template <class F>
  void post(F&& f) {
    boost::asio::post(executor, std::forward<F>(f));
  }

  // Prunes one shard per tick, round robin, so a full sweep takes `prune_interval` and no tick
  // holds up the thread it runs on for long, however many sessions there are.
  static void schedule(const std::shared_ptr<state>& self) {
    std::lock_guard lock(self->timer_mutex);
    if (self->stopped) return;
    self->timer.expires_after(std::max<std::chrono::milliseconds>(
        std::chrono::milliseconds(1), self->options.prune_interval / shard_count));
    self->timer.async_wait([weak = std::weak_ptr<state>(self)](boost::system::error_code ec) {
      if (ec) return;
      if (auto s = weak.lock()) {
        s->prune_shard(s->shards[s->next_shard++ % shard_count], now());
        schedule(s);
      }
    });
  }

  std::size_t prune_shard(shard& sh, timestamp at) {
    std::lock_guard lock(sh.mutex);
    const auto steady_now = std::chrono::steady_clock::now();
    std::erase_if(sh.locks, [&](const auto& kv) { return kv.second.until <= steady_now; });
    timestamp earliest = timestamp::max();
    auto expired = [&](const auto& kv) {
      if (kv.second.expires > at) {
        earliest = std::min(earliest, kv.second.expires);
        return false;
      }
      removed(sh, kv.second);
      forget_user_of_key(sh, kv.first);
      return true;
    };
    const std::size_t gone = boost::unordered::erase_if(sh.compact_ids, expired) + std::erase_if(sh.other_ids, expired);
    sh.earliest_expiry = earliest;
    return gone;
  }

  std::size_t prune() {
    const timestamp at = now();
    std::size_t removed = 0;
    for (auto& sh : shards) removed += prune_shard(sh, at);
    return removed;
  }
};

memory_store::memory_store(boost::asio::any_io_executor executor, memory_store_options opts)
    : state_(std::make_shared<state>(std::move(executor), opts)) {
  state::schedule(state_);
}

memory_store::~memory_store() { shutdown(); }

void memory_store::shutdown() {
  std::lock_guard lock(state_->timer_mutex);
  state_->stopped = true;
  state_->timer.cancel();
}

void memory_store::defer(detail::unique_function<void()> fn) {
  state_->post([f = std::move(fn)]() mutable { f(); });
}

// The store answers every call at once; the asynchronous forms only deliver the answer later,
// as the store contract asks.

get_result memory_store::get_now(std::string_view id) {
  get_result result;
  std::string json;
  bool found = false;
  result.error = get_into_now(id, json, found);
  if (found) result.json = std::move(json);
  return result;
}

std::error_code memory_store::get_into_now(std::string_view id, std::string& buffer, bool& found) {
  found = false;
  state_->with_entry(id, [&](shard& sh, auto& map, auto it, auto) {
    if (it == map.end()) return;
    if (it->second.expires <= now()) {
      state_->erase(sh, map, it);  // expired: never returned
      return;
    }
    expand_into(buffer, state_->templates, it->second);
    found = true;
  });
  return {};
}

std::error_code memory_store::set_now(std::string_view id, session_record record, write_condition condition) {
  return state_->write_checked(id, std::move(record), [condition](const entry* live) -> std::error_code {
    if ((condition == write_condition::if_present && !live) || (condition == write_condition::if_absent && live))
      return error::session_gone;
    return {};
  });
}

compare_and_set_result memory_store::compare_and_set_now(std::string_view id, std::string_view expected,
                                                         session_record record) {
  compare_and_set_result result;
  result.error = state_->write_checked(id, std::move(record), [&](const entry* live) -> std::error_code {
    if (!live) return error::session_gone;
    std::string stored = expand(state_->templates, *live);
    if (stored == expected) return {};
    result.current = std::move(stored);
    return error::record_changed;
  });
  return result;
}

lock_result memory_store::lock_and_get_now(std::string_view id, lock_claim claim) {
  lock_result result;
  const timestamp at = now();
  state_->with_entry(id, [&](shard& sh, auto& map, auto it, auto) {
    const auto steady_now = std::chrono::steady_clock::now();
    auto held = sh.locks.find(id);
    if (held != sh.locks.end() && held->second.until > steady_now) {
      result.held_for = std::chrono::ceil<std::chrono::milliseconds>(held->second.until - steady_now);
      return;
    }
    const lock_entry taken{std::string(claim.owner), steady_now + claim.lease};
    if (held != sh.locks.end()) held->second = taken;
    else sh.locks.emplace(std::string(id), taken);
    result.acquired = true;
    if (it == map.end()) return;
    if (it->second.expires <= at) state_->erase(sh, map, it);  // expired: never returned
    else result.json = expand(state_->templates, it->second);
  });
  return result;
}

std::error_code memory_store::write_and_unlock_now(std::string_view id, std::string_view owner, locked_write write) {
  // Ours: pinned while the write runs (no lease runs out in between), released after it.
  bool ours = false;
  state_->with_entry(id, [&](shard& sh, auto&, auto, auto) {
    auto held = sh.locks.find(id);
    if (held == sh.locks.end() || held->second.owner != owner) return;
    ours = held->second.until > std::chrono::steady_clock::now();
    if (ours) held->second.until = std::chrono::steady_clock::time_point::max();
    else sh.locks.erase(held);  // ran out, and nobody took it since: nothing to keep
  });
  std::error_code result;
  switch (write.what) {
    case locked_write::kind::none: break;
    case locked_write::kind::set:
      result = ours ? set_now(id, std::move(write.record), write.condition) : std::error_code(error::lock_lost);
      break;
    case locked_write::kind::touch: result = touch_now(id, std::move(write.record)); break;
    case locked_write::kind::destroy: result = destroy_now(id); break;
  }
  if (ours) {
    state_->with_entry(id, [&](shard& sh, auto&, auto, auto) {
      auto held = sh.locks.find(id);
      if (held != sh.locks.end() && held->second.owner == owner) sh.locks.erase(held);
    });
  }
  return result;
}

std::error_code memory_store::destroy_now(std::string_view id) {
  state_->with_entry(id, [&](shard& sh, auto& map, auto it, auto) {
    if (it != map.end()) state_->erase(sh, map, it);
  });
  return {};
}

std::error_code memory_store::touch_now(std::string_view id, session_record record) {
  const timestamp at = now();
  // Like express's MemoryStore: only a live session is touched; its data is kept and only
  // the cookie (expiry) is refreshed, so a concurrent write is not undone.
  state_->with_entry(id, [&](shard& sh, auto& map, auto it, auto) {
    if (it == map.end() || it->second.expires <= at) return;
    const timestamp expires = state_->expiry_of(record, at);
    if (expires <= at) {
      state_->erase(sh, map, it);
      return;
    }
    sh.earliest_expiry = std::min(sh.earliest_expiry, expires);
    entry& e = it->second;
    template_table& templates = state_->templates;
    // Keeps the record, with `cookie_at` as its cookie's expiry (kept as an offset from the
    // store's expiry: when that is too far, the record is kept verbatim).
    auto move_expiries = [&](std::optional<timestamp> cookie_at) {
      if (e.set_expiries(expires, cookie_at)) return;
      std::string whole = expand(templates, e);
      state_->removed(sh, e);
      e = compact(templates, std::move(whole), cookie_at, expires);
      state_->added(sh, e);
    };
    if (e.cookie && matches_template(record.json, templates.at(e.cookie), record.cookie_expires)) {
      // The usual touch, seen without parsing: the same cookie with a new expiry.
      if (e.set_expiries(expires, record.cookie_expires)) return;
    }
    const auto cookie = record::leading_cookie(record.json);
    if (!cookie) {  // not a record we can read: only the store's expiry moves
      move_expiries(e.cookie ? std::optional(e.cookie_expires()) : std::nullopt);
      return;
    }
    if (e.cookie && e.cookie == template_of(templates, *cookie, record.cookie_expires) &&
        e.set_expiries(expires, record.cookie_expires)) {
      return;  // the same cookie with a new expiry; the data stays as it is
    }
    if (auto spliced = record::with_cookie(expand(templates, e), *cookie)) {
      state_->removed(sh, e);
      e = compact(templates, std::move(*spliced), record.cookie_expires, expires);
      state_->added(sh, e);
    } else {
      move_expiries(e.cookie ? std::optional(e.cookie_expires()) : std::nullopt);
    }
  });
  return {};
}

void memory_store::get(std::string_view id, get_handler handler) {
  state_->post([h = std::move(handler), r = get_now(id)]() mutable {
    h(r.error, std::move(r.json));
  });
}

void memory_store::set(std::string_view id, session_record record, completion_handler handler) {
  const std::error_code ec = set_now(id, std::move(record), write_condition::always);
  state_->post([h = std::move(handler), ec]() mutable { h(ec); });
}

void memory_store::set_if(std::string_view id, session_record record, write_condition condition,
                          completion_handler handler) {
  const std::error_code ec = set_now(id, std::move(record), condition);
  state_->post([h = std::move(handler), ec]() mutable { h(ec); });
}

void memory_store::destroy(std::string_view id, completion_handler handler) {
  const std::error_code ec = destroy_now(id);
  state_->post([h = std::move(handler), ec]() mutable { h(ec); });
}

void memory_store::touch(std::string_view id, session_record record, completion_handler handler) {
  const std::error_code ec = touch_now(id, std::move(record));
  state_->post([h = std::move(handler), ec]() mutable { h(ec); });
}

void memory_store::lock_and_get(std::string_view id, lock_claim claim, lock_handler handler) {
  state_->post([h = std::move(handler), r = lock_and_get_now(id, claim)]() mutable { h(std::move(r)); });
}

void memory_store::write_and_unlock(std::string_view id, std::string_view owner, locked_write write,
                                    completion_handler handler) {
  const std::error_code ec = write_and_unlock_now(id, owner, std::move(write));
  state_->post([h = std::move(handler), ec]() mutable { h(ec); });
}

void memory_store::compare_and_set(std::string_view id, std::string_view expected, session_record record,
                                   compare_and_set_handler handler) {
  state_->post([h = std::move(handler), r = compare_and_set_now(id, expected, std::move(record))]() mutable {
    h(std::move(r));
  });
}

void memory_store::defer_for(std::chrono::milliseconds delay, detail::unique_function<void()> fn) {
  auto timer = std::make_shared<boost::asio::steady_timer>(state_->executor, delay);
  timer->async_wait([timer, f = std::move(fn)](boost::system::error_code) mutable { f(); });
}

void memory_store::all(all_handler handler) {
  std::vector<std::pair<std::string, std::string>> out;
  const timestamp at = now();
  for (auto& sh : state_->shards) {
    std::lock_guard lock(sh.mutex);
    sh.for_each([&](std::string id, const entry& e) {
      if (e.expires > at) out.emplace_back(std::move(id), expand(state_->templates, e));
    });
  }
  state_->post([h = std::move(handler), out = std::move(out)]() mutable { h({}, std::move(out)); });
}

void memory_store::ids(ids_handler handler) {
  std::vector<std::string> out;
  const timestamp at = now();
  for (auto& sh : state_->shards) {
    std::lock_guard lock(sh.mutex);
    sh.for_each([&](std::string id, const entry& e) {
      if (e.expires > at) out.push_back(std::move(id));
    });
  }
  state_->post([h = std::move(handler), out = std::move(out)]() mutable { h({}, std::move(out)); });
}

void memory_store::length(length_handler handler) {
  std::size_t n = 0;
  const timestamp at = now();
  for (auto& sh : state_->shards) {
    std::lock_guard lock(sh.mutex);
    for (const auto& kv : sh.compact_ids) n += kv.second.expires > at;
    for (const auto& kv : sh.other_ids) n += kv.second.expires > at;
  }
  state_->post([h = std::move(handler), n]() mutable { h({}, n); });
}

void memory_store::clear(completion_handler handler) {
  for (auto& sh : state_->shards) {
    std::lock_guard lock(sh.mutex);
    for (const auto& kv : sh.compact_ids) state_->removed(sh, kv.second);
    for (const auto& kv : sh.other_ids) state_->removed(sh, kv.second);
    sh.compact_ids.clear();
    sh.other_ids.clear();
    while (!sh.user_of.empty()) state_->forget_user(sh, sh.user_of.begin()->first);
  }
  state_->post([h = std::move(handler)]() mutable { h({}); });
}

void memory_store::page(std::string_view cursor, std::size_t size, page_handler handler) {
  std::size_t shard_index = 0;
  for (char c : cursor) {
    if (c < '0' || c > '9' || shard_index > shard_count) {
      shard_index = shard_count;  // not a cursor of ours: an empty, final page
      break;
    }
    shard_index = shard_index * 10 + std::size_t(c - '0');
  }
  session_page out;
  const timestamp at = now();
  while (shard_index < shard_count && out.sessions.size() < std::max<std::size_t>(size, 1)) {
    shard& sh = state_->shards[shard_index++];
    std::lock_guard lock(sh.mutex);
    sh.for_each([&](std::string id, const entry& e) {
      if (e.expires > at) out.sessions.push_back({std::move(id), expand(state_->templates, e), e.expires});
    });
  }
  if (shard_index < shard_count) out.next = std::to_string(shard_index);
  state_->post([h = std::move(handler), out = std::move(out)]() mutable { h({}, std::move(out)); });
}

std::error_code memory_store::sessions_of_now(std::string_view user, std::vector<listed_session>& out) {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(state_->users_mutex);
    auto found = state_->ids_of_user.find(user);
    if (found != state_->ids_of_user.end()) ids.assign(found->second.begin(), found->second.end());
  }
  out.clear();
  const timestamp at = now();
  for (auto& id : ids) {
    state_->with_entry(id, [&](shard& sh, auto& map, auto it, auto) {
      // Checked again under the shard's lock: the session may have gone or changed hands.
      if (it == map.end() || it->second.expires <= at) return;
      auto owner = sh.user_of.find(id);
      if (owner == sh.user_of.end() || owner->second != user) return;
      out.push_back({id, expand(state_->templates, it->second), it->second.expires});
    });
  }
  return {};
}

void memory_store::sessions_of(std::string_view user, sessions_handler handler) {
  std::vector<listed_session> out;
  const std::error_code ec = sessions_of_now(user, out);
  state_->post([h = std::move(handler), ec, out = std::move(out)]() mutable { h(ec, std::move(out)); });
}

std::size_t memory_store::prune() { return state_->prune(); }

std::size_t memory_store::stored_bytes() const { return state_->byte_count; }

std::size_t memory_store::stored_count() const {
  std::size_t n = 0;
  for (auto& sh : state_->shards) {
    std::lock_guard lock(sh.mutex);
    n += sh.size();
  }
  return n;
}

}  // namespace sessionkit
