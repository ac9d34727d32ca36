#pragma once
// The seed's counter app without an HTTP framework: what every route answers, the store chosen
// by --store, and the command-line entry point. Each example (Beast, cpp-httplib, RESTinio) maps
// these onto its framework, so the three serve the same routes with the same answers:
//
//   GET /                       the home page
//   GET /no-session             "no session", outside the session layer (the framework's floor)
//   GET /memory-store-counter   "count is N" (also /redis-store-counter, /radis-store-counter,
//                               /sqlite-store-counter: every counter uses the --store store)
//   GET /session-read           the count without changing the session
//   GET /session-data           the session's data as JSON; POST merges a JSON object into it
//   GET /session-destroy        "Session Destroyed!"
//   POST /login                 form field `user`: regenerates, records the user: "logged in as NAME"
//   GET /whoami                 "NAME", or 401 when not logged in
//   POST /logout                destroys the session: "logged out"
//   GET /my-sessions            this user's sessions as JSON (id prefix, created, last seen)
//   POST /logout-everywhere     ends all of this user's sessions: "N sessions ended"
//   anything else               404 Not Found (405 Method Not Allowed for a known path)

#include "example_flags.hpp"

#include <sessionkit/engine.hpp>
#include <sessionkit/session.hpp>
#include <sessionkit/store.hpp>

#include <boost/asio/io_context.hpp>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <string_view>
#include <system_error>

namespace sessionkit::examples {

inline constexpr std::string_view html_type = "text/html; charset=utf-8";
inline constexpr std::string_view text_type = "text/plain; charset=utf-8";
inline constexpr std::string_view json_type = "application/json; charset=utf-8";

/// A response, whatever the framework.
struct reply {
  unsigned status = 200;
  std::string body;
  std::string_view content_type = html_type;
};

/// The counters: all of them count in the store chosen with --store.
inline constexpr std::array<std::string_view, 4> counter_paths{
    "/memory-store-counter", "/redis-store-counter", "/radis-store-counter",  // the seed's spelling
    "/sqlite-store-counter"};

/// `if (session.count) session.count++; else session.count = 1;` with JavaScript's truthiness.
/// @return the new count as JSON text
std::string increment_count(sessionkit::session& s);

/// GET a counter.
reply counter(sessionkit::session* s);
/// GET /session-read: reads without modifying (with resave false the store only gets a touch).
reply read_only(const sessionkit::session* s);
/// GET /session-data (`body` ignored) or POST /session-data (merges a JSON object, like
/// `Object.assign(req.session, req.body)`).
reply session_data(sessionkit::session* s, bool post, std::string_view body);
/// GET /session-destroy, once `session.destroy()` completed with `ec` (or there was no session).
reply destroyed(std::error_code ec);
/// GET /session-destroy where the request has no session (outside the cookie's path): 500, as
/// the seed's `req.session.destroy()` throws there.
reply destroy_without_session();
/// The logins: the form field `name` of an `application/x-www-form-urlencoded` body, decoded
/// (empty when absent).
std::string form_field(std::string_view body, std::string_view name);
/// POST /login before the regenerate: the user name from the form, or the reply that refuses it
/// (400: no name, or one longer than 100 bytes).
std::optional<reply> check_login(const sessionkit::session* s, std::string_view body, std::string& user);
/// POST /login once `session.regenerate()` completed with `ec`: records the user.
reply logged_in(sessionkit::session& s, std::string_view user, std::error_code ec);
/// GET /whoami.
reply whoami(const sessionkit::session* s);
/// 401 for the routes that need a login.
reply not_logged_in();
/// POST /logout once `session.destroy()` completed with `ec`.
reply logged_out(std::error_code ec);
/// GET /my-sessions: the user's sessions (`engine::sessions_of`), the request's own marked.
reply my_sessions(std::error_code ec, const std::vector<sessionkit::user_session>& sessions, std::string_view current_id);
/// POST /logout-everywhere: `others` ended by `engine::destroy_all_of` (with `ec`), then the
/// request's own by `destroy()` (with `own`).
reply sessions_ended(std::error_code ec, std::size_t others, std::error_code own);
/// GET /.
reply home_page();
/// GET /no-session.
reply no_session();
/// GET /metrics (with --metrics): the engine's counters in the Prometheus text format; 404
/// without --metrics.
reply metrics_page(const sessionkit::options& session);
/// No route for this request: 405 when the path is known (another method), else 404.
reply no_route(std::string_view path);

/// Whether `path` names one of the app's routes, matched as Express matches by default
/// (case-insensitive, one optional trailing slash).
bool is_known_path(std::string_view path);
/// Express's default path matching (case-insensitive, one optional trailing slash).
bool path_matches(std::string_view pattern, std::string_view path);

/// Makes the store of `flags.store` (memory, redis://, unix:, sqlite:). For Redis it waits up to
/// the connect timeout for the connection, running `io` on the calling thread; if Redis is not
/// there yet it says so on stderr and goes on (requests get 503 until Redis is back).
/// @throws std::exception when the store cannot be created (a SQLite file that cannot be opened)
std::shared_ptr<sessionkit::store> make_store(const example_flags& flags, boost::asio::io_context& io,
                         std::string_view program);

/// Closes `store` once the server has answered its last request (a store closed before that
/// fails the requests still in flight: 503), then runs what its shutdown hands to `io`, which
/// the server has stopped by then (a Redis connection's close and the commands it fails: left
/// unrun, they and the store would hold each other past the end).
void close_store(sessionkit::store& store, boost::asio::io_context& io);

/// The examples' `main`: parses the flags (exit 2 with a message on stderr when they are bad),
/// prints `--help` (exit 0), else calls `run` and turns an exception into a message and exit 1.
int example_main(int argc, char** argv, std::string_view program,
                 const std::function<int(const example_flags&)>& run);
/// The same, with `defaults`: flags read before the command line's (which win).
int example_main(int argc, char** argv, std::string_view program,
                 const std::function<int(const example_flags&)>& run, const std::vector<std::string>& defaults);

}  // namespace sessionkit::examples
