#include "redis_connection.hpp"
#include "sentinel_link.hpp"

#include <sessionkit/error.hpp>
#include <sessionkit/log.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <charconv>
#include <cstring>

namespace sessionkit::detail {

namespace asio = boost::asio;

namespace {

std::size_t decimal_digits(std::size_t n) {
  std::size_t digits = 1;
  while (n >= 10) {
    n /= 10;
    ++digits;
  }
  return digits;
}

// "*N\r\n" then "$len\r\narg\r\n" per argument, sized exactly first and written in one pass
// (a session's SET carries its whole record: appending piece by piece cost ~1k instructions).
template <class Range>
std::string format_resp(const Range& args, std::size_t count) {
  std::size_t size = 1 + decimal_digits(count) + 2;
  for (const auto& a : args) size += 1 + decimal_digits(a.size()) + 2 + a.size() + 2;
  std::string out(size, '\0');
  char* at = out.data();
  const auto number = [&](char marker, std::size_t n) {
    *at++ = marker;
    at = std::to_chars(at, out.data() + size, n).ptr;
    *at++ = '\r';
    *at++ = '\n';
  };
  number('*', count);
  for (const auto& a : args) {
    number('$', a.size());
    if (a.size() != 0) std::memcpy(at, a.data(), a.size());
    at += a.size();
    *at++ = '\r';
    *at++ = '\n';
  }
  return out;
}

}  // namespace

std::string resp_command(std::initializer_list<std::string_view> args) { return format_resp(args, args.size()); }
std::string resp_command(const std::vector<std::string>& args) { return format_resp(args, args.size()); }
std::string resp_command(std::span<const std::string_view> args) { return format_resp(args, args.size()); }

std::vector<std::string_view> split_resp_commands(std::string_view wire) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  // A number up to "\r\n" after the marker `c` at `at`; moves `at` past the line.
  const auto number = [&](char c, std::size_t& value) {
    if (at >= wire.size() || wire[at] != c) return false;
    const std::size_t end = wire.find("\r\n", at);
    if (end == std::string_view::npos || end == at + 1) return false;
    value = 0;
    for (std::size_t i = at + 1; i < end; ++i) {
      if (wire[i] < '0' || wire[i] > '9' || value > (std::size_t(1) << 40)) return false;
      value = value * 10 + std::size_t(wire[i] - '0');
    }
    at = end + 2;
    return true;
  };
  while (at < wire.size()) {
    const std::size_t start = at;
    std::size_t args = 0;
    if (!number('*', args)) return {};
    for (std::size_t i = 0; i < args; ++i) {
      std::size_t size = 0;
      if (!number('$', size) || wire.size() - at < size + 2 || wire.compare(at + size, 2, "\r\n") != 0) return {};
      at += size + 2;
    }
    out.push_back(wire.substr(start, at - start));
  }
  return out;
}

struct redis_connection::command {
  command(std::string w, reply_handler h, std::size_t n = 1) : wire(std::move(w)), handler(std::move(h)), replies(n) {}

  void complete(std::error_code ec, redis_reply reply) {
    if (done) return;
    done = true;
    auto h = std::move(handler);
    h(ec, std::move(reply));
  }

  // Takes one reply; once all have come the handler gets them (one as it is, several as an
  // array).
  void take(redis_reply reply) {
    if (replies == 1) return complete({}, std::move(reply));
    collected.elements.push_back(std::move(reply));
    if (collected.elements.size() < replies) return;
    collected.type = redis_reply::kind::array;
    complete({}, std::move(collected));
  }

  std::string wire;  // the command(s) in RESP (moved into the write buffer when sent)
  reply_handler handler;
  unsigned wait_replicas = 0;  // a write acknowledged only once this many replicas have it
  std::chrono::milliseconds wait_timeout{0};
  redis_reply held;  // its reply, kept until the WAIT behind it answers
  std::size_t replies;      // how many replies the wire asks for (a pipeline: several)
  redis_reply collected;    // a pipeline's replies so far
  std::chrono::steady_clock::time_point deadline;
  bool done = false;
};

