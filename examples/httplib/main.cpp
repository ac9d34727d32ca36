// sessionkit-example-httplib: the seed's counter app on cpp-httplib, with the same routes,
// flags and stores as sessionkit-example (Beast); see example_app.hpp.
//
// cpp-httplib serves each connection on a worker thread of its pool (--threads sets its size;
// the default is httplib's own, at least 8) and its handlers are synchronous: the session layer
// waits there for the store, whose completions run on an io_context of this program's own
// thread.

#include "example_app.hpp"
#include "server.hpp"

#include <sessionkit/adapters/httplib.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <iostream>
#include <limits>
#include <regex>
#include <stdexcept>
#include <thread>

namespace asio = boost::asio;
namespace ex = sessionkit::examples;
namespace skh = sessionkit::httplib;

namespace {

constexpr std::string_view program = "sessionkit-example-httplib";

void send(httplib::Response& res, const ex::reply& r) {
  res.status = static_cast<int>(r.status);
  res.set_content(r.body, std::string(r.content_type).c_str());
}

// An httplib route pattern that matches `path` as Express does by default: case-insensitive,
// with an optional trailing slash.
std::string express_path(std::string_view path) {
  std::string pattern;
  for (char c : path) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      const char lower = static_cast<char>(c | 0x20);
      pattern += '[';
      pattern += lower;
      pattern += static_cast<char>(lower - 32);
      pattern += ']';
    } else if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) {
      pattern += '\\';
      pattern += c;
    } else {
      pattern += c;
    }
  }
  if (path != "/") pattern += "/?";
  return pattern;
}

int run(const ex::example_flags& flags) {
  asio::io_context io;  // the store's completions
  auto store = ex::make_store(flags, io, program);
  auto engine = std::make_shared<const sessionkit::engine>(flags.session, store);
  skh::sessions with_session(engine, {flags.trust_proxy});

  ex::httplib_server server;
  // A thread per connection (no fixed pool that slow clients could all hold), at most
  // --max-connections of them; --threads picks a fixed pool instead, which that many slow
  // clients can hold for up to --read-timeout each.
  if (flags.threads != 0) {
    const unsigned threads = flags.threads;
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  } else {
    server.new_task_queue = [] { return ex::httplib_server::connection_threads(); };
  }
  server.max_connections = flags.max_connections;
  server.set_keep_alive_max_count(std::numeric_limits<std::size_t>::max());
  server.set_read_timeout(flags.read_timeout);
  server.set_write_timeout(std::chrono::seconds(30));
  server.set_payload_max_length(1024 * 1024);

  // The framework's floor (for benchmarks): no session layer.
  server.Get(express_path("/metrics"), [&flags](const httplib::Request&, httplib::Response& res) {
    send(res, ex::metrics_page(flags.session));
  });
  server.Get(express_path("/no-session"), [](const httplib::Request&, httplib::Response& res) {
    send(res, ex::no_session());
  });
  server.Get(express_path("/"), with_session([](const httplib::Request&, httplib::Response& res, skh::context&) {
    send(res, ex::home_page());
  }));
  server.Get(express_path("/session-read"),
             with_session([](const httplib::Request&, httplib::Response& res, skh::context& c) {
               send(res, ex::read_only(c.session()));
             }));
  auto session_data = with_session([](const httplib::Request& req, httplib::Response& res, skh::context& c) {
    send(res, ex::session_data(c.session(), req.method == "POST", req.body));
  });
  server.Get(express_path("/session-data"), session_data);
  server.Post(express_path("/session-data"), session_data);
  auto counter = with_session([](const httplib::Request&, httplib::Response& res, skh::context& c) {
    send(res, ex::counter(c.session()));
  });
  for (std::string_view path : ex::counter_paths) server.Get(express_path(path), counter);
  server.Get(express_path("/session-destroy"),
             with_session([](const httplib::Request&, httplib::Response& res, skh::context& c) {
               sessionkit::session* s = c.session();
               send(res, s ? ex::destroyed(skh::destroy(*s)) : ex::destroy_without_session());
             }));
  // The account routes (example_app.hpp).
  server.Post(express_path("/login"), with_session([](const httplib::Request& req, httplib::Response& res, skh::context& c) {
    sessionkit::session* s = c.session();
    std::string user;
    if (auto refused = ex::check_login(s, req.body, user)) return send(res, *refused);
    const std::error_code ec = skh::regenerate(*s);
    send(res, ex::logged_in(*s, user, ec));
  }));
  server.Get(express_path("/whoami"), with_session([](const httplib::Request&, httplib::Response& res, skh::context& c) {
    send(res, ex::whoami(c.session()));
  }));
  server.Post(express_path("/logout"), with_session([](const httplib::Request&, httplib::Response& res, skh::context& c) {
    sessionkit::session* s = c.session();
    send(res, s ? ex::logged_out(skh::destroy(*s)) : ex::not_logged_in());
  }));
  server.Get(express_path("/my-sessions"),
             with_session([engine](const httplib::Request&, httplib::Response& res, skh::context& c) {
               sessionkit::session* s = c.session();
               if (!s || s->user().empty()) return send(res, ex::not_logged_in());
               auto [ec, sessions] = skh::sessions_of(*engine, s->user());
               send(res, ex::my_sessions(ec, sessions, engine->store_key(s->id())));
             }));
  server.Post(express_path("/logout-everywhere"),
              with_session([engine](const httplib::Request&, httplib::Response& res, skh::context& c) {
                sessionkit::session* s = c.session();
                if (!s || s->user().empty()) return send(res, ex::not_logged_in());
                auto [ec, others] = skh::destroy_all_of(*engine, s->user(), s->id());
                const std::error_code own = skh::destroy(*s);
                send(res, ex::sessions_ended(ec, others, own));
              }));
  // Everything else: 404 (405 for a known path), through the session layer as in Express.
  auto no_route = with_session([](const httplib::Request& req, httplib::Response& res, skh::context&) {
    send(res, ex::no_route(req.path));
  });
  server.Get(".*", no_route);
  server.Post(".*", no_route);
  server.Put(".*", no_route);
  server.Patch(".*", no_route);
  server.Delete(".*", no_route);
  server.Options(".*", no_route);

  int port = flags.port;
  if (port == 0) port = server.bind_to_any_port(flags.host);
  else if (!server.bind_to_port(flags.host, port)) port = -1;
  if (port < 0) throw std::runtime_error("cannot listen on " + flags.host + ":" + std::to_string(flags.port));

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) server.shutdown();
  });
  std::signal(SIGPIPE, SIG_IGN);
  auto work = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });

  std::cout << program << " listening on http://" << flags.host << ":" << port << std::endl;
  server.listen_after_bind();  // until shutdown(), requests in flight included

  asio::post(io, [&] {
    store->shutdown();
    signals.cancel();
  });
  work.reset();
  io_thread.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return ex::example_main(argc, argv, program, run); }
