#include "redis_connection.hpp"

#include <sessionkit/error.hpp>
#include <sessionkit/log.hpp>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/post.hpp>

namespace sessionkit::detail {

namespace asio = boost::asio;

redis_reply copy_reply(const redisReply* r) {
  redis_reply out;
  if (!r) return out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = redis_reply::kind::string; break;
    case REDIS_REPLY_STATUS: out.type = redis_reply::kind::status; break;
    case REDIS_REPLY_ERROR: out.type = redis_reply::kind::error; break;
    case REDIS_REPLY_INTEGER: out.type = redis_reply::kind::integer; break;
    case REDIS_REPLY_ARRAY: out.type = redis_reply::kind::array; break;
    default: out.type = redis_reply::kind::nil; break;
  }
  if (r->str && (out.type == redis_reply::kind::string || out.type == redis_reply::kind::status ||
                 out.type == redis_reply::kind::error))
    out.text.assign(r->str, r->len);
  out.integer = r->integer;
  if (out.type == redis_reply::kind::array) {
    out.elements.reserve(r->elements);
    for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy_reply(r->element[i]));
  }
  return out;
}

namespace {

template <class Range>
std::string format_resp(const Range& args, std::size_t count) {
  std::size_t size = 16;
  for (const auto& a : args) size += a.size() + 16;
  std::string out;
  out.reserve(size);
  out += '*';
  out += std::to_string(count);
  out += "\r\n";
  for (const auto& a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out.append(a.data(), a.size());
    out += "\r\n";
  }
  return out;
}

}  // namespace

std::string resp_command(std::initializer_list<std::string_view> args) { return format_resp(args, args.size()); }
std::string resp_command(const std::vector<std::string>& args) { return format_resp(args, args.size()); }

struct redis_connection::command {
  command(std::string w, reply_handler h) : wire(std::move(w)), handler(std::move(h)) {}

  void complete(std::error_code ec, redis_reply reply) {
    if (done) return;
    done = true;
    auto h = std::move(handler);
    h(ec, std::move(reply));
  }

  std::string wire;  // the command in RESP
  reply_handler handler;
  std::chrono::steady_clock::time_point deadline;
  bool done = false;
};

redis_connection::redis_connection(asio::any_io_executor executor, settings s)
    : strand_(asio::make_strand(executor)),
      settings_(std::move(s)),
      resolver_(strand_),
      connect_timer_(strand_),
      reconnect_timer_(strand_),
      watchdog_(strand_),
      backoff_(settings_.reconnect_min_delay) {}

redis_connection::~redis_connection() {
  // Only reached once no handler holds us: the context is already gone unless stop() never ran
  // and the executor was destroyed; free it without callbacks into us.
  if (context_) {
    context_->ev.cleanup = nullptr;
    context_->onDisconnect = nullptr;
    context_->data = nullptr;
    if (socket_) socket_->release();
    redisAsyncFree(context_);
  }
}

void redis_connection::start() {
  asio::post(strand_, [self = shared_from_this()] { self->connect(); });
}

void redis_connection::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->ready_ = false;
    self->resolver_.cancel();
    self->connect_timer_.cancel();
    self->reconnect_timer_.cancel();
    self->watchdog_.cancel();
    if (self->context_) redisAsyncFree(self->context_);  // pending commands get shut_down
  });
}

void redis_connection::post(unique_function<void()> fn) {
  asio::post(strand_, [f = std::move(fn)]() mutable { f(); });
}

void redis_connection::execute_transaction(std::vector<std::string> wires, reply_handler handler) {
  asio::post(strand_, [self = shared_from_this(), wires = std::move(wires), h = std::move(handler)]() mutable {
    if (self->stopped_) return h(error::shut_down, {});
    if (!self->ready_ || !self->context_) return h(error::store_unavailable, {});
    // Sent back to back from one strand handler: no other command comes in between.
    for (std::size_t i = 0; i + 1 < wires.size(); ++i)
      self->send(std::make_unique<command>(std::move(wires[i]), [](std::error_code, redis_reply) {}));
    self->send(std::make_unique<command>(std::move(wires.back()), std::move(h)));
  });
}

void redis_connection::post_after(std::chrono::milliseconds delay, unique_function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(strand_, delay);
  timer->async_wait([timer, f = std::move(fn)](boost::system::error_code) mutable { f(); });
}

