#pragma once
/// @file engine.hpp
/// The framework-free core: at request start it reads the cookie and says whether a session must
/// be loaded; at response end it decides save / touch / destroy and `Set-Cookie` exactly as
/// express-session does. It performs no I/O itself; the store does, through the calls below.

#include <sessionkit/options.hpp>
#include <sessionkit/session.hpp>
#include <sessionkit/signer.hpp>
#include <sessionkit/store.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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
};

/// Whether the first value of `X-Forwarded-Proto` (all values joined with ", ") is `https`, in any
/// case: what a trusted proxy says about the client's connection (Express's `req.protocol`).
SESSIONKIT_API bool forwarded_proto_is_https(std::string_view joined_values) noexcept;

class session_context;

/// Holds the validated options, the signer and the store; shared by all requests and threads.
class SESSIONKIT_API engine {
 public:
  /// @throws std::invalid_argument for a bad configuration (no secret, invalid cookie name,
  ///         domain, path, priority or sameSite), with the message express-session gives
  engine(options opts, std::shared_ptr<store> backing_store);

  /// Starts a request: reads the session cookie. Then call `session_context::load()` (or
  /// `first_step()` / `on_loaded()`), run the handler, and call `end()`.
  std::shared_ptr<session_context> begin(const request_info& request) const;

  const options& settings() const noexcept { return options_; }
  store& backing_store() const noexcept { return *store_; }
  const signer& cookie_signer() const noexcept { return signer_; }

  /// express-session's `issecure(req)`.
  bool is_secure(const request_info& request) const noexcept;

  /// The id read from a `Cookie` header: the first cookie with our name, `s:`-prefixed, with a
  /// signature from one of the secrets. Anything else means no id.
  std::optional<std::string> read_session_id(std::string_view cookie_header) const;

 private:
  struct cookie_read {
    std::string id;
    // The cookie's signature, kept when the first secret made it (43 characters).
    std::optional<std::array<char, 43>> signature;
  };
  std::optional<cookie_read> read_cookie(std::string_view cookie_header) const;
  friend class session_context;
  friend class session;
  std::string make_id(const genid_context& context) const;

  options options_;
  std::shared_ptr<store> store_;
  signer signer_;
};

/// What the end of a request does to the store.
enum class store_operation { none, save, touch, destroy };

/// The end-of-request decision (express-session's header hook plus its `res.end` wrapper).
struct end_plan {
  store_operation operation = store_operation::none;
  std::string id;
  session_record record;                  ///< for save and touch
  std::optional<std::string> set_cookie;  ///< the `Set-Cookie` value to append, if any
  /// Set when the cookie could not be serialised (bad domain, say): no cookie is sent, the rest
  /// of the response is unaffected (as in express-session).
  std::error_code cookie_error;
};

/// The result of ending a request: the store error (the response must then fail), or the
/// `Set-Cookie` value to append, if any.
struct end_result {
  std::error_code error;
  std::optional<std::string> set_cookie;
};

/// The per-request state: the session (if any) and what express-session tracks to decide the
/// end of the request. Used from one thread at a time (the request's).
class SESSIONKIT_API session_context : public std::enable_shared_from_this<session_context> {
 public:
  /// What the request needs next.
  enum class step {
    skip,  ///< the path is outside `cookie.path`: no session at all
    load,  ///< load `id_to_load()` from the store, then call `on_loaded()`
    ready,       ///< a new session was made; nothing to load
    unavailable  ///< the store is not ready: answer 503 (`error::store_unavailable`)
  };

  session_context(const engine& owner, const request_info& request);
  session_context(const session_context&) = delete;
  session_context& operator=(const session_context&) = delete;

  step first_step() const noexcept { return step_; }
  const std::string& id_to_load() const noexcept { return cookie_id(); }

  /// Takes the store's answer to `get(id_to_load())`. No record, or a record that is not a
  /// valid session (logged), makes a new session with a new id.
  /// @return the store's error (the request should fail: 503 when `is_unavailable`).
  std::error_code on_loaded(std::error_code ec, std::optional<std::string> json);

  /// `first_step()` + store `get` + `on_loaded()`; completes with the store error if any.
  void load(completion_handler handler);

  /// `load()` finished inside the call when no store call is needed or the store answers at
  /// once (`store::try_get`): the error `load()` would complete with. Nothing: call `load()`.
  std::optional<std::error_code> try_load();

  /// The session, or nullptr when there is none (path skipped, destroyed or unset).
  session* current() noexcept { return present_ ? &*session_ : nullptr; }

  /// `req.session = null`: with `unset_action::destroy` the stored session is destroyed at the
  /// end of the request; with `keep` the store is left as it is.
  void unset_session() noexcept { present_ = false; }

  /// Decides the end of the request (touches the cookie as express-session does). Call once.
  end_plan plan_end();

  /// `plan_end()`, then the store operation. Completes with the store error (the response must
  /// then fail) or with the `Set-Cookie` value to append.
  /// After an unanswered `try_end()` it carries out the plan that one made.
  void end(detail::unique_function<void(std::error_code, std::optional<std::string>)> handler);

  /// `end()` finished inside the call when the store operation needs no waiting
  /// (`store::try_set`, ...). Nothing: call `end()`, which carries out the same plan.
  std::optional<end_result> try_end();

  const engine& owner() const noexcept { return engine_; }

 private:
  friend class session;

  void generate();
  bool inflate(std::string_view json);
  std::string data_hash() const;
  // The data's hash, computed once per end-of-request decision (the data cannot change then).
  const std::string& end_hash() const;
  bool is_modified() const;
  bool is_saved() const;
  bool should_set_cookie() const;
  bool should_save() const;
  bool should_touch() const;
  bool should_destroy() const;
  session_record make_record() const;
  end_plan& planned();
  end_plan make_plan(bool copy_id);
  std::string_view plan_id(const end_plan& plan) const;
  std::error_code check_size(const session_record& record) const;
  void reset_session(std::string id);
  bool assign_record(session& target, std::string_view json, std::string* raw_hash = nullptr) const;
  bool assign_plain_record(session& target, std::string_view json, std::string* raw_hash) const;
  void apply_cookie_options(session_cookie& cookie) const;

  const engine& engine_;
  std::string path_;
  bool secure_ = false;
  step step_ = step::skip;
  // The cookie's id and the original id (at generation or load) are usually the session's own
  // id string; they get their own copy only once the session's id changes (regenerate), so a
  // request copies no id.
  const std::string& cookie_id() const noexcept {
    return cookie_id_is_session_id_ ? session_->id_ : cookie_id_;
  }
  const std::string& original_id() const noexcept {
    return original_id_is_session_id_ ? session_->id_ : original_id_;
  }
  std::string cookie_id_;    // the id the cookie carried (empty: none), unless in the session
  bool cookie_id_is_session_id_ = false;
  bool original_id_is_session_id_ = false;
  // The cookie's signature when the first secret made it: the same bytes a new signature
  // would be, so an unchanged id is not signed again.
  std::optional<std::array<char, 43>> cookie_signature_;
  std::string original_id_;  // the id when the session was generated or loaded, unless in the session
  std::string original_hash_;
  std::optional<std::string> saved_hash_;
  mutable std::optional<std::string> end_hash_;
  std::optional<end_plan> plan_;  // made by try_end() and not yet carried out
  bool touched_ = false;
  bool present_ = false;
  std::optional<session> session_;
};

}  // namespace sessionkit
