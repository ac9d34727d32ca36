#pragma once
/// @file engine.hpp
/// The decisions, with no I/O. `engine` holds what all requests share (options, signer, the
/// store to use); `session_state` is one request's session and everything express-session
/// tracks about it: at request start it says "no session here", "a new session" or "load this
/// id"; the loaded record goes in; at response end `plan_end()` gives the plan (store operation,
/// id, record, `Set-Cookie`) exactly as express-session decides. Nothing here calls a store:
/// `request_driver` (request_driver.hpp) carries the plans out, and the decisions are tested as
/// plain values, with no store at all.
///
/// What a request saves, and why, is answered in one place: `session_state::plan_end()` in
/// src/core/session_state.cpp.

#include <sessionkit/cookie_memo.hpp>
#include <sessionkit/options.hpp>
#include <sessionkit/session.hpp>
#include <sessionkit/signer.hpp>
#include <sessionkit/store.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sessionkit {

/// What the engine needs from an HTTP request. The views must stay valid during `begin()`.
struct request_info {
  std::string_view path;             ///< the URL path, without the query
  std::string_view cookie_header;    ///< all `Cookie` headers joined with "; "
  std::string_view forwarded_proto;  ///< all `X-Forwarded-Proto` headers joined with ", "
  bool tls = false;                  ///< the connection itself is TLS
  /// The adapter's own answer to "is this request secure" (TLS, or its trust-proxy setting with
  /// X-Forwarded-Proto); used when `options::proxy` is unset.
  bool adapter_secure = false;
  /// The value of the `options::id_header` header (all of them joined with ", "), when the
  /// transport reads it; empty otherwise.
  std::string_view id_header;
  /// The connection's memo of the id it last verified, when the adapter keeps one (then a
  /// keep-alive client's unchanged cookie is not verified again); null: verify every request.
  cookie_memo* memo = nullptr;
};

/// Whether the first value of `X-Forwarded-Proto` (all values joined with ", ") is `https`, in any
/// case: what a trusted proxy says about the client's connection (Express's `req.protocol`).
SESSIONKIT_API bool forwarded_proto_is_https(std::string_view joined_values) noexcept;

class request_driver;

/// A verified session cookie.
struct signed_cookie {
  std::string id;
  /// The cookie's signature when the first secret made it (43 characters): the bytes a new
  /// signature of the same id would be, so an unchanged id need not be signed again.
  std::optional<std::array<char, 43>> signature;
  /// Whether a secret other than the first verified it (rotation).
  bool old_secret = false;
};

/// One session of a user, as `engine::sessions_of` lists it.
struct user_session {
  std::string id;  ///< the session's key in the store: its id (its hash with `options::id_hash_key`)
  std::optional<timestamp> created;    ///< its login (creation) time, when the record keeps it
  std::optional<timestamp> last_seen;  ///< its last request (to a minute), when the record keeps it
  std::optional<timestamp> expires;    ///< when the store forgets it, when the store knows
  boost::json::object data;            ///< its data (what the application keeps: a user agent, ...)
};

/// Completion of `engine::sessions_of`: the sessions, oldest login first.
using user_sessions_handler = detail::unique_function<void(std::error_code, std::vector<user_session>)>;
/// Completion of `engine::destroy_all_of` and the like: how many sessions were ended.
using count_handler = detail::unique_function<void(std::error_code, std::size_t)>;

/// Holds the validated options, the signer and the store; shared by all requests and threads.
class SESSIONKIT_API engine {
 public:
  /// @throws std::invalid_argument for a bad configuration (no secret, invalid cookie name,
  ///         domain, path, priority or sameSite), with the message express-session gives,
  ///         when `backing_store` is empty, or when it lacks what `options::concurrency` needs
  engine(options opts, std::shared_ptr<store> backing_store);

  /// An engine that only decides (`session_state`), for tests and tools: `begin()` needs a store.
  /// @throws std::invalid_argument as above
  explicit engine(options opts);

  /// Starts a request: reads the session cookie and returns the request's driver (load, run the
  /// handler, end). Defined with the driver.
  /// @throws std::logic_error when the engine has no store
  std::shared_ptr<request_driver> begin(const request_info& request) const;

  const options& settings() const noexcept { return options_; }
  /// The store. @throws std::logic_error when the engine has none
  store& backing_store() const;
  const signer& cookie_signer() const noexcept { return signer_; }

  /// express-session's `issecure(req)`.
  bool is_secure(const request_info& request) const noexcept;

