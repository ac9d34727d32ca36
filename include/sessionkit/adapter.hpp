#pragma once
/// @file adapter.hpp
/// What every HTTP adapter shares: joining repeated headers as Node does, describing the
/// request to the engine, the answer for a store error, and the session side of a request as
/// a handler sees it. An adapter is then a short file that maps its framework's request and
/// response onto these and drives the request with `request_driver` (see README, "Writing an
/// adapter").

#include <sessionkit/request_driver.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace sessionkit::adapter {

/// The values of one header, joined with a separator as Node joins repeated headers (`Cookie`
/// with "; ", others with ", "). One value is kept as a view (no copy); the views must stay
/// valid while the joined value is used.
class joined_header {
 public:
  explicit joined_header(std::string_view separator) noexcept : separator_(separator) {}

  void add(std::string_view value) {
    if (count_++ == 0) {
      first_ = value;
      return;
    }
    if (count_ == 2) joined_.assign(first_);
    joined_.append(separator_).append(value);
  }

  /// The joined value (empty when the header was absent).
  std::string_view value() const noexcept { return count_ > 1 ? std::string_view(joined_) : first_; }

 private:
  std::string_view separator_;
  std::string_view first_;
  std::string joined_;
  int count_ = 0;
};

/// The path of a request target, as Node's `parseurl(req).pathname` gives it: the origin form
/// (`/a/b?q`) up to its query, and of the absolute form (`http://host:port/a/b?q`, RFC 9112
/// section 3.2.2) the path alone (`/` when it has none). Routing and the `cookie.path` gate use
/// it. Other forms (`*`, `host:port`) are returned as they are.
SESSIONKIT_API std::string_view path_of_target(std::string_view target) noexcept;

/// Where the path starts in an absolute-form target (`http://host/...`): the length of its
/// `scheme://authority` part, or 0 for any other form.
SESSIONKIT_API std::size_t absolute_form_prefix(std::string_view target) noexcept;

/// Whether Express's `req.protocol` is `https` behind a trusted proxy: the first value of
/// `X-Forwarded-Proto` (all values joined with ", "), trimmed, compared case-sensitively as
/// Express 4 does (`HTTPS` is not `https` there; express-session's own `proxy` option, which
/// lower-cases, is `forwarded_proto_is_https`).
SESSIONKIT_API bool express_protocol_is_https(std::string_view forwarded_proto) noexcept;

/// The request as the engine needs it.
/// @param target the request target, in origin or absolute form (see `path_of_target`)
/// @param cookies all `Cookie` values joined with "; "
/// @param forwarded_proto all `X-Forwarded-Proto` values joined with ", "
/// @param tls whether the connection is TLS
/// @param trust_proxy the adapter's trust-proxy setting (Express's `trust proxy`)
SESSIONKIT_API request_info describe_request(std::string_view target, std::string_view cookies,
                                             std::string_view forwarded_proto, bool tls,
                                             bool trust_proxy) noexcept;

/// The response for a store error: 503 with `Retry-After` when the store is unavailable (retry
/// later), else 500; a plain-text reason, never a secret or an id.
struct error_answer {
  int status;
  const char* seconds_until_retry;  ///< the `Retry-After` value, or null
  std::string body;
  static constexpr std::string_view content_type = "text/plain; charset=utf-8";
};

/// The answer for a failed load or end of request.
SESSIONKIT_API error_answer answer_for(std::error_code ec);

/// The session side of one request, as an adapter hands it to a handler.
class session_handle {
 public:
  session_handle() noexcept = default;
  explicit session_handle(std::shared_ptr<request_driver> driver) noexcept : driver_(std::move(driver)) {}

  /// The session (`req.session`), or nullptr when the request has none: it did not go through
  /// the session layer, its path is outside the cookie's path, or the session was destroyed or
  /// unset.
  sessionkit::session* session() noexcept { return driver_ ? driver_->current() : nullptr; }
  /// `req.session = null` (see `options::unset`).
  void unset_session() noexcept {
    if (driver_) driver_->unset_session();
  }
  /// The request's driver, or nullptr.
  request_driver* driver() noexcept { return driver_.get(); }
  const std::shared_ptr<request_driver>& shared_driver() const noexcept { return driver_; }
  void set_driver(std::shared_ptr<request_driver> driver) noexcept { driver_ = std::move(driver); }

 private:
  std::shared_ptr<request_driver> driver_;
};

}  // namespace sessionkit::adapter
