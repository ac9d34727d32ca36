#pragma once
// The login demo's pages: small server-rendered HTML with a little inline CSS, no scripts, no
// external assets. Every form carries the session's CSRF token.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessionkit::login_demo {

/// One row of "your sessions".
struct session_row {
  std::string reference;  ///< what the "end" button posts (a hash of the session's store key)
  std::string device;     ///< the user agent it logged in with
  std::string created;    ///< login time, readable
  std::string last_seen;  ///< last request, readable
  bool current = false;
};

/// Text made safe for HTML (element content and quoted attributes).
std::string escape(std::string_view text);

/// GET /: who you are, your counter, links.
std::string home_page(std::string_view user, std::string_view count, std::string_view csrf);
/// GET /login (and a refused POST /login with `error`).
std::string login_page(std::string_view csrf, std::string_view error, std::string_view user_typed);
/// GET /sessions: this user's sessions, the current one marked, with their buttons.
std::string sessions_page(std::string_view user, const std::vector<session_row>& rows, std::string_view csrf,
                          std::string_view notice);
/// 403: a POST without the session's CSRF token. `cookie_came` says whether the browser sent
/// the session cookie with it (a cross-site form does not, with SameSite=Lax).
std::string forbidden_page(bool cookie_came);
/// 503 and the like: the session store is away.
std::string unavailable_page(std::string_view reason);

}  // namespace sessionkit::login_demo
