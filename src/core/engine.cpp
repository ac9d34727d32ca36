// engine: the configuration all requests share, and reading the session cookie.

#include <sessionkit/engine.hpp>

#include "id_hashing.hpp"

#include <sessionkit/id.hpp>
#include <sessionkit/log.hpp>

#include <algorithm>
#include <atomic>
#include <stdexcept>

namespace sessionkit {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

}  // namespace

namespace {

std::shared_ptr<store> required(std::shared_ptr<store> s) {
  if (!s) throw std::invalid_argument("a session store is required");
  return s;
}

}  // namespace

engine::engine(options opts, std::shared_ptr<store> backing_store)
    : engine(std::move(opts), required(std::move(backing_store)), nullptr) {}

engine::engine(options opts) : engine(std::move(opts), nullptr, nullptr) {}

engine::engine(options opts, std::shared_ptr<store> backing_store, std::nullptr_t)
    : options_(std::move(opts)), store_(std::move(backing_store)), signer_(options_.secrets), serial_([] {
        static std::atomic<std::uint64_t> engines{0};
        return ++engines;
      }()) {
  for (const auto& secret : options_.secrets) {
    if (secret.size() < 32) {
      // Not fatal (express-session accepts any secret), but a short secret can be guessed.
      log(log_level::warning, "a session secret is only " + std::to_string(secret.size()) +
                                  " bytes long; use at least 32 random bytes");
      break;
    }
  }
  if (!is_valid_cookie_name(options_.name)) throw std::invalid_argument("argument name is invalid");
  if (options_.transport != id_transport::cookie && !is_valid_cookie_name(options_.id_header))
    throw std::invalid_argument("id_header is not a valid header name");
  // An expiry past JavaScript's last date would be an Invalid Date in Node: no cookie it could
  // send, no record it could read.
  if (const auto& max_age = options_.cookie.max_age;
      max_age && (max_age->count() > max_js_time_ms || max_age->count() < -max_js_time_ms ||
                  !in_js_date_range(now() + *max_age)))
    throw std::invalid_argument("cookie.maxAge " + std::to_string(max_age->count()) +
                                " ms puts the expiry past JavaScript's last date (+275760-09-13)");
  if (const auto& expires = options_.cookie.expires; expires && !in_js_date_range(*expires))
    throw std::invalid_argument("cookie.expires is outside JavaScript's date range");
  // Check the cookie options once with a sample cookie, so a bad domain or sameSite fails at
  // start-up instead of on every response.
  set_cookie_options sample;
  sample.domain = options_.cookie.domain;
  sample.path = options_.cookie.path;
  sample.priority = options_.cookie.priority;
  sample.same_site = options_.cookie.same_site;
  if (const auto* s = std::get_if<std::string>(&sample.same_site); s && *s == "auto")
    sample.same_site = std::string("lax");
  try {
    (void)serialize_set_cookie(options_.name, "x", sample);
  } catch (const invalid_cookie& e) {
    throw std::invalid_argument(e.what());
  }
  for (const auto& [timeout, name] : {std::pair{options_.idle_timeout, "idle_timeout"},
                                       std::pair{options_.absolute_timeout, "absolute_timeout"}})
    if (timeout && timeout->count() <= 0) throw std::invalid_argument(std::string(name) + " must be positive");
  check_concurrency();
  if (options_.max_sessions_per_user != 0 && store_ && !store_->has_user_index())
    throw std::invalid_argument(
        "max_sessions_per_user needs a store with a user index (MemoryStore, RedisStore and "
        "SqliteStore have one); this store has none");
  if (options_.on_event) events_ = std::make_shared<event_dispatcher>(options_.on_event);
}

void engine::check_concurrency() const {
  switch (options_.concurrency) {
    case concurrency_mode::none: return;
    case concurrency_mode::lock:
      if (options_.lock_timeout.count() < 0) throw std::invalid_argument("lock_timeout must not be negative");
      if (options_.lock_lease.count() <= 0) throw std::invalid_argument("lock_lease must be positive");
      if (store_ && !store_->has_locks())
        throw std::invalid_argument(
            "concurrency 'lock' needs a store with session locks (MemoryStore, RedisStore and "
            "SqliteStore have them); this store has none");
      return;
    case concurrency_mode::merge:
      if (options_.merge_attempts == 0) throw std::invalid_argument("merge_attempts must be at least 1");
      if (store_ && !store_->has_compare_and_set())
        throw std::invalid_argument(
            "concurrency 'merge' needs a store with compare-and-set (MemoryStore, RedisStore and "
            "SqliteStore have it); this store has none");
      return;
  }
}