void redis_connection::execute(std::vector<std::string> args, reply_handler handler) {
  execute_formatted(resp_command(args), std::move(handler));
}

void redis_connection::execute_formatted(std::string wire, reply_handler handler) {
  auto cmd = std::make_unique<command>(std::move(wire), std::move(handler));
  asio::post(strand_, [self = shared_from_this(), cmd = std::move(cmd)]() mutable {
    if (self->stopped_) return cmd->complete(error::shut_down, {});
    if (!self->ready_ || !self->context_) return cmd->complete(error::store_unavailable, {});
    self->send(std::move(cmd));
  });
}

// --- connecting ---------------------------------------------------------------------------------

void redis_connection::connect() {
  if (stopped_ || context_) return;
  const auto& ep = settings_.endpoint;
  connect_timer_.expires_after(settings_.connect_timeout);
  connect_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->ready_ || self->stopped_) return;
    self->resolver_.cancel();
    self->drop("connect timeout");
  });
  if (!ep.unix_socket.empty()) {
    open({});
    return;
  }
  // Resolve asynchronously: hiredis would block the thread in getaddrinfo.
  resolver_.async_resolve(ep.host, std::to_string(ep.port),
                          [self = shared_from_this()](boost::system::error_code ec,
                                                      asio::ip::tcp::resolver::results_type results) {
                            if (self->stopped_ || self->context_) return;
                            if (ec || results.empty()) {
                              if (ec != asio::error::operation_aborted)
                                self->note_failure("Redis host " + self->settings_.endpoint.host +
                                                   " cannot be resolved: " + ec.message());
                              self->connect_timer_.cancel();
                              self->schedule_reconnect();
                              return;
                            }
                            self->open(results.begin()->endpoint().address().to_string());
                          });
}

void redis_connection::open(const std::string& address) {
  const auto& ep = settings_.endpoint;
  redisAsyncContext* ac = ep.unix_socket.empty() ? redisAsyncConnect(address.c_str(), ep.port)
                                                 : redisAsyncConnectUnix(ep.unix_socket.c_str());
  if (!ac || ac->err) {
    note_failure(std::string("Redis connect failed: ") + (ac ? ac->errstr : "out of memory"));
    if (ac) redisAsyncFree(ac);
    connect_timer_.cancel();
    schedule_reconnect();
    return;
  }
  context_ = ac;
  ++generation_;
  ac->data = this;
  ac->ev.data = this;
  ac->ev.addRead = hook_add_read;
  ac->ev.delRead = hook_del_read;
  ac->ev.addWrite = hook_add_write;
  ac->ev.delWrite = hook_del_write;
  ac->ev.cleanup = hook_cleanup;
  socket_.emplace(strand_, ac->c.fd);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  redisAsyncSetConnectCallback(ac, on_connect);  // also asks for the first write event
}

void redis_connection::on_connect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<redis_connection*>(ac->data);
  if (!self) return;
  if (status != REDIS_OK) {
    // hiredis frees the context right after this callback.
    self->note_failure(std::string("Redis connection failed: ") + ac->errstr);
    self->connect_timer_.cancel();
    self->schedule_reconnect();
    return;
  }
  self->connected_ = true;
  self->on_connected();
}

