// session_state: one request's session and express-session's decisions about it, with no I/O.
// `plan_end()` answers "what does a request save, and why".

#include <sessionkit/engine.hpp>

#include "id_hashing.hpp"
#include "user_index.hpp"

#include <sessionkit/id.hpp>
#include <sessionkit/json.hpp>
#include <sessionkit/log.hpp>
#include <sessionkit/record.hpp>

namespace sessionkit {
namespace {

// A stored cookie whose lifetime, restarted now, would end past JavaScript's last date cannot
// be served (Node fails such a request): the record is treated as not a session.
bool lifetime_fits(const session_cookie& cookie) {
  return !cookie.original_max_age || in_js_date_range(now() + std::chrono::milliseconds(*cookie.original_max_age));
}

// The times the timeouts need, kept in the record as two reserved top-level keys (visible to
// Node apps sharing the store as session data, which they keep as it is): ms since the epoch of
// the creation and of the last request (rewritten when stale). Flat numbers, not an object, so
// the record stays on the codec's fast path for flat data.
constexpr std::string_view created_key = session_keys::created;
constexpr std::string_view seen_key = session_keys::seen;
constexpr std::string_view renewed_key = session_keys::renewed;

std::int64_t ms(timestamp t) noexcept { return t.time_since_epoch().count(); }

}  // namespace

session_state::session_state(const engine& owner, const request_info& request, bool store_ready,
                             request_driver* driver)
    : engine_(owner),
      secure_(owner.is_secure(request)),
      merging_(owner.settings().concurrency == concurrency_mode::merge),
      session_(driver) {
  // Only a custom genid sees the path (possibly later, in regenerate): copy it just then.
  if (engine_.settings().genid) path_ = request.path;
  const std::string_view path = request.path.empty() ? std::string_view("/") : request.path;
  const std::string& cookie_path = engine_.settings().cookie.path;
  if (path.substr(0, cookie_path.size()) != cookie_path) {
    step_ = step::skip;
    return;
  }
  if (!store_ready) {
    step_ = step::unavailable;
    return;
  }
  std::optional<signed_cookie> read;
  const id_transport transport = engine_.settings().transport;
  if (transport != id_transport::cookie && !request.id_header.empty()) read = engine_.read_signed_value(request.id_header, request.memo);
  if (!read && transport != id_transport::header) read = engine_.read_cookie(request.cookie_header, request.memo);
  if (read) {
    // The session takes the cookie's id while it loads; it keeps it if the record is found.
    session_.id_ = std::move(read->id);
    had_cookie_ = true;
    cookie_signature_ = read->signature;
    old_secret_ = read->old_secret;
    step_ = step::load;
  } else {
    generate();
    step_ = step::ready;
  }
}

void session_state::apply_cookie_options(session_cookie& cookie) const {
  const cookie_options& o = engine_.settings().cookie;
  cookie = session_cookie{};
  cookie.path = o.path;
  cookie.domain = o.domain;
  cookie.http_only = o.http_only;
  switch (o.secure) {
    case secure_policy::unset: break;
    case secure_policy::on: cookie.secure = true; break;
    case secure_policy::off: cookie.secure = false; break;
    case secure_policy::automatic: cookie.secure = secure_; break;
  }
  cookie.same_site = o.same_site;
  if (const auto* s = std::get_if<std::string>(&o.same_site); s && *s == "auto")
    cookie.same_site = std::string(secure_ ? "none" : "lax");
  cookie.partitioned = o.partitioned;
  cookie.priority = o.priority;
  if (o.max_age) cookie.set_max_age(*o.max_age);
  else if (o.expires) cookie.set_expires(*o.expires);
}

void session_state::reset_session(std::string id) {
  // The cookie's id is kept for the comparisons when the session's id was it until now.
  if (had_cookie_ && !cookie_id_) cookie_id_ = session_.id_;
  session_.id_ = std::move(id);
  session_.data_.clear();
  session_.keys_before_cookie_.clear();
  apply_cookie_options(session_.cookie_);
}

bool session_state::keeps_times() const noexcept {
  const options& o = engine_.settings();
  return o.idle_timeout || o.absolute_timeout || o.renew_interval;
}

void session_state::stamp_times() {
  if (!keeps_times()) return;
  const std::int64_t at = ms(now());
  session_.data_[created_key] = at;
  session_.data_[seen_key] = at;
  seen_written_ = true;
}

// None kept yet (written before the option, or by Node): not ended, stamped by note_seen.
const char* session_state::timed_out(timestamp at) const {
  const options& o = engine_.settings();
  if (const auto created = detail::read_ms(session_.data_, created_key);
      o.absolute_timeout && created && ms(at) - *created > o.absolute_timeout->count())
    return "absolute timeout";
  if (const auto seen = detail::read_ms(session_.data_, seen_key);
      o.idle_timeout && seen && ms(at) - *seen > o.idle_timeout->count())
    return "idle timeout";
  return nullptr;
}

void session_state::note_seen(timestamp at) {
  if (!detail::read_ms(session_.data_, created_key)) {
    // None kept yet (written before the option, or by Node): stamped now for the timeouts. A
    // session with a user but no times was not logged in by set_user (a Node app's "user", say):
    // left as it is.
    if (keeps_times()) {
      session_.data_[created_key] = ms(at);
      session_.data_[seen_key] = ms(at);
      seen_written_ = true;
    }
    return;
  }
  const auto& idle = engine_.settings().idle_timeout;
  // Kept for the idle timeout, and for a logged-in user's session list ("last seen").
  if (!idle && session_.user().empty()) return;
  // Rewritten only when a tenth of the timeout (or a minute) old: a request that reads the
  // session does not make it a write every time.
  const auto seen = detail::read_ms(session_.data_, seen_key);
  if (!seen || ms(at) - *seen >= stale_after().count()) {
    session_.data_[seen_key] = ms(at);
    seen_written_ = true;
  }
}

std::optional<timestamp> session_state::record_expires() const {
  std::optional<timestamp> expires = session_.cookie_.expires;
  if (!keeps_times()) return expires;
  // The store may drop the record once a timeout has ended it.
  const options& o = engine_.settings();
  const auto sooner = [&](std::optional<std::int64_t> since, const std::optional<std::chrono::milliseconds>& limit) {
    if (!since || !limit) return;
    const timestamp end = timestamp(std::chrono::milliseconds(*since)) + *limit;
    if (!expires || end < *expires) expires = end;
  };
  sooner(detail::read_ms(session_.data_, created_key), o.absolute_timeout);
  sooner(detail::read_ms(session_.data_, seen_key), o.idle_timeout);
  return expires;
}

session_record session_state::make_record(const std::string& data_text) const {
  session_record out{record::encode(session_.cookie_, session_.data_, session_.keys_before_cookie_, &data_text),
                     record_expires()};
  out.cookie_expires = session_.cookie_.expires;
  out.user = session_.user();
  return out;
}

std::chrono::milliseconds session_state::stale_after() const noexcept {
  const auto& idle = engine_.settings().idle_timeout;
  return idle ? *idle / 10 : std::chrono::milliseconds(60'000);
}

// The user index of a store that keeps it apart (Redis) is refreshed only on a login, a new
// id, and when "last seen" is rewritten (at most every stale_after()), with the entry made to
// live stale_after() past the record: until the next refresh no request can push the record's
// expiry further than that (a request then is at most stale_after() after the last refresh).
void session_state::mark_index(session_record& record) {
  if (record.user.empty()) return;
  const bool has_seen = session_.data_.contains(seen_key);
  if (has_seen && !seen_written_ && stored_ && !session_.logged_in_now_) {
    record.index_current = true;
    return;
  }
  record.index_slack = has_seen ? stale_after() : std::chrono::milliseconds(0);
  seen_written_ = false;
}

void session_state::note_user(const session_record& record) {
  // A login is a set_user() whose record goes to the store (and only once).
  if (session_.logged_in_now_ && !record.user.empty()) new_login_ = record.user;
  session_.logged_in_now_ = false;
}

void session_state::generate() {
  reset_session(engine_.make_id({path_, secure_}));
  stamp_times();
  original_id_.reset();  // the generated id is the original one
  original_data_ = record::data_text(session_.data_);
  saved_data_.reset();
  present_ = true;
  stored_ = false;
}

void session_state::on_loaded(std::optional<std::string_view> json) {
  step_ = step::ready;
  if (json) {
    record::parts parts;
    if (record::decode(*json, parts) && lifetime_fits(parts.cookie)) {
      session_.cookie_ = std::move(parts.cookie);
      session_.data_ = std::move(parts.data);
      session_.keys_before_cookie_ = std::move(parts.keys_before_cookie);
      original_data_ = std::move(parts.stored_data_text);
      if (!engine_.settings().resave) saved_data_ = original_data_;
      if (merging_) expected_record_ = *json;
      present_ = true;
      stored_ = true;
      if (follow_forward()) return;
      if (!keeps_times()) {
        if (!session_.user().empty()) note_seen(now());  // "last seen" for the user's session list
        return;
      }
      const timestamp at = now();
      if (const char* why = timed_out(at)) {
        log(log_level::info, "session " + redact_id(session_.id_) + " ended by its " + why +
                                 "; starting a new session");
        timed_out_id_ = session_.id_;
        timed_out_reason_ = why;
        if (engine_.wants_events()) timed_out_data_ = std::move(session_.data_);
        generate();
        return;
      }
      note_seen(at);
      // Rotation: an id older than renew_interval (since the session's creation or last renewal).
      if (const auto& every = engine_.settings().renew_interval; every && !forwarded_) {
        auto since = detail::read_ms(session_.data_, renewed_key);
        if (!since) since = detail::read_ms(session_.data_, created_key);
        renew_due_ = since && ms(at) - *since >= every->count();
      }
      return;
    }
    log(log_level::warning, "stored session " + redact_id(session_.id_) +
                                " is not a valid session record; starting a new session");
  }
  generate();  // unknown, expired or broken: a new id, never the cookie's
}

// --- the decisions (express-session's isModified / isSaved / shouldSetCookie / shouldSave) -----

bool session_state::is_modified(const std::string& data_text) const {
  return !is_original_id() || original_data_ != data_text;
}

bool session_state::is_saved(const std::string& data_text) const {
  return is_original_id() && saved_data_ && *saved_data_ == data_text;
}

bool session_state::should_set_cookie(const std::string& data_text) const {
  const options& o = engine_.settings();
  // A session reached through a renewed id's forward: the client learns its new id.
  if (!is_cookie_id()) return forwarded_ || o.save_uninitialized || is_modified(data_text);
  return o.rolling || (session_.cookie_.expires && is_modified(data_text)) ||
         (o.resign_old_secrets && old_secret_);
}

bool session_state::should_save(const std::string& data_text) const {
  if (!engine_.settings().save_uninitialized && !saved_data_ && !is_cookie_id())
    return is_modified(data_text);
  return !is_saved(data_text);
}

std::error_code session_state::check_size(const session_record& record) const {
  const std::size_t limit = engine_.settings().max_session_bytes;
  if (limit != 0 && record.json.size() > limit) {
    log(log_level::warning, "session " + redact_id(session_.id_) + " is " +
                                std::to_string(record.json.size()) + " bytes, over the limit of " +
                                std::to_string(limit) + "; not saved");
    return error::session_too_large;
  }
  return {};
}

std::optional<std::string> session_state::make_set_cookie(end_plan& plan) {
  // A secure cookie over an insecure request is not sent; the session is still saved.
  if (session_.cookie_.secure.value_or(false) && !secure_) return std::nullopt;
  if (!touched_) {
    session_.touch();
    touched_ = true;
  }
  try {
    std::string value = "s:";  // "s:id.signature"
    if (cookie_signature_ && is_cookie_id()) {  // the cookie's own signature: not signed again
      value.append(session_.id_).append(".").append(cookie_signature_->data(), cookie_signature_->size());
    } else {
      value.append(engine_.cookie_signer().sign(session_.id_));
    }
    const id_transport transport = engine_.settings().transport;
    if (transport != id_transport::cookie) plan.id_header = value;  // header transports: as it is
    if (transport == id_transport::header) return std::nullopt;
    return serialize_set_cookie(engine_.settings().name, value, session_.cookie_.attributes());
  } catch (const invalid_cookie& e) {
    plan.cookie_error = error::invalid_cookie_option;
    log(log_level::error, std::string("session cookie not sent: ") + e.what());
    return std::nullopt;
  }
}

// A cookie that the browser drops at once (Express's res.clearCookie: empty value, expired in
// 1970), with the path and domain it was set with, so it replaces that cookie.
std::optional<std::string> session_state::make_clearing_cookie(end_plan& plan) const {
  set_cookie_options attributes = session_.cookie_.attributes();
  attributes.max_age_seconds.reset();
  attributes.expires = timestamp(std::chrono::milliseconds(1));
  try {
    return serialize_set_cookie(engine_.settings().name, "", attributes);
  } catch (const invalid_cookie& e) {
    plan.cookie_error = error::invalid_cookie_option;
    log(log_level::error, std::string("session cookie not cleared: ") + e.what());
    return std::nullopt;
  }
}

// What a request saves, and why (express-session's header hook and its `res.end` wrapper):
// - the cookie is sent for a new session that is saved (saveUninitialized, or modified), for a
//   loaded one on every response with `rolling`, or when modified and it has an expiry, or
//   (`resign_old_secrets`) when an older secret signed it;
// - a session dropped with `unset: destroy` is destroyed;
// - a session whose data differs from what was loaded or last saved is saved (with `resave`
//   also an unmodified loaded one; without saveUninitialized a new unmodified one is not);
// - otherwise a loaded session is touched (its expiry renewed) when the store can touch.
end_plan session_state::plan_end(bool store_has_touch) {
  end_plan plan;
  if (step_ != step::ready || session_.id_.empty()) return plan;
  plan.id = session_.id_;
  // The data's text, once: the change-detection snapshot and the record's tail.
  const std::string data_text = record::data_text(session_.data_);
  if (present_ && should_set_cookie(data_text)) plan.set_cookie = make_set_cookie(plan);
  if (!present_) {
    const bool unset_destroys = engine_.settings().unset == unset_action::destroy;
    if (unset_destroys) plan.operation = store_operation::destroy;
    if (engine_.settings().clear_cookie_on_destroy && (destroyed_ || unset_destroys) &&
        engine_.settings().transport != id_transport::header)
      plan.set_cookie = make_clearing_cookie(plan);
    return plan;
  }
  if (!touched_) {
    session_.touch();
    touched_ = true;
  }
  if (should_save(data_text)) {
    plan.record = make_record(data_text);
    if (auto ec = check_size(plan.record)) {
      plan.error = ec;  // the response fails; nothing stored, nothing claimed
      plan.set_cookie.reset();
      plan.id_header.reset();
      plan.record = {};
      return plan;
    }
    plan.operation = store_operation::save;
    plan.condition = save_condition();
    mark_index(plan.record);
    note_user(plan.record);
  } else if (store_has_touch && is_cookie_id()) {
    plan.operation = store_operation::touch;
    plan.record = make_record(data_text);
    mark_index(plan.record);
  }
  return plan;
}

// --- the methods' state changes ----------------------------------------------------------------

std::error_code session_state::prepare_save(session_record& out) {
  std::string data_text = record::data_text(session_.data_);
  out = make_record(data_text);
  saved_data_ = std::move(data_text);
  if (auto ec = check_size(out)) return ec;
  mark_index(out);
  note_user(out);
  return {};
}

std::error_code session_state::on_reloaded(std::optional<std::string_view> json) {
  if (!json) return error::failed_to_load_session;
  record::parts parts;
  if (!record::decode(*json, parts) || !lifetime_fits(parts.cookie)) {
    log(log_level::warning, "reload: stored session " + redact_id(session_.id_) + " is not a valid session record");
    return error::invalid_record;
  }
  session_.cookie_ = std::move(parts.cookie);
  session_.data_ = std::move(parts.data);
  session_.keys_before_cookie_ = std::move(parts.keys_before_cookie);
  present_ = true;
  return {};
}

void session_state::on_written(std::string record_json) {
  if (merging_) expected_record_ = std::move(record_json);
}

std::error_code session_state::rebase(std::string_view current, session_record& out) {
  record::parts fresh;
  if (!record::decode(current, fresh)) {
    log(log_level::error, "merge: the stored record of session " + redact_id(session_.id_) +
                              " is not a session record; not overwritten");
    return error::invalid_record;
  }
  // This request's changes since it last read or wrote the record (the base): keys whose JSON
  // text differs, and keys it deleted. Worked out only here, on a conflict.
  record::parts last_known;
  std::error_code parse_error;
  std::optional<boost::json::value> base_value;
  if (record::decode(expected_record_, last_known)) base_value = parse_json(last_known.stored_data_text, parse_error);
  static const boost::json::object no_keys;
  const boost::json::object& base =
      base_value && base_value->is_object() ? base_value->get_object() : no_keys;
  boost::json::object merged = std::move(fresh.data);
  for (const auto& [key, value] : session_.data_) {
    const boost::json::value* before = base.if_contains(key);
    if (!before || stringify(*before) != stringify(value)) merged[key] = value;
  }
  for (const auto& [key, value] : base)
    if (!session_.data_.contains(key)) merged.erase(key);
  const bool was_saved = saved_data_.has_value();
  session_.data_ = std::move(merged);
  session_.keys_before_cookie_ = std::move(fresh.keys_before_cookie);
  std::string data_text = record::data_text(session_.data_);
  out = make_record(data_text);
  mark_index(out);
  expected_record_ = current;
  if (was_saved) saved_data_ = std::move(data_text);
  return check_size(out);
}

// A renewed session's old id: its record names the new id, which is loaded instead (once: a
// forward to a forward is not followed). The request's cookie stays the old id, so the response
// sends the new one.
bool session_state::follow_forward() {
  // A forward holds nothing else: most records are ruled out without a lookup.
  if (session_.data_.size() != 1) return false;
  const boost::json::value* to = session_.data_.if_contains(session_keys::renewed_to);
  if (!to) return false;
  std::optional<std::string> next;
  if (to->is_string() && !forwarded_) {
    if (engine_.hashes_ids()) next = detail::open_forward(session_.id_, to->get_string());
    else next.emplace(to->get_string());
  }
  if (!next || next->empty()) {
    log(log_level::warning, "stored session " + redact_id(session_.id_) + " forwards to no usable id; starting a new session");
    generate();
    return true;
  }
  forwarded_ = true;
  if (had_cookie_ && !cookie_id_) cookie_id_ = session_.id_;
  session_.data_.clear();
  session_.keys_before_cookie_.clear();
  session_.id_ = std::move(*next);
  present_ = stored_ = false;
  step_ = step::load;
  return true;
}

std::string session_state::renew() {
  std::string old_id = session_.id_;
  if (had_cookie_ && !cookie_id_) cookie_id_ = session_.id_;
  if (!original_id_) original_id_ = session_.id_;
  session_.id_ = engine_.make_id({path_, secure_});
  if (engine_.settings().renew_interval) session_.data_[renewed_key] = ms(now());
  stored_ = false;  // nothing under the new id yet; the user stays (a renewal is no login)
  renew_due_ = false;
  present_ = true;
  return old_id;
}

session_record session_state::forwarding_record(std::string_view old_id) const {
  boost::json::object data;
  // With hashed ids the store must not hold a live id: the new one goes sealed with the old.
  if (engine_.hashes_ids()) data[session_keys::renewed_to] = detail::seal_forward(old_id, session_.id_);
  else data[session_keys::renewed_to] = session_.id_;
  session_record out{record::encode(session_.cookie_, data, {}), now() + engine_.settings().renew_grace};
  out.cookie_expires = session_.cookie_.expires;
  return out;
}

void session_state::regenerate() {
  if (!original_id_) original_id_ = session_.id_;
  reset_session(engine_.make_id({path_, secure_}));
  stamp_times();
  present_ = true;
  stored_ = false;
}

}  // namespace sessionkit