namespace {

// The TLS client context of a rediss:// endpoint: the server's certificate verified against the
// CA file (or the system's CAs), a client certificate when given.
asio::ssl::context make_tls_context(const redis_tls& tls) {
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  if (!tls.ca_file.empty()) {
    if (ctx.load_verify_file(tls.ca_file, ec))
      throw std::invalid_argument("Redis TLS: cannot load the CA file '" + tls.ca_file + "': " + ec.message());
  } else if (ctx.set_default_verify_paths(ec)) {
    throw std::invalid_argument("Redis TLS: cannot load the system's CA certificates: " + ec.message());
  }
  if (tls.cert_file.empty() != tls.key_file.empty())
    throw std::invalid_argument("Redis TLS: a client certificate needs its key, and a key its certificate");
  if (!tls.cert_file.empty()) {
    if (ctx.use_certificate_chain_file(tls.cert_file, ec))
      throw std::invalid_argument("Redis TLS: cannot load the client certificate '" + tls.cert_file +
                                  "': " + ec.message());
    if (ctx.use_private_key_file(tls.key_file, asio::ssl::context::pem, ec))
      throw std::invalid_argument("Redis TLS: cannot load the client key '" + tls.key_file + "': " + ec.message());
  }
  ctx.set_verify_mode(tls.verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
  return ctx;
}

bool is_ip_address(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

redis_connection::redis_connection(asio::any_io_executor executor, settings s)
    : strand_(asio::make_strand(executor)),
      settings_(std::move(s)),
      resolver_(strand_),
      connect_timer_(strand_),
      reconnect_timer_(strand_),
      watchdog_(strand_),
      watch_timer_(strand_),
      backoff_(settings_.reconnect_min_delay) {
  if (settings_.endpoint.tls.enabled) tls_context_.emplace(make_tls_context(settings_.endpoint.tls));
}

redis_connection::~redis_connection() = default;

void redis_connection::start() {
  asio::post(strand_, [self = shared_from_this()] {
    self->connect();
    if (!self->settings_.endpoint.sentinel.sentinels.empty()) self->watch_sentinels(0);
  });
}

void redis_connection::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->ready_ = false;
    self->resolver_.cancel();
    self->connect_timer_.cancel();
    self->reconnect_timer_.cancel();
    self->watchdog_.cancel();
    self->watch_timer_.cancel();
    ++self->watch_generation_;
    if (self->watch_socket_) {
      self->watch_socket_->close();
      self->watch_socket_.reset();
    }
    self->close_transport();
    self->fail_pending(error::shut_down);
  });
}

// --- Sentinel: following +switch-master ------------------------------------------------------

void redis_connection::watch_sentinels(std::size_t attempt) {
  if (stopped_) return;
  const redis_sentinel& s = settings_.endpoint.sentinel;
  const std::uint64_t watch = ++watch_generation_;
  if (watch_socket_) watch_socket_->close();
  // Subscribed to one sentinel at a time; when it goes, the next one after a pause.
  auto retry = [self = shared_from_this(), watch, attempt] {
    if (watch != self->watch_generation_ || self->stopped_) return;
    ++self->watch_generation_;
    self->watch_timer_.expires_after(std::chrono::seconds(1));
    self->watch_timer_.async_wait([self, attempt](boost::system::error_code ec) {
      if (!ec) self->watch_sentinels(attempt + 1);
    });
  };
  const std::string host = s.sentinels[(first_sentinel_ + attempt) % s.sentinels.size()].first;
  const std::uint16_t port = s.sentinels[(first_sentinel_ + attempt) % s.sentinels.size()].second;
  auto link = std::make_shared<sentinel_link>(strand_, tls_context_ ? &*tls_context_ : nullptr);
  watch_socket_ = link;
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(strand_);
  resolver->async_resolve(host, std::to_string(port), [self = shared_from_this(), watch, link, resolver, retry, host](
                                                          boost::system::error_code ec,
                                                          asio::ip::tcp::resolver::results_type results) mutable {
    if (watch != self->watch_generation_) return;
    if (ec || results.empty()) return retry();
    asio::async_connect(link->socket(), results, [self, watch, link, retry, host](boost::system::error_code ec,
                                                                                 const asio::ip::tcp::endpoint&) mutable {
      if (watch != self->watch_generation_) return;
      if (ec) return retry();
      self->sentinel_handshake(*link, host, [self, watch, link, retry](boost::system::error_code ec) mutable {
        if (watch != self->watch_generation_) return;
        if (ec) return retry();
        const redis_sentinel& s = self->settings_.endpoint.sentinel;
        auto request = std::make_shared<std::string>();
        if (!s.password.empty())
          *request += s.username.empty() ? resp_command({"AUTH", s.password}) : resp_command({"AUTH", s.username, s.password});
        *request += resp_command({"SUBSCRIBE", "+switch-master"});
        link->write(asio::buffer(*request), [self, watch, link, request, retry](boost::system::error_code ec,
                                                                               std::size_t) mutable {
          if (watch != self->watch_generation_) return;
          if (ec) return retry();
          self->read_switch_messages(watch, link, std::make_shared<redis_reply_reader>(),
                                     std::make_shared<std::array<char, 4096>>());
        });
      });
    });
  });
}

