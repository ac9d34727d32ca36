#include <sessionkit/adapters/beast.hpp>

#include <sessionkit/log.hpp>
#include <sessionkit/time.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_set>

namespace sessionkit::beast {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::as_tuple;
using asio::use_awaitable;

namespace {

using clock = std::chrono::steady_clock;

struct connection_state {
  explicit connection_state(tcp::socket s) : socket(std::move(s)), watchdog(socket.get_executor()) {}
  tcp::socket socket;
  // One timer per connection enforces every phase's deadline lazily: phases only move
  // `deadline`, the timer re-arms when it fires early (no timer operation per read or write).
  asio::steady_timer watchdog;
  clock::time_point deadline = clock::time_point::max();
  bool idle = true;  // waiting for a request; only touched on the connection's strand
  bool closed = false;
  cookie_memo memo;  // the session id its client last sent, verified (cookie_memo.hpp)
};

void watch(const std::shared_ptr<connection_state>& c, std::chrono::milliseconds period) {
  const auto now = clock::now();
  c->watchdog.expires_at(std::min(c->deadline, now + period));
  c->watchdog.async_wait([c, period](boost::system::error_code ec) {
    if (ec || c->closed) return;
    if (c->deadline <= clock::now()) {
      boost::system::error_code ignored;
      c->socket.close(ignored);  // the pending read or write fails: the connection ends
      return;
    }
    watch(c, period);
  });
}

// All values of a header joined with `separator`, as Node joins repeated headers.
// Whether a trusted proxy says the client's connection is https (all X-Forwarded-Proto values).
bool forwarded_https(const request& req) {
  adapter::joined_header protos(", ");
  for (auto [it, end] = req.equal_range("X-Forwarded-Proto"); it != end; ++it)
    protos.add(std::string_view(it->value().data(), it->value().size()));
  return adapter::express_protocol_is_https(protos.value());
}

// The Date header, formatted once per second per thread.
const std::string& date_header() {
  thread_local std::string text;
  thread_local std::chrono::seconds formatted_for{-1};
  const auto t = now();
  const auto second = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch());
  if (second != formatted_for) {
    text = format_http_date(t);
    formatted_for = second;
  }
  return text;
}

// Status line, fields and body in one buffer: one write per response.
std::string serialize(const response& res, bool with_body) {
  std::string out;
  out.reserve(160 + res.body().size());
  out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(res.result_int());
  out += ' ';
  const auto reason = res.reason();
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (const auto& field : res) {
    out.append(field.name_string().data(), field.name_string().size());
    out += ": ";
    out.append(field.value().data(), field.value().size());
    out += "\r\n";
  }
  out += "\r\n";
  if (with_body) out += res.body();
  return out;
}

response error_response(http::status status, std::string_view text, unsigned version) {
  response res{status, version};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::connection, "close");
  res.body() = std::string(text) + "\n";
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

// The threads `run` uses.
unsigned thread_count(const server_options& o) {
  const unsigned n = o.threads ? o.threads : std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

}  // namespace

struct server::impl {
  impl(const app& a, server_options o)
      : application(a), options(std::move(o)), one_thread(thread_count(options) == 1),
        ioc(one_thread ? 1 : BOOST_ASIO_CONCURRENCY_HINT_DEFAULT) {}

  const app& application;
  server_options options;
  // One thread runs everything in order: a connection needs no strand of its own (and its
  // executor, the io_context's, is copied without an allocation, as a strand's is not).
  const bool one_thread;
  asio::io_context ioc;
  // The acceptor, the accept loop and the stop sequence share one strand: closing the acceptor
  // must not race with an accept being started on another thread.
  asio::strand<asio::io_context::executor_type> control{asio::make_strand(ioc)};
  tcp::acceptor acceptor{control};
  asio::steady_timer shutdown_timer{control};
  std::mutex connections_mutex;
  std::unordered_set<std::shared_ptr<connection_state>> connections;
  std::atomic<bool> stopping{false};

