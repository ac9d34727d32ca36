// A user's sessions through the store's user index: listing them, "log out everywhere", and the
// per-user session limit. The index itself lives in each store; this is what the engine builds
// on it.

#include "user_index.hpp"

#include <sessionkit/log.hpp>
#include <sessionkit/record.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

namespace sessionkit {

std::optional<std::int64_t> detail::read_ms(const boost::json::object& data, std::string_view key) {
  const boost::json::value* v = data.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= std::uint64_t(INT64_MAX)) return std::int64_t(v->get_uint64());
  if (v->is_double()) return std::int64_t(v->get_double());  // JSON from elsewhere: 1.7e12 and the like
  return std::nullopt;
}

namespace {

std::optional<timestamp> time_in(const boost::json::object& data, std::string_view key) {
  const auto ms = detail::read_ms(data, key);
  if (!ms) return std::nullopt;
  return timestamp(std::chrono::milliseconds(*ms));
}

// Oldest login first; a session that keeps no login time counts as older than any that does,
// and among those the one that expires first goes first.
bool logged_in_before(const user_session& a, const user_session& b) {
  if (a.created != b.created) return !a.created || (b.created && *a.created < *b.created);
  if (a.expires != b.expires) return a.expires && (!b.expires || *a.expires < *b.expires);
  return a.id < b.id;
}

}  // namespace

std::vector<user_session> detail::user_sessions_from(std::vector<listed_session> listed) {
  std::vector<user_session> out;
  out.reserve(listed.size());
  for (auto& l : listed) {
    record::parts parts;
    if (!record::decode(l.json, parts)) continue;  // not a session: nothing to list
    user_session u;
    u.id = std::move(l.id);
    u.created = time_in(parts.data, session_keys::created);
    u.last_seen = time_in(parts.data, session_keys::seen);
    u.expires = l.expires;
    u.data = std::move(parts.data);
    out.push_back(std::move(u));
  }
  std::sort(out.begin(), out.end(), logged_in_before);
  return out;
}

std::vector<user_session> detail::sessions_over_limit(std::vector<user_session> sessions, std::string_view keep_id,
                                                      std::size_t limit) {
  // The newest `limit` stay, the one logging in among them whatever its login time.
  std::vector<user_session> over;
  if (limit == 0) return over;
  for (auto& s : sessions) {  // oldest first
    if (sessions.size() - over.size() <= limit) break;
    if (s.id == keep_id) continue;
    over.push_back(std::move(s));
  }
  return over;
}

namespace {

// Destroys `sessions` all at once; completes with the first error (if any) and how many went.
void destroy_each(const engine& owner, std::vector<user_session> sessions, const char* reason, count_handler done) {
  if (sessions.empty()) return done({}, 0);
  struct tally {
    std::mutex mutex;
    std::size_t left = 0, ended = 0;
    std::error_code first_error;
    count_handler done;
  };
  auto t = std::make_shared<tally>();
  t->left = sessions.size();
  t->done = std::move(done);
  for (auto& s : sessions) {
    if (owner.wants_events()) owner.emit_stored(session_event_kind::destroyed, s.id, &s.data, reason);
    owner.backing_store().destroy(s.id, [t](std::error_code ec) {
      std::unique_lock lock(t->mutex);
      if (ec && !t->first_error) t->first_error = ec;
      if (!ec) ++t->ended;
      if (--t->left != 0) return;
      lock.unlock();
      t->done(t->first_error, t->ended);
    });
  }
}

}  // namespace

void engine::sessions_of(std::string_view user, user_sessions_handler handler) const {
  store& s = backing_store();
  if (user.empty()) return s.defer([h = std::move(handler)]() mutable { h({}, {}); });
  s.sessions_of(user, [h = std::move(handler)](std::error_code ec, std::vector<listed_session> listed) mutable {
    if (ec) return h(ec, {});
    h({}, detail::user_sessions_from(std::move(listed)));
  });
}

void engine::destroy_all_of(std::string_view user, std::string_view keep_id, count_handler handler) const {
  sessions_of(user, [this, keep = keep_id.empty() ? std::string() : store_key(keep_id), h = std::move(handler)](
                        std::error_code ec, std::vector<user_session> sessions) mutable {
    if (ec) return h(ec, 0);
    std::erase_if(sessions, [&](const user_session& s) { return s.id == keep; });
    destroy_each(*this, std::move(sessions), "logout everywhere", std::move(h));
  });
}

void engine::end_sessions_over_limit(std::string_view user, std::string_view keep_id, count_handler handler) const {
  const std::size_t limit = options_.max_sessions_per_user;
  if (limit == 0) return backing_store().defer([h = std::move(handler)]() mutable { h({}, 0); });
  sessions_of(user, [this, limit, keep = store_key(keep_id), h = std::move(handler)](
                        std::error_code ec, std::vector<user_session> sessions) mutable {
    if (ec) return h(ec, 0);
    std::vector<user_session> over = detail::sessions_over_limit(std::move(sessions), keep, limit);
    if (over.empty()) return h({}, 0);
    log(log_level::info, std::to_string(over.size()) + " older session(s) of a user ended: over the limit of " +
                             std::to_string(limit) + " per user");
    destroy_each(*this, std::move(over), "session limit", std::move(h));
  });
}

}  // namespace sessionkit