// TLS sentinels (rediss-sentinel://): checked like the master, against the configured server
// name or else the sentinel's host.
template <class Handler>
void redis_connection::sentinel_handshake(sentinel_link& link, const std::string& host, Handler&& handler) {
  const redis_tls& tls = settings_.endpoint.tls;
  const std::string name = tls.server_name.empty() ? host : tls.server_name;
  link.handshake(name, tls.verify, is_ip_address(name), std::forward<Handler>(handler));
}

void redis_connection::read_switch_messages(std::uint64_t watch, std::shared_ptr<sentinel_link> socket,
                                            std::shared_ptr<redis_reply_reader> reader,
                                            std::shared_ptr<std::array<char, 4096>> buffer) {
  socket->read_some(asio::buffer(*buffer), [self = shared_from_this(), watch, socket, reader, buffer](
                                                     boost::system::error_code ec, std::size_t n) {
    if (watch != self->watch_generation_) return;
    auto again = [self] { self->watch_sentinels(0); };
    if (ec || !reader->feed(buffer->data(), n)) {
      ++self->watch_generation_;
      self->watch_timer_.expires_after(std::chrono::seconds(1));
      self->watch_timer_.async_wait([again](boost::system::error_code e) {
        if (!e) again();
      });
      return;
    }
    bool broken = false;
    while (auto next = reader->next(broken)) {
      const redis_reply& r = *next;
      // ["message", "+switch-master", "<name> <old ip> <old port> <new ip> <new port>"]
      if (r.type != redis_reply::kind::array || r.elements.size() != 3 || r.elements[0].text != "message") continue;
      const std::string& text = r.elements[2].text;
      const std::string& name = self->settings_.endpoint.sentinel.master_name;
      if (text.compare(0, name.size() + 1, name + " ") != 0) continue;
      const std::size_t last_space = text.rfind(' ');
      const std::size_t before = text.rfind(' ', last_space - 1);
      if (last_space == std::string::npos || before == std::string::npos) continue;
      const std::string host = text.substr(before + 1, last_space - before - 1);
      const std::string port = text.substr(last_space + 1);
      if (host == self->target_host_ && port == std::to_string(self->target_port_)) continue;
      log(log_level::warning, "the sentinels switched the master of '" + name + "' to " + host + ":" + port +
                                  "; reconnecting");
      if (self->open_) self->drop("the master changed");
    }
    self->read_switch_messages(watch, socket, reader, buffer);
  });
}

void redis_connection::post(unique_function<void()> fn) {
  asio::post(strand_, [f = std::move(fn)]() mutable { f(); });
}

void redis_connection::post_after(std::chrono::milliseconds delay, unique_function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(strand_, delay);
  timer->async_wait([timer, f = std::move(fn)](boost::system::error_code) mutable { f(); });
}

void redis_connection::execute(std::vector<std::string> args, reply_handler handler) {
  execute_formatted(resp_command(args), std::move(handler));
}

void redis_connection::execute_formatted(std::string wire, reply_handler handler) {
  execute_pipeline(std::move(wire), 1, std::move(handler));
}

// From any thread: onto the strand, then sent (or failed soon when not connected). Dispatched,
// not posted: on a thread of the executor with the strand free, or inside the strand already (a
// request resumed by a reply, see `on_read`), the command joins the batch at once, with no trip
// through the executor's queue. A failure is posted: a handler never runs inside `execute`.
void redis_connection::submit(std::string wire, reply_handler handler, std::size_t replies, unsigned wait_replicas,
                              std::chrono::milliseconds wait_timeout) {
  asio::dispatch(strand_, [self = shared_from_this(), wire = std::move(wire), handler = std::move(handler), replies,
                           wait_replicas, wait_timeout]() mutable {
    std::unique_ptr<command> cmd = self->make_command(std::move(wire), std::move(handler), replies);
    cmd->wait_replicas = wait_replicas;
    cmd->wait_timeout = wait_timeout;
    if (self->stopped_) return self->fail_soon(std::move(cmd), error::shut_down);
    if (!self->ready_ || !self->open_) {
      if (self->settings_.wait_for_first_connection && !self->first_attempt_ended_)
        return self->waiting_.push_back(std::move(cmd));
      return self->fail_soon(std::move(cmd), error::store_unavailable);
    }
    self->send(std::move(cmd));
  });
}

void redis_connection::fail_soon(std::unique_ptr<command> cmd, std::error_code ec) {
  asio::post(strand_, [cmd = std::move(cmd), ec]() mutable { cmd->complete(ec, {}); });
}

void redis_connection::execute_pipeline(std::string wire, std::size_t replies, reply_handler handler) {
  submit(std::move(wire), std::move(handler), replies, 0, {});
}

