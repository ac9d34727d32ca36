// sessionkit-example-restinio: the seed's counter app on RESTinio, with the same routes, flags
// and stores as sessionkit-example (Beast); see example_app.hpp.
//
// RESTinio and the store share one io_context, run on --threads threads. Requests go through a
// RESTinio sync chain: the first handler counts them (for a graceful stop), the second is a
// router for the routes without a session (/no-session), the third is sessionkit's session
// layer in front of the app's express router.

#include "example_app.hpp"

#include <sessionkit/adapters/restinio.hpp>
#include <sessionkit/asio.hpp>

#include <restinio/sync_chain/fixed_size.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace ex = sessionkit::examples;
namespace skr = sessionkit::restinio;

namespace {

constexpr std::string_view program = "sessionkit-example-restinio";

// Counts the requests being handled: a token per request, released when its response has been
// written (or dropped with its connection).
class in_flight_counter {
 public:
  std::shared_ptr<void> token() {
    count_.fetch_add(1);
    return std::shared_ptr<void>(nullptr, [this](void*) { count_.fetch_sub(1); });
  }
  int count() const noexcept { return count_.load(); }

 private:
  std::atomic<int> count_{0};
};

// Each request carries sessionkit's data and the in-flight token.
struct request_state : skr::request_data {
  std::shared_ptr<void> in_flight;
};
using data_factory = restinio::simple_extra_data_factory_t<request_state>;
using handle = skr::generic_request_handle<request_state>;
using router_t = skr::router<request_state>;

struct traits : restinio::default_traits_t {
  using extra_data_factory_t = data_factory;
  using request_handler_t = restinio::sync_chain::fixed_size_chain_t<3, data_factory>;
};

restinio::http_status_line_t status_line(unsigned status) {
  switch (status) {
    case 200: return restinio::status_ok();
    case 400: return restinio::status_bad_request();
    case 401: return restinio::status_unauthorized();
    case 403: return restinio::status_forbidden();
    case 404: return restinio::status_not_found();
    case 405: return restinio::status_method_not_allowed();
    case 503: return restinio::status_service_unavailable();
    default: return restinio::status_internal_server_error();
  }
}

skr::response make_response(const handle& req, const ex::reply& r) {
  auto resp = req->create_response(status_line(r.status));
  resp.append_header_date_field()
      .append_header(restinio::http_field::content_type, std::string(r.content_type))
      .set_body(r.body);
  return resp;
}

// Answers through the session layer; the request (and its in-flight token) lives until the
// response is written.
restinio::request_handling_status_t reply(const handle& req, const ex::reply& r) {
  return skr::done(req, make_response(req, r), [req](const auto&) {});
}

// An io_context whose pending handlers can be destroyed before the objects they refer to: the
// connections RESTinio leaves in it hold the request handlers, and through them the store.
struct io_context : asio::io_context {
  using asio::io_context::shutdown;
};

int run(const ex::example_flags& flags) {
  io_context io;
  auto store = ex::make_store(flags, io, program);
  auto engine = std::make_shared<const sessionkit::engine>(flags.session, store);
  in_flight_counter in_flight;

  // The framework's floor (for benchmarks): before the session layer.
  auto before = std::make_shared<router_t>();
  before->http_get("/metrics", [&flags](const handle& req, auto) {
    return make_response(req, ex::metrics_page(flags.session)).done([req](const auto&) {});
  });
  before->http_get("/no-session", [](const handle& req, auto) {
    return make_response(req, ex::no_session()).done([req](const auto&) {});
  });

  auto app = std::make_shared<router_t>();
  app->http_get("/", [](const handle& req, auto) { return reply(req, ex::home_page()); });
  app->http_get("/session-read", [](const handle& req, auto) {
    return reply(req, ex::read_only(skr::session(req)));
  });
  app->http_get("/session-data", [](const handle& req, auto) {
    return reply(req, ex::session_data(skr::session(req), false, {}));
  });
  app->http_post("/session-data", [](const handle& req, auto) {
    return reply(req, ex::session_data(skr::session(req), true, req->body()));
  });
  for (std::string_view path : ex::counter_paths)
    app->http_get(path, [](const handle& req, auto) { return reply(req, ex::counter(skr::session(req))); });
  app->http_get("/session-destroy", [executor = io.get_executor()](const handle& req, auto) {
    sessionkit::session* s = skr::session(req);
    if (!s) return reply(req, ex::destroy_without_session());
    sessionkit::async_destroy(*s, asio::bind_executor(executor, [req](std::error_code ec) {
                                reply(req, ex::destroyed(ec));
                              }));
    return restinio::request_accepted();
  });
  // The account routes (example_app.hpp).
  app->http_post("/login", [executor = io.get_executor()](const handle& req, auto) {
    sessionkit::session* s = skr::session(req);
    std::string user;
    if (auto refused = ex::check_login(s, req->body(), user)) return reply(req, *refused);
    sessionkit::async_regenerate(*s, asio::bind_executor(executor, [req, s, user](std::error_code ec) {
                                   reply(req, ex::logged_in(*s, user, ec));
                                 }));
    return restinio::request_accepted();
  });
  app->http_get("/whoami", [](const handle& req, auto) { return reply(req, ex::whoami(skr::session(req))); });
  app->http_post("/logout", [executor = io.get_executor()](const handle& req, auto) {
    sessionkit::session* s = skr::session(req);
    if (!s) return reply(req, ex::not_logged_in());
    sessionkit::async_destroy(*s, asio::bind_executor(executor, [req](std::error_code ec) {
                                reply(req, ex::logged_out(ec));
                              }));
    return restinio::request_accepted();
  });
  app->http_get("/my-sessions", [executor = io.get_executor(), engine](const handle& req, auto) {
    sessionkit::session* s = skr::session(req);
    if (!s || s->user().empty()) return reply(req, ex::not_logged_in());
    sessionkit::async_sessions_of(
        *engine, s->user(),
        asio::bind_executor(executor, [req, s, engine](std::error_code ec, std::vector<sessionkit::user_session> sessions) {
          reply(req, ex::my_sessions(ec, sessions, engine->store_key(s->id())));
        }));
    return restinio::request_accepted();
  });
  app->http_post("/logout-everywhere", [executor = io.get_executor(), engine](const handle& req, auto) {
    sessionkit::session* s = skr::session(req);
    if (!s || s->user().empty()) return reply(req, ex::not_logged_in());
    sessionkit::async_destroy_all_of(
        *engine, s->user(), s->id(), asio::bind_executor(executor, [req, s, executor](std::error_code ec, std::size_t others) {
          sessionkit::async_destroy(*s, asio::bind_executor(executor, [req, ec, others](std::error_code own) {
                                      reply(req, ex::sessions_ended(ec, others, own));
                                    }));
        }));
    return restinio::request_accepted();
  });
  // Everything else: 404 (405 for a known path), through the session layer as in Express.
  app->non_matched_request_handler([](handle req) {
    const auto path = req->header().path();
    return reply(req, ex::no_route(std::string_view(path.data(), path.size())));
  });

  skr::options session_opts;
  session_opts.executor = io.get_executor();
  session_opts.trust_proxy = flags.trust_proxy;

  unsigned short port = 0;
  restinio::http_server_t<traits> server{
      restinio::external_io_context(io), [&](auto& settings) {
        settings.address(flags.host)
            .port(flags.port)
            .request_handler(
                [&in_flight](const handle& req) {
                  req->extra_data().in_flight = in_flight.token();
                  // An absolute-form target (`GET http://host/path`, RFC 9112 section 3.2.2)
                  // goes on in origin form, as Node routes it: RESTinio's path() would keep
                  // `http://host`. The header is the request's own (not const); only its
                  // accessor is.
                  const std::string& target = req->header().request_target();
                  if (const std::size_t prefix = sessionkit::adapter::absolute_form_prefix(target)) {
                    std::string origin = target.substr(prefix);
                    if (origin.empty() || origin.front() != '/') origin.insert(0, "/");
                    const_cast<restinio::http_request_header_t&>(req->header()).request_target(std::move(origin));
                  }
                  return restinio::request_not_handled();
                },
                [before](const handle& req) { return (*before)(req); },
                skr::session_handler<request_state>(
                    engine, [app](const handle& req) { return (*app)(req); }, session_opts))
            .acceptor_post_bind_hook([&port](asio::ip::tcp::acceptor& acceptor) {
              port = acceptor.local_endpoint().port();
            })
            // As Beast's example: 32 KiB of header fields, 1 MiB of body, 30 s timeouts.
            .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}
                                          .max_url_size(8 * 1024)
                                          .max_field_name_size(1024)
                                          .max_field_value_size(32 * 1024)
                                          .max_field_count(100)
                                          .max_body_size(1024 * 1024))
            // A whole request (from its first byte) within --read-timeout, as on the other servers.
            .read_next_http_message_timelimit(flags.read_timeout)
            .write_http_response_timelimit(std::chrono::seconds(30))
            .handle_request_timeout(std::chrono::seconds(30));
      }};
  server.open_sync();  // binds and listens; `port` is known now

  // SIGINT/SIGTERM: stop accepting, let requests in flight finish (10 s at most), stop.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer drain(io);
  const auto give_up = std::make_shared<std::chrono::steady_clock::time_point>();
  std::function<void()> wait_for_requests = [&] {
    if (in_flight.count() > 0 && std::chrono::steady_clock::now() < *give_up) {
      drain.expires_after(std::chrono::milliseconds(10));
      drain.async_wait([&](boost::system::error_code) { wait_for_requests(); });
      return;
    }
    io.stop();  // the store closes after the last request
  };
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    *give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    server.close_async([&]() noexcept { asio::post(io, wait_for_requests); },
                       [&](std::exception_ptr) noexcept { asio::post(io, wait_for_requests); });
  });
  std::signal(SIGPIPE, SIG_IGN);

  std::cout << program << " listening on http://" << flags.host << ":" << port << std::endl;
  unsigned threads = flags.threads ? flags.threads : std::thread::hardware_concurrency();
  if (threads == 0) threads = 1;
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  ex::close_store(*store, io);
  io.shutdown();  // the idle connections go now, while the store and the server still exist
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return ex::example_main(argc, argv, program, run); }