void redis_connection::on_connected() {
  // Log in before taking commands: AUTH, then SELECT, then PING to know all went through.
  const auto& ep = settings_.endpoint;
  std::vector<std::vector<std::string>> steps;
  if (!ep.password.empty()) {
    if (ep.username.empty()) steps.push_back({"AUTH", ep.password});
    else steps.push_back({"AUTH", ep.username, ep.password});
  }
  if (ep.database != 0) steps.push_back({"SELECT", std::to_string(ep.database)});
  steps.push_back({"PING"});
  auto failed = std::make_shared<bool>(false);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const bool last = i + 1 == steps.size();
    const std::string name = steps[i][0];
    send(std::make_unique<command>(
        resp_command(steps[i]),
        [self = shared_from_this(), failed, last, name, gen = generation_](std::error_code ec, redis_reply r) {
          if (*failed || gen != self->generation_) return;
          if (ec || r.type == redis_reply::kind::error) {
            *failed = true;
            log(log_level::error, "Redis " + name + " failed: " + (ec ? ec.message() : r.text));
            // Not inside hiredis's reply callback: free the context from a fresh call.
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
  log(log_level::info, "Redis connected");
}

void redis_connection::drop(const char* reason) {
  ready_ = false;
  if (context_) {
    log(log_level::warning, std::string("Redis connection dropped (") + reason + "); reconnecting");
    redisAsyncFree(context_);  // commands in flight complete with store_unavailable
  }
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

void redis_connection::on_disconnect(const redisAsyncContext* ac, int) {
  auto* self = static_cast<redis_connection*>(ac->data);
  if (!self) return;
  self->ready_ = false;
  self->connected_ = false;
  if (!self->stopped_) {
    log(log_level::warning, "Redis connection lost; reconnecting");
    // Not from inside hiredis: it is still freeing this context.
    asio::post(self->strand_, [s = self->shared_from_this()] { s->schedule_reconnect(); });
  }
}

// --- commands -----------------------------------------------------------------------------------

void redis_connection::send(std::unique_ptr<command> cmd) {
  if (redisAsyncFormattedCommand(context_, on_reply, cmd.get(), cmd->wire.data(), cmd->wire.size()) != REDIS_OK)
    return cmd->complete(error::store_unavailable, {});
  std::string().swap(cmd->wire);  // hiredis has its own copy now
  cmd->deadline = std::chrono::steady_clock::now() + settings_.command_timeout;
  pending_.push_back(std::move(cmd));
  arm_watchdog();
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

void redis_connection::on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<redis_connection*>(ac->data);
  if (!self || self->pending_.empty() || self->pending_.front().get() != privdata) {
    log(log_level::error, "Redis reply out of order; dropping the connection");
    return;
  }
  std::unique_ptr<command> cmd = std::move(self->pending_.front());
  self->pending_.pop_front();
  if (!reply) {
    // The context is going away (lost, dropped or stopped): not ready from now on, before
    // anyone hears of the failure.
    self->ready_ = false;
    cmd->complete(self->stopped_ ? error::shut_down : error::store_unavailable, {});
    return;
  }
  cmd->complete({}, copy_reply(static_cast<redisReply*>(reply)));
}

// --- socket readiness for hiredis -----------------------------------------------------------------

void redis_connection::arm_read() {
  if (!socket_ || !want_read_ || read_armed_) return;
  read_armed_ = true;
  socket_->async_wait(asio::posix::stream_descriptor::wait_read,
                      [self = shared_from_this(), gen = generation_](boost::system::error_code ec) {
                        if (gen != self->generation_) return;
                        self->read_armed_ = false;
                        if (ec || !self->context_) return;
                        if (self->want_read_) redisAsyncHandleRead(self->context_);
                        if (gen == self->generation_) self->arm_read();
                      });
}

void redis_connection::arm_write() {
  if (!socket_ || !want_write_ || write_armed_) return;
  write_armed_ = true;
  socket_->async_wait(asio::posix::stream_descriptor::wait_write,
                      [self = shared_from_this(), gen = generation_](boost::system::error_code ec) {
                        if (gen != self->generation_) return;
                        self->write_armed_ = false;
                        if (ec || !self->context_) return;
                        if (self->want_write_) redisAsyncHandleWrite(self->context_);
                        if (gen == self->generation_) self->arm_write();
                      });
}

void redis_connection::hook_add_read(void* p) {
  auto* self = static_cast<redis_connection*>(p);
  self->want_read_ = true;
  self->arm_read();
}

void redis_connection::hook_del_read(void* p) { static_cast<redis_connection*>(p)->want_read_ = false; }

void redis_connection::hook_add_write(void* p) {
  auto* self = static_cast<redis_connection*>(p);
  self->want_write_ = true;
  self->arm_write();
}

void redis_connection::hook_del_write(void* p) { static_cast<redis_connection*>(p)->want_write_ = false; }

void redis_connection::hook_cleanup(void* p) {
  // hiredis is freeing the context and will close the descriptor itself.
  auto* self = static_cast<redis_connection*>(p);
  self->want_read_ = self->want_write_ = false;
  self->read_armed_ = self->write_armed_ = false;
  if (self->socket_) {
    self->socket_->release();
    self->socket_.reset();
  }
  self->context_ = nullptr;
  self->connected_ = false;
  self->ready_ = false;
  ++self->generation_;
}

}  // namespace sessionkit::detail