void redis_connection::execute_with_wait(std::string wire, unsigned replicas, std::chrono::milliseconds timeout,
                                         reply_handler handler, std::size_t replies) {
  submit(std::move(wire), std::move(handler), replies, replicas, timeout);
}

// A command object from the strand's spares (answered commands are kept for reuse: a request's
// commands then allocate none), or a new one.
std::unique_ptr<redis_connection::command> redis_connection::make_command(std::string wire, reply_handler handler,
                                                                           std::size_t replies) {
  if (spare_commands_.empty()) return std::make_unique<command>(std::move(wire), std::move(handler), replies);
  std::unique_ptr<command> cmd = std::move(spare_commands_.back());
  spare_commands_.pop_back();
  cmd->wire = std::move(wire);
  cmd->handler = std::move(handler);
  cmd->replies = replies;
  return cmd;
}

void redis_connection::recycle(std::unique_ptr<command> cmd) {
  constexpr std::size_t kept = 256;  // enough for a batch; the rest are freed
  if (spare_commands_.size() >= kept) return;
  cmd->handler = nullptr;
  cmd->wait_replicas = 0;
  cmd->wait_timeout = {};
  cmd->held = {};
  cmd->collected = {};
  cmd->done = false;
  spare_commands_.push_back(std::move(cmd));
}

// One WAIT behind all the writes of a batch that need replicas: Redis blocks a connection on
// WAIT, so a WAIT per write would make every command behind it wait for the replicas in turn.
void redis_connection::append_wait() {
  auto wait = std::make_unique<command>(
      resp_command({"WAIT", std::to_string(batch_wait_replicas_), std::to_string(batch_wait_timeout_.count())}),
      [self = shared_from_this()](std::error_code ec, redis_reply r) {
        // Every write held so far was sent before this WAIT (replies come in order).
        auto held = std::move(self->held_);
        self->held_.clear();
        bool logged = false;
        for (auto& cmd : held) {
          if (ec) {
            cmd->complete(ec, {});
          } else if (r.type != redis_reply::kind::integer || r.integer < static_cast<long long>(cmd->wait_replicas)) {
            if (!logged)
              log(log_level::warning, "a session write reached " + std::to_string(r.integer) + " of " +
                                          std::to_string(cmd->wait_replicas) +
                                          " replicas in time: not acknowledged (503)");
            logged = true;
            cmd->complete(error::store_unavailable, {});
          } else {
            cmd->complete({}, std::move(cmd->held));
          }
        }
      });
  batch_wait_replicas_ = 0;
  batch_wait_timeout_ = std::chrono::milliseconds(0);
  outgoing_.append(wait->wire);
  std::string().swap(wait->wire);
  wait->deadline = std::chrono::steady_clock::now() + settings_.command_timeout;
  pending_.push_back(std::move(wait));
}

// --- the transport ------------------------------------------------------------------------------

// Calls f(stream, keep_alive) with the open stream, whatever its kind; handlers of operations on
// it hold `keep_alive` so that closing the connection meanwhile does not destroy it under them.
template <class F>
void redis_connection::with_stream(F&& f) {
  std::visit(
      [&](auto& s) {
        using S = std::decay_t<decltype(s)>;
        if constexpr (!std::is_same_v<S, std::monostate>) f(*s, std::shared_ptr<void>(s));
      },
      stream_);
}

void redis_connection::close_transport() noexcept {
  ++generation_;  // callbacks of this connection are stale from now on
  open_ = false;
  handshaking_ = false;
  ready_ = false;
  boost::system::error_code ignored;
  with_stream([&](auto& s, const std::shared_ptr<void>&) {
    auto& socket = s.lowest_layer();
    socket.shutdown(asio::socket_base::shutdown_both, ignored);
    socket.close(ignored);
  });
  stream_ = std::monostate{};
  if (sentinel_socket_) {
    sentinel_socket_->close();
    sentinel_socket_.reset();
  }
  outgoing_.clear();
  // writing_ and incoming_ are left alone: an operation of the closed stream may still hold
  // them until its (stale) handler runs; the next connection starts long after (backoff).
  write_in_progress_ = false;
  flush_posted_ = false;
  reader_.reset();
}

void redis_connection::fail_pending(std::error_code ec) {
  first_attempt_ended_ = true;
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& cmd : waiting) cmd->complete(ec, {});
  auto held = std::move(held_);
  held_.clear();
  auto failed = std::move(pending_);
  pending_.clear();
  batch_wait_replicas_ = 0;
  for (auto& cmd : held) cmd->complete(ec, {});
  for (auto& cmd : failed) cmd->complete(ec, {});
}