  asio::awaitable<void> accept_loop() {
    for (;;) {
      const asio::any_io_executor socket_executor =
          one_thread ? asio::any_io_executor(ioc.get_executor()) : asio::any_io_executor(asio::make_strand(ioc));
      auto [ec, socket] = co_await acceptor.async_accept(socket_executor, as_tuple(use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        // Out of descriptors, say: wait a little rather than spin, and keep serving.
        log(log_level::warning, "accept failed: " + ec.message());
        asio::steady_timer pause(control, std::chrono::milliseconds(50));
        co_await pause.async_wait(as_tuple(use_awaitable));
        continue;
      }
      bool full = false;
      auto state = std::make_shared<connection_state>(std::move(socket));
      {
        std::lock_guard lock(connections_mutex);
        full = options.max_connections != 0 && connections.size() >= options.max_connections;
        if (!full) connections.insert(state);
      }
      if (full) {
        // At the cap: a clear answer and a close, on the connection's own strand, so clients
        // already connected keep being served.
        asio::co_spawn(state->socket.get_executor(), refuse_busy(state), asio::detached);
        continue;
      }
      auto executor = state->socket.get_executor();
      asio::co_spawn(executor, serve(state), [this, state](std::exception_ptr) { finished(state); });
    }
  }

  // The answer when `max_connections` are open: 503 with Retry-After, then close.
  static asio::awaitable<void> refuse_busy(std::shared_ptr<connection_state> state) {
    static constexpr std::string_view answer =
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 34\r\nConnection: close\r\n\r\nServer busy: too many connections\n";
    asio::steady_timer limit(state->socket.get_executor(), std::chrono::seconds(1));
    limit.async_wait([state](boost::system::error_code ec) {
      boost::system::error_code ignored;
      if (!ec) state->socket.close(ignored);  // a client that does not read cannot hold us
    });
    co_await asio::async_write(state->socket, asio::buffer(answer), as_tuple(use_awaitable));
    boost::system::error_code ignored;
    state->socket.shutdown(tcp::socket::shutdown_both, ignored);
    state->socket.close(ignored);
    limit.cancel();
  }

  void finished(const std::shared_ptr<connection_state>& state) {
    bool last = false;
    {
      std::lock_guard lock(connections_mutex);
      connections.erase(state);
      last = connections.empty();
    }
    if (last && stopping) ioc.stop();
  }

  asio::awaitable<void> serve(std::shared_ptr<connection_state> state) {
    auto& socket = state->socket;
    boost::beast::flat_buffer buffer;
    state->deadline = clock::now() + options.read_timeout;
    watch(state, options.read_timeout);
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
      parser.body_limit(options.body_limit);
      state->idle = true;
      if (stopping) break;
      state->deadline = clock::now() + options.read_timeout;
      auto [read_ec, bytes] = co_await http::async_read(socket, buffer, parser, as_tuple(use_awaitable));
      (void)bytes;
      state->idle = false;
      if (read_ec) {
        // A request we cannot parse gets a clear 4xx; a client that went away, timed out or
        // closed between requests just gets the connection closed.
        http::status status{};
        if (read_ec == http::error::header_limit) status = http::status::request_header_fields_too_large;
        else if (read_ec == http::error::body_limit) status = http::status::payload_too_large;
        else if (read_ec != http::error::end_of_stream && read_ec != http::error::partial_message &&
                 read_ec.category() == http::make_error_code(http::error::end_of_stream).category())
          status = http::status::bad_request;
        if (status != http::status{} && socket.is_open()) {
          auto res = error_response(status, obsolete_reason(status), 11);
          state->deadline = clock::now() + options.write_timeout;
          const std::string wire = serialize(res, true);
          co_await asio::async_write(socket, asio::buffer(wire), as_tuple(use_awaitable));
        }
        break;
      }
      request req = parser.release();
      response res{http::status::ok, req.version()};
      res.keep_alive(req.keep_alive());
      const bool secure =
          options.trust_proxy && forwarded_https(req);
      context ctx(req, res, secure, &state->memo);
      state->deadline = clock::time_point::max();  // the application takes the time it needs
      try {
        co_await application.dispatch(ctx);
      } catch (const std::exception& e) {
        log(log_level::error, std::string("handler failed: ") + e.what());
        res = error_response(http::status::internal_server_error, "Internal Server Error", req.version());
      }
      if (stopping) res.keep_alive(false);
      res.set(http::field::date, date_header());
      res.prepare_payload();
      const bool keep_alive = res.keep_alive();
      const std::string wire = serialize(res, req.method() != http::verb::head);
      state->deadline = clock::now() + options.write_timeout;
      auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(wire), as_tuple(use_awaitable));
      (void)written;
      if (write_ec || !keep_alive) break;
    }
    state->closed = true;
    state->watchdog.cancel();
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
  }

  static std::string_view obsolete_reason(http::status status) {
    const auto reason = http::obsolete_reason(status);
    return {reason.data(), reason.size()};
  }

  void begin_stop() {
    if (stopping.exchange(true)) return;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    std::vector<std::shared_ptr<connection_state>> current;
    {
      std::lock_guard lock(connections_mutex);
      current.assign(connections.begin(), connections.end());
    }
    if (current.empty()) {
      ioc.stop();
      return;
    }
    for (auto& c : current) {
      // Idle connections are closed; busy ones finish their response, then close.
      asio::post(c->socket.get_executor(), [c] {
        boost::system::error_code ignored;
        if (c->idle) c->socket.cancel(ignored);
      });
    }
    shutdown_timer.expires_after(options.shutdown_timeout);
    shutdown_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) {
        log(log_level::warning, "shutdown timeout: closing connections still in flight");
        ioc.stop();
      }
    });
  }
};

server::server(const app& application, server_options opts)
    : impl_(std::make_unique<impl>(application, std::move(opts))) {}

server::~server() = default;

asio::io_context& server::io_context() noexcept { return impl_->ioc; }

unsigned short server::listen() {
  auto address = asio::ip::make_address(impl_->options.host);
  tcp::endpoint endpoint(address, impl_->options.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(impl_->control, impl_->accept_loop(), asio::detached);
  return acceptor.local_endpoint().port();
}

void server::run() {
  const unsigned n = thread_count(impl_->options);
  std::vector<std::thread> threads;
  threads.reserve(n - 1);
  for (unsigned i = 1; i < n; ++i) threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : threads) t.join();
}

void server::stop() {
  asio::post(impl_->control, [this] { impl_->begin_stop(); });
}

}  // namespace sessionkit::beast