  /// The session cookie in a `Cookie` header: the first cookie with our name, `s:`-prefixed,
  /// with a signature from one of the secrets. Anything else means none.
  /// @param memo the connection's memo (`request_info::memo`), or null
  std::optional<signed_cookie> read_cookie(std::string_view cookie_header, cookie_memo* memo = nullptr) const;

  /// A signed id as the `options::id_header` header carries it (`s:<id>.<signature>`, or that
  /// after `Bearer `), verified with the secrets. Anything else means none.
  std::optional<signed_cookie> read_signed_value(std::string_view value, cookie_memo* memo = nullptr) const;

  /// Whether the transport reads the id header (then adapters fill `request_info::id_header`).
  bool reads_id_header() const noexcept { return options_.transport != id_transport::cookie; }

  /// The id `read_cookie` finds, if any.
  std::optional<std::string> read_session_id(std::string_view cookie_header) const;

  /// The store's key for session `id`: the id itself, or its keyed hash (`options::id_hash_key`).
  std::string store_key(std::string_view id) const;
  /// Whether ids are hashed at rest (`options::id_hash_key`).
  bool hashes_ids() const noexcept { return !options_.id_hash_key.empty(); }

  /// A new session id: `options::genid`'s, or 24 CSPRNG bytes in base64url.
  std::string make_id(const genid_context& context) const;

  /// @name A user's sessions (the store's user index; `error::not_supported` without one)
  /// @{
  /// The live sessions of `user` (`session::set_user`), oldest login first. Costs that user's
  /// sessions, never a walk over the store.
  void sessions_of(std::string_view user, user_sessions_handler handler) const;
  /// "Log out everywhere": destroys every session of `user` but `keep_id` (the request's own
  /// session, to stay logged in here; empty: none kept). Completes with how many were ended.
  void destroy_all_of(std::string_view user, std::string_view keep_id, count_handler handler) const;
  /// `options::max_sessions_per_user` after `user` logged in with session `keep_id`: ends the
  /// oldest sessions beyond the limit, never `keep_id`.
  void end_sessions_over_limit(std::string_view user, std::string_view keep_id, count_handler handler) const;
  /// @}

  /// Whether lifecycle events are wanted (`options::on_event`).
  bool wants_events() const noexcept { return events_ != nullptr; }
  /// Queues a lifecycle event for session `id` (its user: `data`'s top-level "user" string).
  void emit(session_event_kind kind, std::string_view id, const boost::json::object* data, std::string reason) const;
  /// `emit` for a session known by its store key (`store_key(id)`, as listings give it), so its
  /// events carry the same `id_hash` as the ones emitted by id.
  void emit_stored(session_event_kind kind, std::string_view key, const boost::json::object* data,
                   std::string reason) const;
  /// Waits until every event so far has reached `options::on_event` (tests, shutdown).
  void flush_events() const;

 private:
  engine(options opts, std::shared_ptr<store> backing_store, std::nullptr_t);  // validates
  void check_concurrency() const;

  options options_;
  std::shared_ptr<store> store_;
  signer signer_;
  std::shared_ptr<event_dispatcher> events_;  // with options::on_event
  // Names this engine (its secrets) in connections' cookie memos; never reused, unlike an address.
  std::uint64_t serial_;
};

/// What the end of a request does to the store.
enum class store_operation { none, save, touch, destroy };

/// The end-of-request decision (express-session's header hook plus its `res.end` wrapper).
struct end_plan {
  store_operation operation = store_operation::none;
  /// The session the operation is about. Views the state's id: valid while the state lives.
  std::string_view id;
  session_record record;                  ///< for save and touch
  /// For save: replace only a live record (a loaded session: a destroy meanwhile stays final)
  /// or insert only where none is (a new session).
  write_condition condition = write_condition::always;
  std::optional<std::string> set_cookie;  ///< the `Set-Cookie` value to append, if any
  /// The signed id to send in the `options::id_header` response header (header transports).
  std::optional<std::string> id_header;
  /// Set when the request must fail without any store operation (`error::session_too_large`):
  /// then no cookie is sent either.
  std::error_code error;
  /// Set when the cookie could not be serialised (bad domain, say): no cookie is sent, the rest
  /// of the response is unaffected (as in express-session).
  std::error_code cookie_error;
};