// --- connecting ---------------------------------------------------------------------------------

void redis_connection::connect() {
  if (stopped_ || open_ || !std::holds_alternative<std::monostate>(stream_)) return;
  const auto& ep = settings_.endpoint;
  const std::uint64_t gen = ++generation_;
  connect_timer_.expires_after(settings_.connect_timeout);
  connect_timer_.async_wait([self = shared_from_this(), gen](boost::system::error_code ec) {
    if (ec || gen != self->generation_ || self->ready_ || self->stopped_) return;
    self->resolver_.cancel();
    self->note_failure(self->handshaking_ ? "Redis TLS handshake with " + self->target_host_ + ":" +
                                                std::to_string(self->target_port_) + " timed out (is that port TLS?)"
                                          : std::string("Redis connect timeout"));
    self->drop_quietly_and_retry();
  });
  if (!ep.sentinel.sentinels.empty()) return ask_sentinel(gen, 0);
  target_host_ = ep.host;
  target_port_ = ep.port;
  connect_to_target(gen);
}

void redis_connection::ask_sentinel(std::uint64_t gen, std::size_t attempt) {
  const redis_sentinel& s = settings_.endpoint.sentinel;
  if (sentinel_socket_) {
    sentinel_socket_->close();
    sentinel_socket_.reset();
  }
  if (attempt >= s.sentinels.size()) {
    note_failure("no sentinel named a master for '" + s.master_name + "'");
    return drop_quietly_and_retry();
  }
  const std::size_t index = (first_sentinel_ + attempt) % s.sentinels.size();
  const std::string host = s.sentinels[index].first;
  const std::uint16_t port = s.sentinels[index].second;
  auto socket = std::make_shared<sentinel_link>(strand_, tls_context_ ? &*tls_context_ : nullptr);
  sentinel_socket_ = socket;
  auto next = [self = shared_from_this(), gen, attempt](const std::string& why) {
    if (gen != self->generation_) return;
    const auto& [h, p] = self->settings_.endpoint.sentinel.sentinels[(self->first_sentinel_ + attempt) %
                                                                      self->settings_.endpoint.sentinel.sentinels.size()];
    log(log_level::debug, "sentinel " + h + ":" + std::to_string(p) + ": " + why);
    self->ask_sentinel(gen, attempt + 1);
  };
  resolver_.async_resolve(host, std::to_string(port), [self = shared_from_this(), gen, attempt, socket, next, host](
                                                          boost::system::error_code ec,
                                                          asio::ip::tcp::resolver::results_type results) mutable {
    if (gen != self->generation_) return;
    if (ec || results.empty()) return next("cannot be resolved");
    asio::async_connect(socket->socket(), results, [self, gen, attempt, socket, next, host](
                                                       boost::system::error_code ec, const asio::ip::tcp::endpoint&) mutable {
      if (gen != self->generation_) return;
      if (ec) return next("unreachable: " + ec.message());
      self->sentinel_handshake(*socket, host, [self, gen, attempt, socket, next, host](boost::system::error_code ec) mutable {
      if (gen != self->generation_) return;
      if (ec) {
        self->note_failure("Redis TLS handshake with sentinel " + host + " failed: " + ec.message() +
                           socket->verify_error());
        return next("TLS handshake failed: " + ec.message());
      }
      const redis_sentinel& s = self->settings_.endpoint.sentinel;
      auto request = std::make_shared<std::string>();
      int replies = 1;
      if (!s.password.empty()) {
        *request += s.username.empty() ? resp_command({"AUTH", s.password}) : resp_command({"AUTH", s.username, s.password});
        ++replies;
      }
      *request += resp_command({"SENTINEL", "get-master-addr-by-name", s.master_name});
      socket->write(asio::buffer(*request), [self, gen, attempt, socket, request, replies, next](
                                                boost::system::error_code ec, std::size_t) mutable {
        if (gen != self->generation_) return;
        if (ec) return next("write failed: " + ec.message());
        self->read_sentinel_answer(gen, attempt, socket, std::make_shared<redis_reply_reader>(),
                                   std::make_shared<std::array<char, 4096>>(), replies);
      });
      });
    });
  });
}

