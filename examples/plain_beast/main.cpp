// sessionkit-plain-beast: sessionkit inside a plain Boost.Beast server that is not ours, no
// sessionkit app, router or server: the application's own accept loop and request handling, and
// `sessionkit::beast::async_run_with_session` around the part that needs the session.
//
//   GET /counter  -> "count is N"      (the session counts)
//   GET /logout   -> "logged out"      (the session is dropped and destroyed in the store)
//   anything else -> 404, no session
//
//   sessionkit-plain-beast [--port N]  (0 picks a free port; prints "listening on http://...")

#include <sessionkit/adapters/beast.hpp>
#include <sessionkit/stores/memory_store.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <iostream>
#include <string>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// The part of the application that uses the session: runs with it loaded, before it is saved.
void handle(const http::request<http::string_body>& req, http::response<http::string_body>& res,
            sessionkit::adapter::session_handle& s) {
  const std::string_view target(req.target().data(), req.target().size());
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  if (target == "/counter" && s.session()) {
    auto& count = (*s.session())["count"];
    count = count.is_int64() ? count.get_int64() + 1 : 1;
    res.body() = "count is " + std::to_string(count.get_int64());
  } else if (target == "/logout") {
    s.unset_session();  // with `unset: destroy`, the stored session goes at the end of the request
    res.body() = "logged out";
  }
}

asio::awaitable<void> serve(tcp::socket socket, const sessionkit::engine& engine) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    auto [read_ec, n] = co_await http::async_read(socket, buffer, req, asio::as_tuple(asio::use_awaitable));
    if (read_ec) co_return;
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.keep_alive(req.keep_alive());
    const std::string_view target(req.target().data(), req.target().size());
    if (target == "/counter" || target == "/logout") {
      // Loads the session, runs `handle`, saves it and adds Set-Cookie (or answers 503/500).
      co_await sessionkit::beast::async_run_with_session(
          engine, req, res, false, [&](sessionkit::adapter::session_handle& s) { handle(req, res, s); },
          asio::as_tuple(asio::use_awaitable));
    } else {
      res.result(http::status::not_found);
      res.body() = "Not Found";
    }
    res.prepare_payload();
    auto [write_ec, written] = co_await http::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
    if (write_ec || !res.keep_alive()) co_return;
  }
}

asio::awaitable<void> accept(tcp::acceptor& acceptor, const sessionkit::engine& engine) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), engine), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 3000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--port") port = static_cast<unsigned short>(std::stoi(argv[i + 1]));
  }
  asio::io_context io;
  auto store = std::make_shared<sessionkit::memory_store>(io.get_executor());
  sessionkit::options options;
  options.secrets = {"a plain Beast server's secret, 32+ bytes long"};
  options.unset = sessionkit::unset_action::destroy;
  const sessionkit::engine engine(options, store);

  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), port});
  std::cout << "sessionkit-plain-beast listening on http://127.0.0.1:" << acceptor.local_endpoint().port()
            << std::endl;
  asio::co_spawn(io, accept(acceptor, engine), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) {
    acceptor.close();
    store->shutdown();
    io.stop();
  });
  io.run();
}
