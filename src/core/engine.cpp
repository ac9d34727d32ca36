#include <sessionkit/engine.hpp>

#include <sessionkit/id.hpp>
#include <sessionkit/json.hpp>
#include <sessionkit/log.hpp>

#include "detail/plain_json.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace sessionkit {
namespace {

// Keys express-session drops when it revives a stored record (`prop in this` on a Session).
bool is_reserved_key(std::string_view key) {
  static constexpr std::array<std::string_view, 9> reserved{
      "id", "req", "touch", "resetMaxAge", "save", "reload", "destroy", "regenerate", "__proto__"};
  return std::find(reserved.begin(), reserved.end(), key) != reserved.end();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

void append_member(std::string& out, bool& first, std::string_view key, const boost::json::value& v) {
  if (!first) out.push_back(',');
  first = false;
  append_json_string(out, key);
  out.push_back(':');
  stringify_to(out, v);
}

// express-session's hash input: `JSON.stringify` of the session without its top-level `cookie`
// (keys in JavaScript's order). Compared as text, so changes are detected by content.
std::string hash_of(const boost::json::object& data) {
  std::string out;  // small data stays in the string's own buffer
  out.push_back('{');
  bool first = true;
  auto add = [&](std::string_view key, const boost::json::value& v) {
    if (key != "cookie") append_member(out, first, key, v);
  };
  if (std::none_of(data.begin(), data.end(), [](const auto& m) { return is_array_index(m.key()); })) {
    for (const auto& m : data) add(m.key(), m.value());  // insertion order is JavaScript's
  } else {
    for_each_member_js_order(data, add);
  }
  out.push_back('}');
  return out;
}

constexpr std::string_view record_head = "{\"cookie\":";

// Reads the plain cookie object at the start of a record into `out`; returns its length, or 0
// when it is not there in the plain form. An application's sessions share their cookie's shape
// and differ in the expiry only, so each thread remembers the last cookie it read and compares
// the text with it instead of parsing (only the expiry's 24 characters are read).
std::size_t read_leading_cookie(std::string_view json, session_cookie& out) {
  constexpr std::size_t npos = std::string_view::npos;
  constexpr std::size_t iso_size = 24;  // 2026-11-22T00:37:25.123Z
  if (json.substr(0, record_head.size()) != record_head) return 0;
  const std::string_view body = json.substr(record_head.size());
  struct remembered {
    std::string text;           // the cookie object as last read
    std::size_t iso_at = npos;  // where its expiry's ISO text starts, if it has one
    session_cookie cookie;
  };
  thread_local remembered last;
  const std::string_view known = last.text;
  if (!known.empty() && body.size() >= known.size()) {
    if (last.iso_at == npos) {
      if (body.substr(0, known.size()) == known) {
        out = last.cookie;
        return known.size();
      }
    } else if (body.substr(0, last.iso_at) == known.substr(0, last.iso_at) &&
               body.substr(last.iso_at + iso_size, known.size() - last.iso_at - iso_size) ==
                   known.substr(last.iso_at + iso_size)) {
      // Whatever parse_date accepts there holds no quote or backslash: the shape is the same.
      if (const auto when = parse_date(body.substr(last.iso_at, iso_size))) {
        out = last.cookie;
        out.expires = *when;
        return known.size();
      }
    }
  }
  const auto cookie_text = leading_cookie_json(json);
  if (!cookie_text) return 0;
  session_cookie revived;
  if (!revived.assign_from_plain_json(*cookie_text)) return 0;
  last.text.assign(*cookie_text);
  last.iso_at = npos;
  constexpr std::string_view expires_key = "\"expires\":\"";
  if (const std::size_t at = cookie_text->find(expires_key);
      at != npos && at + expires_key.size() + iso_size < cookie_text->size() &&
      (*cookie_text)[at + expires_key.size() + iso_size] == '"')
    last.iso_at = at + expires_key.size();
  last.cookie = revived;
  out = std::move(revived);
  return cookie_text->size();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// engine

engine::engine(options opts, std::shared_ptr<store> backing_store)
    : options_(std::move(opts)), store_(std::move(backing_store)), signer_(options_.secrets) {
  if (!store_) throw std::invalid_argument("a session store is required");
  for (const auto& secret : options_.secrets) {
    if (secret.size() < 32) {
      // Not fatal (express-session accepts any secret), but a short secret can be guessed.
      log(log_level::warning, "a session secret is only " + std::to_string(secret.size()) +
                                  " bytes long; use at least 32 random bytes");
      break;
    }
  }
  if (!is_valid_cookie_name(options_.name)) throw std::invalid_argument("argument name is invalid");
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
}

std::shared_ptr<session_context> engine::begin(const request_info& request) const {
  return std::make_shared<session_context>(*this, request);
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

std::optional<engine::cookie_read> engine::read_cookie(std::string_view cookie_header) const {
  thread_local std::string raw;  // the decoded cookie value; reused, no allocation per request
  if (!find_cookie(cookie_header, options_.name, raw)) return std::nullopt;
  if (raw.size() < 2 || raw.compare(0, 2, "s:") != 0) return std::nullopt;
  auto found = signer_.unsign_with_index(std::string_view(raw).substr(2));
  if (!found || found->first.empty()) return std::nullopt;
  cookie_read result{std::move(found->first), {}};
  const std::string_view signature = std::string_view(raw).substr(raw.rfind('.') + 1);
  if (found->second == 0 && signature.size() == 43) {
    result.signature.emplace();
    std::copy(signature.begin(), signature.end(), result.signature->begin());
  }
  return result;
}

std::optional<std::string> engine::read_session_id(std::string_view cookie_header) const {
  if (auto read = read_cookie(cookie_header)) return std::move(read->id);
  return std::nullopt;
}

std::string engine::make_id(const genid_context& context) const {
  return options_.genid ? options_.genid(context) : generate_id();
}

// ---------------------------------------------------------------------------------------------
// session_context: request start

session_context::session_context(const engine& owner, const request_info& request)
    : engine_(owner), secure_(owner.is_secure(request)) {
  // Only a custom genid sees the path (possibly later, in regenerate): copy it just then.
  if (engine_.options_.genid) path_ = request.path;
  const std::string_view path = request.path.empty() ? std::string_view("/") : request.path;
  if (path.substr(0, engine_.options_.cookie.path.size()) != engine_.options_.cookie.path) {
    step_ = step::skip;
    return;
  }
  if (!engine_.store_->ready()) {
    step_ = step::unavailable;
    return;
  }
  if (auto read = engine_.read_cookie(request.cookie_header)) {
    cookie_id_ = std::move(read->id);
    cookie_signature_ = read->signature;
    step_ = step::load;
  } else {
    generate();
    step_ = step::ready;
  }
}

void session_context::apply_cookie_options(session_cookie& cookie) const {
  const cookie_options& o = engine_.options_.cookie;
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

void session_context::reset_session(std::string id) {
  if (!session_) {
    session_.emplace(session(this, std::move(id)));
  } else {
    // The ids that shared the session's string keep the old id for themselves.
    if (cookie_id_is_session_id_ && original_id_is_session_id_) {
      cookie_id_ = session_->id_;
      original_id_ = std::move(session_->id_);
    } else if (cookie_id_is_session_id_) {
      cookie_id_ = std::move(session_->id_);
    } else if (original_id_is_session_id_) {
      original_id_ = std::move(session_->id_);
    }
    cookie_id_is_session_id_ = original_id_is_session_id_ = false;
    session_->id_ = std::move(id);
  }
  session_->data_.clear();
  session_->keys_before_cookie_.clear();
  apply_cookie_options(session_->cookie_);
}

void session_context::generate() {
  reset_session(engine_.make_id({path_, secure_}));
  original_id_is_session_id_ = true;
  original_hash_ = data_hash();
  saved_hash_.reset();
  present_ = true;
}

// The usual record, `{"cookie":{...plain...},...data}`: the cookie is read straight from its
// text and only the data goes through the JSON parser (most of a small record is its cookie).
bool session_context::assign_plain_record(session& target, std::string_view json, std::string* raw_hash) const {
  session_cookie revived;
  const std::size_t cookie_size = read_leading_cookie(json, revived);
  if (cookie_size == 0) return false;
  const std::string_view rest = json.substr(record_head.size() + cookie_size);
  boost::json::object data;
  std::string data_text = "{}";
  bool canonical = true;  // data_text is what JSON.stringify writes for `data`
  if (rest != "}") {
    if (rest.size() < 3 || rest[0] != ',' || rest[1] == '}') return false;  // `,}` is no JSON
    data_text.reserve(rest.size());
    data_text.resize(1);
    data_text.append(rest.substr(1));
    auto parsed = detail::parse_plain_flat_object(data_text);
    if (parsed) {
      canonical = std::none_of(parsed->get_object().begin(), parsed->get_object().end(),
                               [](const auto& m) { return is_array_index(m.key()); });
    } else {
      std::error_code ec;
      parsed = parse_json(data_text, ec);
      canonical = false;
    }
    if (!parsed || !parsed->is_object()) return false;
    data = std::move(parsed->get_object());
    if (data.contains("cookie")) return false;  // a second `cookie`: the general path decides
  }
  // The hash is JSON.stringify of the data as stored: the text itself when it is in that form.
  if (raw_hash) *raw_hash = canonical ? std::move(data_text) : hash_of(data);
  for (auto it = data.begin(); it != data.end();) {
    if (is_reserved_key(it->key())) it = data.stable_erase(it);
    else ++it;
  }
  target.cookie_ = std::move(revived);
  target.data_ = std::move(data);
  target.keys_before_cookie_.clear();
  return true;
}

bool session_context::assign_record(session& target, std::string_view json, std::string* raw_hash) const {
  if (assign_plain_record(target, json, raw_hash)) return true;
  std::error_code ec;
  auto parsed = parse_json(json, ec);
  if (!parsed || !parsed->is_object()) return false;
  auto& record = parsed->get_object();
  const auto* cookie = record.if_contains("cookie");
  if (!cookie || !cookie->is_object()) return false;
  session_cookie revived;
  if (!revived.assign_from_json(cookie->get_object())) return false;
  // express-session hashes the record as stored, reserved keys included: a record carrying
  // them counts as modified once they are dropped, and is saved again without them.
  if (raw_hash) *raw_hash = hash_of(record);
  std::vector<std::string> before_cookie;
  for (const auto& member : record) {
    if (member.key() == "cookie") break;
    if (!is_array_index(member.key()) && !is_reserved_key(member.key()))
      before_cookie.emplace_back(member.key());
  }
  // The record becomes the data: `cookie` and reserved keys leave, the rest keeps its order.
  record.stable_erase("cookie");
  for (auto it = record.begin(); it != record.end();) {
    if (is_reserved_key(it->key())) it = record.stable_erase(it);
    else ++it;
  }
  target.cookie_ = std::move(revived);
  target.data_ = std::move(record);
  target.keys_before_cookie_ = std::move(before_cookie);
  return true;
}

bool session_context::inflate(std::string_view json) {
  // The session takes the cookie's id string (see cookie_id()).
  if (!session_) session_.emplace(session(this, std::move(cookie_id_)));
  else session_->id_ = std::move(cookie_id_);
  cookie_id_is_session_id_ = true;
  if (!assign_record(*session_, json, &original_hash_)) return false;
  original_id_is_session_id_ = true;
  if (!engine_.options_.resave) saved_hash_ = original_hash_;
  present_ = true;
  return true;
}

std::error_code session_context::on_loaded(std::error_code ec, std::optional<std::string> json) {
  if (ec) return ec;
  if (json && !inflate(*json)) {
    log(log_level::warning,
        "stored session " + redact_id(cookie_id()) + " is not a valid session record; starting a new session");
    json.reset();
  }
  if (!json) generate();  // unknown, expired or broken: a new id, never the cookie's
  step_ = step::ready;
  return {};
}

std::optional<std::error_code> session_context::try_load() {
  switch (step_) {
    case step::unavailable: return make_error_code(error::store_unavailable);
    case step::load: break;
    default: return std::error_code{};
  }
  auto answer = engine_.store_->try_get(cookie_id());
  if (!answer) return std::nullopt;
  return on_loaded(answer->error, std::move(answer->json));
}

void session_context::load(completion_handler handler) {
  if (step_ == step::unavailable) {
    engine_.store_->defer([h = std::move(handler)]() mutable { h(error::store_unavailable); });
    return;
  }
  if (step_ != step::load) {
    engine_.store_->defer([h = std::move(handler)]() mutable { h({}); });
    return;
  }
  engine_.store_->get(cookie_id(), [self = shared_from_this(), h = std::move(handler)](
                                      std::error_code ec, std::optional<std::string> json) mutable {
    h(self->on_loaded(ec, std::move(json)));
  });
}

// ---------------------------------------------------------------------------------------------
// session_context: the decisions (express-session's shouldSetCookie / shouldSave / ...)

std::string session_context::data_hash() const { return hash_of(session_->data_); }

const std::string& session_context::end_hash() const {
  if (!end_hash_) end_hash_ = data_hash();
  return *end_hash_;
}

bool session_context::is_modified() const {
  return original_id() != session_->id_ || original_hash_ != end_hash();
}

bool session_context::is_saved() const {
  return original_id() == session_->id_ && saved_hash_ && *saved_hash_ == end_hash();
}

bool session_context::should_set_cookie() const {
  const auto& o = engine_.options_;
  if (cookie_id() != session_->id_) return o.save_uninitialized || is_modified();
  return o.rolling || (session_->cookie_.expires && is_modified());
}

bool session_context::should_save() const {
  if (!engine_.options_.save_uninitialized && !saved_hash_ && cookie_id() != session_->id_)
    return is_modified();
  return !is_saved();
}

bool session_context::should_touch() const {
  return cookie_id() == session_->id_ && !should_save();
}

bool session_context::should_destroy() const {
  return !present_ && engine_.options_.unset == unset_action::destroy;
}

session_record session_context::make_record() const {
  return {session_->to_json(end_hash_ ? &*end_hash_ : nullptr), session_->cookie_.expires};
}

std::error_code session_context::check_size(const session_record& record) const {
  const std::size_t limit = engine_.options_.max_session_bytes;
  if (limit != 0 && record.json.size() > limit) {
    log(log_level::warning, "session " + redact_id(session_->id_) + " is " +
                                std::to_string(record.json.size()) + " bytes, over the limit of " +
                                std::to_string(limit) + "; not saved");
    return error::session_too_large;
  }
  return {};
}

end_plan session_context::plan_end() { return make_plan(true); }

end_plan session_context::make_plan(bool copy_id) {
  end_plan plan;
  if (!session_ || session_->id_.empty()) return plan;
  end_hash_.reset();
  struct forget_hash {  // the handler may change the data again after a session.save()
    std::optional<std::string>& hash;
    ~forget_hash() { hash.reset(); }
  } forget{end_hash_};
  // Carried out here, the plan can use the session's own id (which no longer changes).
  if (copy_id) plan.id = session_->id_;
  if (present_ && should_set_cookie()) {
    if (session_->cookie_.secure.value_or(false) && !secure_) {
      // A secure cookie over an insecure request is not sent; the session is still saved.
    } else {
      if (!touched_) {
        session_->touch();
        touched_ = true;
      }
      try {
        thread_local std::string value;  // "s:id.signature"; reused, no allocation
        value.assign("s:");
        if (cookie_signature_ && session_->id_ == cookie_id()) {
          value.append(session_->id_).append(".").append(cookie_signature_->data(), cookie_signature_->size());
        } else {
          value.append(engine_.signer_.sign(session_->id_));
        }
        plan.set_cookie = serialize_set_cookie(engine_.options_.name, value, session_->cookie_.attributes());
      } catch (const invalid_cookie& e) {
        plan.cookie_error = error::invalid_cookie_option;
        log(log_level::error, std::string("session cookie not sent: ") + e.what());
      }
    }
  }
  if (should_destroy()) {
    plan.operation = store_operation::destroy;
    return plan;
  }
  if (!present_) return plan;
  if (!touched_) {
    session_->touch();
    touched_ = true;
  }
  if (should_save()) {
    plan.operation = store_operation::save;
    plan.record = make_record();
  } else if (engine_.store_->has_touch() && should_touch()) {
    plan.operation = store_operation::touch;
    plan.record = make_record();
  }
  return plan;
}

std::string_view session_context::plan_id(const end_plan& plan) const {
  if (!plan.id.empty() || !session_) return plan.id;
  return session_->id_;
}

end_plan& session_context::planned() {
  if (!plan_) plan_ = make_plan(false);
  return *plan_;
}

std::optional<end_result> session_context::try_end() {
  end_plan& plan = planned();
  store& s = *engine_.store_;
  const std::string_view id = plan_id(plan);
  std::optional<std::error_code> done;
  switch (plan.operation) {
    case store_operation::none: done = std::error_code{}; break;
    case store_operation::save:
      if (auto ec = check_size(plan.record)) done = ec;
      else done = s.try_set(id, plan.record);
      break;
    case store_operation::touch: done = s.try_touch(id, plan.record); break;
    case store_operation::destroy: done = s.try_destroy(id); break;
  }
  if (!done) return std::nullopt;  // end() carries out the plan
  end_result result;
  // A failed write withholds the cookie: the response becomes an error, nothing is claimed.
  if (*done) result.error = *done;
  else result.set_cookie = std::move(plan.set_cookie);
  plan_.reset();
  return result;
}

void session_context::end(
    detail::unique_function<void(std::error_code, std::optional<std::string>)> handler) {
  end_plan plan = std::move(planned());
  plan_.reset();
  store& s = *engine_.store_;
  // The context (and so the session's id) lives until the completion: `finish` holds it.
  const std::string_view id = plan_id(plan);
  auto finish = [self = shared_from_this(), h = std::move(handler),
                 cookie = std::move(plan.set_cookie)](std::error_code ec) mutable {
    // A failed write withholds the cookie: the response becomes an error, nothing is claimed.
    if (ec) h(ec, std::nullopt);
    else h({}, std::move(cookie));
  };
  switch (plan.operation) {
    case store_operation::none:
      s.defer([f = std::move(finish)]() mutable { f({}); });
      return;
    case store_operation::save:
      if (auto ec = check_size(plan.record)) {
        s.defer([f = std::move(finish), ec]() mutable { f(ec); });
        return;
      }
      s.set(id, std::move(plan.record), std::move(finish));
      return;
    case store_operation::touch:
      s.touch(id, std::move(plan.record), std::move(finish));
      return;
    case store_operation::destroy:
      s.destroy(id, std::move(finish));
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// session: express-session's methods

std::string session::to_json() const { return to_json(nullptr); }

std::string session::to_json(const std::string* data_json) const {
  // JSON.stringify of the session: array-index keys first (ascending), then `cookie` and the
  // other keys in insertion order (`cookie` after the keys a loaded record had before it).
  std::string out;
  if (data_json && keys_before_cookie_.empty() && data_json->size() >= 2 &&
      std::none_of(data_.begin(), data_.end(), [](const auto& m) { return is_array_index(m.key()); })) {
    // The usual shape: `cookie` first, then the data exactly as `data_json` (the hash) has it.
    out.reserve(data_json->size() + 128);
    out += "{\"cookie\":";
    cookie_.append_json(out);
    if (data_json->size() > 2) out.push_back(',');
    out.append(*data_json, 1);
    return out;
  }
  out.reserve(128);
  out.push_back('{');
  bool first = true;
  bool cookie_written = false;
  auto write_cookie = [&] {
    if (!first) out.push_back(',');
    first = false;
    out += "\"cookie\":";
    cookie_.append_json(out);
    cookie_written = true;
  };
  for_each_member_js_order(data_, [&](std::string_view key, const boost::json::value& v) {
    if (key == "cookie") return;
    if (!cookie_written && !is_array_index(key) &&
        std::find(keys_before_cookie_.begin(), keys_before_cookie_.end(), key) == keys_before_cookie_.end())
      write_cookie();
    append_member(out, first, key, v);
  });
  if (!cookie_written) write_cookie();
  out.push_back('}');
  return out;
}

bool session::erase(std::string_view key) { return data_.stable_erase(key) != 0; }

void session::save(completion_handler handler) {
  session_context& ctx = *owner_;
  ctx.saved_hash_ = ctx.data_hash();
  session_record record = ctx.make_record();
  store& s = *ctx.engine_.store_;
  if (auto ec = ctx.check_size(record)) {
    s.defer([h = std::move(handler), ec]() mutable { h(ec); });
    return;
  }
  s.set(id_, std::move(record),
        [self = ctx.shared_from_this(), h = std::move(handler)](std::error_code ec) mutable { h(ec); });
}

void session::reload(completion_handler handler) {
  session_context& ctx = *owner_;
  ctx.engine_.store_->get(id_, [self = ctx.shared_from_this(), h = std::move(handler)](
                                   std::error_code ec, std::optional<std::string> json) mutable {
    if (ec) return h(ec);
    if (!json) return h(error::failed_to_load_session);
    if (!self->assign_record(*self->session_, *json)) {
      log(log_level::warning, "reload: stored session " + redact_id(self->session_->id_) +
                                  " is not a valid session record");
      return h(error::invalid_record);
    }
    self->present_ = true;
    h({});
  });
}

void session::regenerate(completion_handler handler) {
  session_context& ctx = *owner_;
  ctx.engine_.store_->destroy(id_, [self = ctx.shared_from_this(),
                                    h = std::move(handler)](std::error_code ec) mutable {
    // As in express-session the new session is made even when the destroy failed.
    self->reset_session(self->engine_.make_id({self->path_, self->secure_}));
    self->present_ = true;
    h(ec);
  });
}

void session::destroy(completion_handler handler) {
  session_context& ctx = *owner_;
  ctx.present_ = false;
  ctx.engine_.store_->destroy(id_, [self = ctx.shared_from_this(),
                                    h = std::move(handler)](std::error_code ec) mutable { h(ec); });
}

}  // namespace sessionkit