void redis_connection::read_sentinel_answer(std::uint64_t gen, std::size_t attempt, std::shared_ptr<sentinel_link> socket,
                                            std::shared_ptr<redis_reply_reader> reader,
                                            std::shared_ptr<std::array<char, 4096>> buffer, int replies_left) {
  socket->read_some(asio::buffer(*buffer), [self = shared_from_this(), gen, attempt, socket, reader, buffer,
                                                  replies_left](boost::system::error_code ec, std::size_t n) mutable {
    if (gen != self->generation_) return;
    const redis_sentinel& s = self->settings_.endpoint.sentinel;
    const std::size_t index = (self->first_sentinel_ + attempt) % s.sentinels.size();
    const std::string where = s.sentinels[index].first + ":" + std::to_string(s.sentinels[index].second);
    if (ec) return self->ask_sentinel(gen, attempt + 1);
    if (!reader->feed(buffer->data(), n)) return self->ask_sentinel(gen, attempt + 1);
    while (replies_left > 0) {
      bool broken = false;
      const std::optional<redis_reply> next = reader->next(broken);
      if (broken) return self->ask_sentinel(gen, attempt + 1);
      if (!next) return self->read_sentinel_answer(gen, attempt, socket, reader, buffer, replies_left);
      const redis_reply& r = *next;
      if (--replies_left > 0) {  // AUTH's answer
        if (r.type == redis_reply::kind::error) {
          log(log_level::error, "sentinel " + where + " refused AUTH: " + r.text);
          return self->ask_sentinel(gen, attempt + 1);
        }
        continue;
      }
      boost::system::error_code ignored;
      socket->close();
      self->sentinel_socket_.reset();
      if (r.type != redis_reply::kind::array || r.elements.size() != 2 ||
          r.elements[0].type != redis_reply::kind::string) {
        log(log_level::debug, "sentinel " + where + " names no master for '" + s.master_name + "'");
        return self->ask_sentinel(gen, attempt + 1);
      }
      unsigned long port = 0;
      try {
        port = std::stoul(r.elements[1].text);
      } catch (const std::exception&) {
      }
      if (port == 0 || port > 65535) return self->ask_sentinel(gen, attempt + 1);
      self->first_sentinel_ = index;
      if (self->target_host_ != r.elements[0].text || self->target_port_ != port)
        log(log_level::info, "sentinel " + where + ": the master of '" + s.master_name + "' is " + r.elements[0].text +
                                 ":" + std::to_string(port));
      self->target_host_ = r.elements[0].text;
      self->target_port_ = static_cast<std::uint16_t>(port);
      return self->connect_to_target(gen);
    }
  });
}

void redis_connection::connect_to_target(std::uint64_t gen) {
  const auto& ep = settings_.endpoint;
  if (!ep.unix_socket.empty()) {
    auto socket = std::make_shared<unix_socket>(strand_);
    stream_ = socket;
    socket->async_connect(asio::local::stream_protocol::endpoint(ep.unix_socket),
                         [self = shared_from_this(), gen, socket](boost::system::error_code ec) {
                           if (gen != self->generation_) return;
                           if (ec) {
                             self->note_failure("Redis connect to " + self->settings_.endpoint.unix_socket +
                                                " failed: " + ec.message());
                             return self->drop_quietly_and_retry();
                           }
                           self->on_transport_ready();
                         });
    return;
  }
  resolver_.async_resolve(
      target_host_, std::to_string(target_port_),
      [self = shared_from_this(), gen](boost::system::error_code ec, asio::ip::tcp::resolver::results_type results) {
        if (gen != self->generation_ || self->stopped_) return;
        if (ec || results.empty()) {
          if (ec != asio::error::operation_aborted)
            self->note_failure("Redis host " + self->target_host_ + " cannot be resolved: " + ec.message());
          return self->drop_quietly_and_retry();
        }
        tcp_socket* socket = nullptr;
        std::shared_ptr<void> keep;
        if (self->tls_context_) {
          auto tls = std::make_shared<tls_stream>(self->strand_, *self->tls_context_);
          socket = &tls->next_layer();
          keep = tls;
          self->stream_ = std::move(tls);
        } else {
          auto plain = std::make_shared<tcp_socket>(self->strand_);
          socket = plain.get();
          keep = plain;
          self->stream_ = std::move(plain);
        }
        asio::async_connect(*socket, results, [self, gen, keep](boost::system::error_code ec, const asio::ip::tcp::endpoint&) {
          if (gen != self->generation_) return;
          if (ec) {
            self->note_failure("Redis connection failed: " + ec.message());
            return self->drop_quietly_and_retry();
          }
          boost::system::error_code ignored;
          self->with_stream([&](auto& s, const std::shared_ptr<void>&) {
            s.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
          });
          if (!self->tls_context_) return self->on_transport_ready();
          self->start_handshake(gen);
        });
      });
}

