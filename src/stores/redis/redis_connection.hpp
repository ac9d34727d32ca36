#pragma once
// One hiredis asynchronous connection driven by Asio: the socket is watched with
// posix::stream_descriptor::async_wait on a strand, and hiredis reads and writes when told it
// can. Commands from any thread are posted to the strand and pipelined on the connection.
// The connection logs in (AUTH, SELECT), times commands out, and reconnects with backoff.

#include <sessionkit/detail/unique_function.hpp>
#include <sessionkit/stores/redis_store.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <initializer_list>
#include <string_view>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

struct redisAsyncContext;
struct redisReply;

namespace sessionkit::detail {

/// A reply, copied out of hiredis's reply object.
struct redis_reply {
  enum class kind { nil, string, integer, array, status, error };
  kind type = kind::nil;
  std::string text;  // string, status or error text
  long long integer = 0;
  std::vector<redis_reply> elements;
};

/// Copies a hiredis reply (nullptr gives nil).
redis_reply copy_reply(const redisReply* reply);

/// A command in the Redis protocol (RESP), ready for the wire: one allocation, and hiredis only
/// appends it to its buffer instead of formatting it again.
std::string resp_command(std::initializer_list<std::string_view> args);
std::string resp_command(const std::vector<std::string>& args);

class redis_connection : public std::enable_shared_from_this<redis_connection> {
 public:
  using reply_handler = unique_function<void(std::error_code, redis_reply)>;

  struct settings {
    redis_endpoint endpoint;
    std::chrono::milliseconds connect_timeout;
    std::chrono::milliseconds command_timeout;
    std::chrono::milliseconds reconnect_min_delay;
    std::chrono::milliseconds reconnect_max_delay;
  };

  redis_connection(boost::asio::any_io_executor executor, settings s);
  ~redis_connection();

  /// Starts connecting (call once, after construction).
  void start();
  /// Closes for good: commands in flight complete with `error::shut_down`.
  void stop();
  /// Runs a command; the handler runs on the connection's strand, exactly once, never inside
  /// this call. Fails fast with `error::store_unavailable` while not connected.
  void execute(std::vector<std::string> args, reply_handler handler);
  /// The same with a command already in RESP (see `resp_command`).
  void execute_formatted(std::string wire, reply_handler handler);
  /// Sends the commands (RESP) back to back, nothing else in between (MULTI ... EXEC); the
  /// handler gets the last one's reply (the others' are dropped).
  void execute_transaction(std::vector<std::string> wires, reply_handler handler);
  /// Runs `fn` on the strand.
  void post(unique_function<void()> fn);
  /// Runs `fn` on the strand after `delay`.
  void post_after(std::chrono::milliseconds delay, unique_function<void()> fn);
  /// Connected and logged in.
  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }

 private:
  struct command;

  void connect();
  void open(const std::string& address);
  void on_connected();
  void on_logged_in();
  void drop(const char* reason);
  void note_failure(const std::string& message);
  void schedule_reconnect();
  void send(std::unique_ptr<command> cmd);
  void arm_watchdog();
  void arm_read();
  void arm_write();

  static void hook_add_read(void* self);
  static void hook_del_read(void* self);
  static void hook_add_write(void* self);
  static void hook_del_write(void* self);
  static void hook_cleanup(void* self);
  static void on_connect(const redisAsyncContext* ac, int status);
  static void on_disconnect(const redisAsyncContext* ac, int status);
  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  settings settings_;
  // Everything below is touched only on the strand.
  redisAsyncContext* context_ = nullptr;
  std::optional<boost::asio::posix::stream_descriptor> socket_;
  std::uint64_t generation_ = 0;  // bumped when a context goes; stale socket waits check it
  bool want_read_ = false, want_write_ = false;
  bool read_armed_ = false, write_armed_ = false;
  bool connected_ = false;
  bool stopped_ = false;
  bool reconnect_pending_ = false;
  unsigned failures_ = 0;  // connection attempts failed since the last success
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer reconnect_timer_;
  // Commands sent and not yet answered, oldest first: Redis answers in order, so one timer on
  // the oldest deadline times them all out (no timer per command).
  std::deque<std::unique_ptr<command>> pending_;
  boost::asio::steady_timer watchdog_;
  bool watchdog_armed_ = false;
  std::chrono::milliseconds backoff_;
  std::atomic<bool> ready_{false};
};

}  // namespace sessionkit::detail