/// One request's session and what express-session tracks to decide the end of the request:
/// the id the cookie carried, the data as loaded and as last saved. Plain state, no I/O; used
/// from one thread at a time.
class SESSIONKIT_API session_state {
 public:
  /// What the request needs next.
  enum class step {
    skip,        ///< the path is outside `cookie.path`: no session at all
    load,        ///< load `id_to_load()` from the store, then call `on_loaded()`
    ready,       ///< a session is in place (new, or loaded)
    unavailable  ///< the store is not ready: answer 503 (`error::store_unavailable`)
  };

  /// Reads the request's cookie and decides the first step.
  /// @param store_ready whether the store can take requests now (`store::ready()`)
  /// @param driver what the session's methods (`save()`, ...) go through; may be null when
  ///        nothing calls them (decision tests)
  session_state(const engine& owner, const request_info& request, bool store_ready,
                request_driver* driver = nullptr);
  session_state(const session_state&) = delete;
  session_state& operator=(const session_state&) = delete;

  step first_step() const noexcept { return step_; }
  /// The id to load (the cookie's) while `first_step()` is `load`.
  const std::string& id_to_load() const noexcept { return session_.id(); }
  /// The session's id (empty when the path has no session).
  const std::string& id() const noexcept { return session_.id(); }

  /// Takes the record loaded for `id_to_load()` (none: no live session with that id). No record,
  /// one that is not a valid session (logged), or one past `idle_timeout` or `absolute_timeout`
  /// makes a new session with a new id.
  void on_loaded(std::optional<std::string_view> json);

  /// After `on_loaded()`: the id of a record that timed out (the store must destroy it), or "".
  const std::string& timed_out_id() const noexcept { return timed_out_id_; }
  /// Why it timed out ("idle timeout", "absolute timeout") and the data it had (for events).
  const char* timed_out_reason() const noexcept { return timed_out_reason_; }
  const boost::json::object& timed_out_data() const noexcept { return timed_out_data_; }

  /// The session, or nullptr when there is none (path skipped, not loaded, destroyed or unset).
  session* current() noexcept { return present_ ? &session_ : nullptr; }
  /// The session's data, also after a destroy or unset (for events).
  const boost::json::object& session_data() const noexcept { return session_.data_; }

  /// `req.session = null`: with `unset_action::destroy` the stored session is destroyed at the
  /// end of the request; with `keep` the store is left as it is.
  void unset_session() noexcept { present_ = false; }

  /// Decides the end of the request and touches the cookie as express-session does.
  /// @param store_has_touch whether the store implements `touch` (`store::has_touch()`)
  end_plan plan_end(bool store_has_touch);

  /// @name The state changes of the session's methods (the driver does their store calls)
  /// @{
  /// `save()`: the record to store; the current data counts as saved from now on.
  /// @return `error::session_too_large` (nothing to store) or no error
  std::error_code prepare_save(session_record& out);
  /// `reload()`: takes the stored record. @return `failed_to_load_session` when there is none,
  /// `invalid_record` when it is not a session (logged)
  std::error_code on_reloaded(std::optional<std::string_view> json);
  /// `regenerate()`: a new id and a new session with no data (after the old id's destroy).
  void regenerate();
  /// `renew()`: a new id, the data kept (the driver stores it, then leaves
  /// `forwarding_record()` under the old id). @return the old id
  std::string renew();
  /// What stays under a renewed session's old id for `options::renew_grace`: the session's
  /// cookie and its new id (`session_keys::renewed_to`), expiring at the end of the grace.
  session_record forwarding_record(std::string_view old_id) const;
  /// After `on_loaded()`: the session's id is due for renewal (`options::renew_interval`).
  bool renew_due() const noexcept { return renew_due_; }
  /// `destroy()`: the request has no session any more.
  void on_destroyed() noexcept {
    present_ = false;
    destroyed_ = true;
  }
  /// A save of the session was stored (later saves replace it).
  void on_saved() noexcept { stored_ = true; }
  /// The user a save planned since the last call logs in (`session::set_user` was called and
  /// the record goes to the store), or empty; cleared by the call. For
  /// `options::max_sessions_per_user`.
  std::string take_login() noexcept { return std::exchange(new_login_, std::string()); }
  /// @}