void redis_connection::start_handshake(std::uint64_t gen) {
  std::shared_ptr<tls_stream> stream = std::get<std::shared_ptr<tls_stream>>(stream_);
  tls_stream& tls = *stream;
  const redis_tls& options = settings_.endpoint.tls;
  const std::string name = options.server_name.empty() ? target_host_ : options.server_name;
  // SNI for host names (not for addresses), and the name the certificate must carry.
  if (!is_ip_address(name)) SSL_set_tlsext_host_name(tls.native_handle(), name.c_str());
  if (options.verify) tls.set_verify_callback(asio::ssl::host_name_verification(name));
  handshaking_ = true;
  tls.async_handshake(asio::ssl::stream_base::client, [self = shared_from_this(), gen, stream](boost::system::error_code ec) {
    if (gen != self->generation_) return;
    self->handshaking_ = false;
    if (ec) {
      std::string why = ec.message();
      const long verify = SSL_get_verify_result(stream->native_handle());
      if (verify != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      self->note_failure("Redis TLS handshake with " + self->target_host_ + ":" + std::to_string(self->target_port_) +
                         " failed: " + why);
      return self->drop_quietly_and_retry();
    }
    self->on_transport_ready();
  });
}

void redis_connection::on_transport_ready() {
  open_ = true;
  reader_ = std::make_unique<redis_reply_reader>();
  start_read();
  // Log in before taking commands: AUTH, then SELECT, then PING to know all went through.
  const auto& ep = settings_.endpoint;
  std::vector<std::vector<std::string>> steps;
  if (!ep.password.empty()) {
    if (ep.username.empty()) steps.push_back({"AUTH", ep.password});
    else steps.push_back({"AUTH", ep.username, ep.password});
  }
  if (ep.database != 0) steps.push_back({"SELECT", std::to_string(ep.database)});
  // Through Sentinel: the address is the master's only until a failover; check it still is.
  if (!ep.sentinel.sentinels.empty()) steps.push_back({"ROLE"});
  steps.push_back({"PING"});
  auto failed = std::make_shared<bool>(false);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const bool last = i + 1 == steps.size();
    const std::string name = steps[i][0];
    send(std::make_unique<command>(
        resp_command(steps[i]),
        [self = shared_from_this(), failed, last, name, gen = generation_](std::error_code ec, redis_reply r) {
          if (*failed || gen != self->generation_) return;
          if (!ec && name == "ROLE" &&
              (r.type != redis_reply::kind::array || r.elements.empty() || r.elements[0].text != "master")) {
            *failed = true;
            self->note_failure("Redis at " + self->target_host_ + ":" + std::to_string(self->target_port_) +
                               " is not the master (" + (r.elements.empty() ? r.text : r.elements[0].text) +
                               "); asking the sentinels again");
            asio::post(self->strand_, [self] { self->drop("not the master"); });
            return;
          }
          if (ec || r.type == redis_reply::kind::error) {
            *failed = true;
            log(log_level::error, "Redis " + name + " failed: " + (ec ? ec.message() : r.text));
            asio::post(self->strand_, [self] { self->drop("login failed"); });
            return;
          }
          if (last) self->on_logged_in();
        }));
  }
}

void redis_connection::note_failure(const std::string& message) {
  // The first failure of an outage is worth a line; the retries every backoff are not.
  if (failures_++ % 100 == 0) log(log_level::warning, message + " (retrying with backoff)");
}

void redis_connection::on_logged_in() {
  failures_ = 0;
  connect_timer_.cancel();
  backoff_ = settings_.reconnect_min_delay;
  ready_.store(true, std::memory_order_release);
  log(log_level::info, "Redis connected" + (settings_.wait_for_first_connection
                                                ? " to " + target_host_ + ":" + std::to_string(target_port_)
                                                : std::string()));
  first_attempt_ended_ = true;
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& cmd : waiting) send(std::move(cmd));
}

void redis_connection::drop(const std::string& reason) {
  const bool was_ready = ready_;
  close_transport();
  fail_pending(stopped_ ? std::error_code(error::shut_down) : std::error_code(error::store_unavailable));
  if (!stopped_) {
    // A connection that served is worth a line each time it goes; one that fails while logging
    // in is a connection attempt failing, reported as those are (not every retry).
    if (was_ready) log(log_level::warning, "Redis connection dropped (" + reason + "); reconnecting");
    else note_failure("Redis connection failed while logging in (" + reason + ")");
  }
  schedule_reconnect();
  if (was_ready && !stopped_ && settings_.on_drop) settings_.on_drop();
}

void redis_connection::drop_quietly_and_retry() {
  connect_timer_.cancel();
  close_transport();
  fail_pending(stopped_ ? std::error_code(error::shut_down) : std::error_code(error::store_unavailable));
  schedule_reconnect();
}