store& engine::backing_store() const {
  if (!store_) throw std::logic_error("this sessionkit::engine has no store");
  return *store_;
}

bool forwarded_proto_is_https(std::string_view joined_values) noexcept {
  std::string_view first = joined_values.substr(0, joined_values.find(','));
  while (!first.empty() && (first.front() == ' ' || first.front() == '\t')) first.remove_prefix(1);
  while (!first.empty() && (first.back() == ' ' || first.back() == '\t')) first.remove_suffix(1);
  return iequals(first, "https");
}

bool engine::is_secure(const request_info& request) const noexcept {
  if (request.tls) return true;
  if (!options_.proxy) return request.adapter_secure;
  return *options_.proxy && forwarded_proto_is_https(request.forwarded_proto);
}

std::optional<signed_cookie> engine::read_cookie(std::string_view cookie_header, cookie_memo* memo) const {
  thread_local std::string raw;  // the decoded cookie value; reused, no allocation per request
  if (!find_cookie(cookie_header, options_.name, raw)) return std::nullopt;
  return read_signed_value(raw, memo);
}

std::optional<signed_cookie> engine::read_signed_value(std::string_view raw, cookie_memo* memo) const {
  if (raw.size() > 7 && (raw.substr(0, 7) == "Bearer " || raw.substr(0, 7) == "bearer ")) raw.remove_prefix(7);
  if (raw.size() < 2 || raw.compare(0, 2, "s:") != 0) return std::nullopt;
  raw.remove_prefix(2);
  const std::size_t dot = raw.rfind('.');
  if (dot == 0 || dot == std::string_view::npos) return std::nullopt;  // no id, or no signature
  // The connection's last verified value, byte for byte, needs no second HMAC (cookie_memo.hpp).
  std::size_t secret = 0;
  if (!memo || !memo->holds(serial_, raw, secret)) {
    const auto found = signer_.verifying_secret(raw);
    if (!found) return std::nullopt;
    secret = *found;
    if (memo) memo->remember(serial_, raw, secret);
  }
  signed_cookie result{std::string(raw.substr(0, dot)), {}, secret != 0};
  const std::string_view signature = raw.substr(dot + 1);
  if (secret == 0 && signature.size() == 43) {
    result.signature.emplace();
    std::copy(signature.begin(), signature.end(), result.signature->begin());
  }
  return result;
}

std::optional<std::string> engine::read_session_id(std::string_view cookie_header) const {
  if (auto read = read_cookie(cookie_header)) return std::move(read->id);
  return std::nullopt;
}

void engine::emit(session_event_kind kind, std::string_view id, const boost::json::object* data,
                  std::string reason) const {
  if (!events_) return;
  // A session is named by its store key in events (the id itself unless ids are hashed), so a
  // session listed from the store and one a request holds hash alike.
  if (hashes_ids()) return emit_stored(kind, store_key(id), data, std::move(reason));
  emit_stored(kind, id, data, std::move(reason));
}

void engine::emit_stored(session_event_kind kind, std::string_view key, const boost::json::object* data,
                         std::string reason) const {
  if (!events_) return;
  session_event event;
  event.kind = kind;
  event.id_hash = hash_session_id(key);
  if (data)
    if (const boost::json::value* user = data->if_contains(session_keys::user); user && user->is_string())
      event.user = std::string(user->get_string());
  event.reason = std::move(reason);
  event.at = now();
  events_->post(std::move(event));
}

std::string engine::store_key(std::string_view id) const {
  if (!hashes_ids()) return std::string(id);
  return detail::hashed_id(options_.id_hash_key, id);
}

void engine::flush_events() const {
  if (events_) events_->flush();
}

std::string engine::make_id(const genid_context& context) const {
  return options_.genid ? options_.genid(context) : generate_id();
}

}  // namespace sessionkit