  /// @name Merge (`concurrency_mode::merge`)
  /// @{
  /// The record the store holds for the session as far as this request knows (loaded, or
  /// last written, or found by a failed compare-and-set): what a compare-and-set expects.
  const std::string& expected_record() const noexcept { return expected_record_; }
  /// `record`'s text is now what the store holds (a write of it succeeded).
  void on_written(std::string record_json);
  /// Another request stored `current` since this one read the session: makes `out` the record
  /// to write instead: `current`'s data with this request's own changes put back key by key
  /// (the top-level keys it added, changed or deleted since it last read or wrote the record;
  /// the same key changed on both sides: this request's value), and this request's cookie.
  /// The session's data becomes the merged data.
  /// @return `error::invalid_record` when `current` is not a session record (logged; nothing to
  ///         merge into), `error::session_too_large`, or no error
  std::error_code rebase(std::string_view current, session_record& out);
  /// How a save of the session may write: over its live record when it has one in the store
  /// (loaded or saved), else only where none is.
  write_condition save_condition() const noexcept {
    return stored_ ? write_condition::if_present : write_condition::if_absent;
  }
  /// @}

  const engine& owner() const noexcept { return engine_; }

 private:
  void generate();
  void reset_session(std::string id);
  void apply_cookie_options(session_cookie& cookie) const;
  bool is_modified(const std::string& data_text) const;
  bool is_saved(const std::string& data_text) const;
  bool should_set_cookie(const std::string& data_text) const;
  bool should_save(const std::string& data_text) const;
  std::optional<std::string> make_set_cookie(end_plan& plan);
  std::optional<std::string> make_clearing_cookie(end_plan& plan) const;
  std::error_code check_size(const session_record& record) const;
  // Timeouts (options::idle_timeout, absolute_timeout): the times kept in the record.
  bool keeps_times() const noexcept;
  void stamp_times();                            // a new session: created and seen now
  const char* timed_out(timestamp at) const;     // a loaded session: why it ended, or nullptr
  void note_seen(timestamp at);                  // a loaded session: seen now (when stale)
  std::optional<timestamp> record_expires() const;  // the store's expiry for the record
  session_record make_record(const std::string& data_text) const;
  void note_user(const session_record& record);  // a record to be written: a login?
  void mark_index(session_record& record);        // may a store that keeps its index apart skip it?
  std::chrono::milliseconds stale_after() const noexcept;  // how old "last seen" gets before a rewrite
  bool follow_forward();  // a loaded record of a renewed id: load the new id instead

  const engine& engine_;
  std::string path_;  // copied only for a custom genid (which sees it)
  bool secure_ = false;
  step step_ = step::skip;
  // express-session compares the session's id with the cookie's and with the id the session had
  // when generated or loaded. Until the id first changes (regenerate, or a new session in place
  // of an unknown one) both are the session's own id, so a request copies no id; a change keeps
  // copies of them.
  bool had_cookie_ = false;                 // the request carried a verified session cookie
  std::optional<std::string> cookie_id_;    // its id, once the session's id was replaced
  std::optional<std::string> original_id_;  // the generated or loaded id, once replaced
  bool is_cookie_id() const noexcept { return had_cookie_ && (!cookie_id_ || *cookie_id_ == session_.id()); }
  bool is_original_id() const noexcept { return !original_id_ || *original_id_ == session_.id(); }
  // Whether the cookie verified with an older secret (see `options::resign_old_secrets`).
  bool old_secret_ = false;
  // The cookie's signature when the first secret made it (see `signed_cookie`).
  std::optional<std::array<char, 43>> cookie_signature_;
  // The data's text (`record::data_text`) when generated or loaded, and when last saved.
  std::string original_data_;
  std::optional<std::string> saved_data_;
  bool touched_ = false;
  bool present_ = false;
  bool destroyed_ = false;  // destroy() was called
  bool stored_ = false;  // the session's id has a record in the store (loaded, or saved)
  // merge only: the record the store holds as far as this request knows (its data is the base
  // this request's own changes are measured from).
  bool merging_ = false;
  std::string expected_record_;
  bool forwarded_ = false;   // the cookie's id was renewed: its forward was followed
  bool seen_written_ = false;  // "last seen" was (re)written since the last index refresh
  bool renew_due_ = false;   // see renew_due()
  std::string new_login_;    // see take_login()
  std::string timed_out_id_;  // a loaded record past a timeout, to destroy
  const char* timed_out_reason_ = nullptr;
  boost::json::object timed_out_data_;  // its data, kept only when events are wanted
  session session_;
};

}  // namespace sessionkit

// `engine::begin()` returns the driver: whoever includes the engine can drive a request.
#include <sessionkit/request_driver.hpp>