void redis_connection::schedule_reconnect() {
  if (stopped_ || reconnect_pending_) return;
  reconnect_pending_ = true;
  reconnect_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, settings_.reconnect_max_delay);
  reconnect_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    self->reconnect_pending_ = false;
    if (!ec) self->connect();
  });
}

// --- commands: written in batches, replies parsed in bulk ----------------------------------------

void redis_connection::send(std::unique_ptr<command> cmd) {
  if (!open_) return cmd->complete(error::store_unavailable, {});
  if (cmd->wait_replicas > 0) {
    batch_wait_replicas_ = std::max(batch_wait_replicas_, cmd->wait_replicas);
    batch_wait_timeout_ = std::max(batch_wait_timeout_, cmd->wait_timeout);
  }
  outgoing_.append(cmd->wire);
  std::string().swap(cmd->wire);
  cmd->deadline = std::chrono::steady_clock::now() + settings_.command_timeout;
  pending_.push_back(std::move(cmd));
  arm_watchdog();
  // Every command queued in this turn of the event loop goes out in the same write.
  if (!write_in_progress_ && !flush_posted_) {
    flush_posted_ = true;
    asio::post(strand_, [self = shared_from_this(), gen = generation_] {
      if (gen != self->generation_) return;
      self->flush_posted_ = false;
      self->flush();
    });
  }
}

void redis_connection::flush() {
  if (write_in_progress_ || outgoing_.empty() || !open_) return;
  if (batch_wait_replicas_ > 0) append_wait();
  write_in_progress_ = true;
  writing_.swap(outgoing_);
  outgoing_.clear();
  writes_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t gen = generation_;
  with_stream([&](auto& s, std::shared_ptr<void> keep) {
    asio::async_write(s, asio::buffer(writing_), [self = shared_from_this(), gen, keep](boost::system::error_code ec, std::size_t) {
      if (gen != self->generation_) return;
      self->write_in_progress_ = false;
      self->writing_.clear();
      if (ec) return self->drop("write failed: " + ec.message());
      self->flush();  // what was queued meanwhile
    });
  });
}

void redis_connection::start_read() {
  const std::uint64_t gen = generation_;
  with_stream([&](auto& s, std::shared_ptr<void> keep) {
    s.async_read_some(asio::buffer(incoming_), [self = shared_from_this(), gen, keep](boost::system::error_code ec, std::size_t n) {
      if (gen != self->generation_) return;
      if (ec) return self->drop(ec == asio::error::eof ? std::string("closed by Redis") : "read failed: " + ec.message());
      self->on_read(n);
    });
  });
}

void redis_connection::on_read(std::size_t size) {
  const std::uint64_t gen = generation_;
  if (!reader_->feed(incoming_.data(), size)) return drop("unreadable reply");
  bool broken = false;
  while (std::optional<redis_reply> next = reader_->next(broken)) {
    redis_reply& copied = *next;
    if (pending_.empty()) return drop("a reply nobody asked for");
    // A master turned replica (a failover) refuses writes: find the master again.
    const bool demoted = copied.type == redis_reply::kind::error && copied.text.rfind("READONLY", 0) == 0;
    if (pending_.front()->collected.elements.size() + 1 < pending_.front()->replies) {
      pending_.front()->take(std::move(copied));  // a pipeline waits for the rest
    } else {
      std::unique_ptr<command> cmd = std::move(pending_.front());
      pending_.pop_front();
      if (cmd->wait_replicas > 0 && copied.type != redis_reply::kind::error) {
        cmd->held = std::move(copied);  // acknowledged when the batch's WAIT says so
        held_.push_back(std::move(cmd));
      } else if (cmd->wait_replicas > 0) {
        cmd->complete({}, std::move(copied));  // a write that failed: its own reply, as above
      } else {
        cmd->take(std::move(copied));
        recycle(std::move(cmd));
      }
    }
    if (gen != generation_) return;  // the handler dropped the connection
    if (demoted) return drop("READONLY: the server is a replica now");
  }
  if (broken) return drop("unreadable reply");
  start_read();
}

void redis_connection::arm_watchdog() {
  if (watchdog_armed_ || pending_.empty()) return;
  watchdog_armed_ = true;
  watchdog_.expires_at(pending_.front()->deadline);
  watchdog_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    self->watchdog_armed_ = false;
    if (ec || self->pending_.empty()) return;
    command& oldest = *self->pending_.front();
    if (oldest.deadline <= std::chrono::steady_clock::now()) {
      oldest.complete(error::store_timeout, {});
      // Replies come in order: everything queued behind this one waits as long. Start over.
      self->drop("command timeout");
      return;
    }
    self->arm_watchdog();
  });
}

}  // namespace sessionkit::detail
