#pragma once
// One connection to Redis, all I/O done by Asio (plain TCP, a Unix socket, or TLS through
// OpenSSL), hiredis used only to parse replies (its reader works on any bytes). Commands from
// any thread are posted to the strand; those that arrive in one turn of the event loop go out in
// one write, and replies are parsed from each read in bulk. The connection logs in (AUTH,
// SELECT), times commands out, and reconnects with backoff.

#include <sessionkit/detail/unique_function.hpp>
#include <sessionkit/stores/redis_store.hpp>

#include "redis_reply_reader.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

namespace sessionkit::detail {

class sentinel_link;

/// A command in the Redis protocol (RESP), ready for the wire.
std::string resp_command(std::initializer_list<std::string_view> args);
std::string resp_command(const std::vector<std::string>& args);
std::string resp_command(std::span<const std::string_view> args);
/// The commands of `wire` (RESP commands back to back, as `resp_command` makes them), each as
/// its own wire; none when `wire` is not that.
std::vector<std::string_view> split_resp_commands(std::string_view wire);

class redis_connection : public std::enable_shared_from_this<redis_connection> {
 public:
  using reply_handler = unique_function<void(std::error_code, redis_reply)>;

  struct settings {
    redis_endpoint endpoint;
    std::chrono::milliseconds connect_timeout;
    std::chrono::milliseconds command_timeout;
    std::chrono::milliseconds reconnect_min_delay;
    std::chrono::milliseconds reconnect_max_delay;
    /// Commands sent before the first connection attempt has ended wait for it (a cluster
    /// node's connection, made when a command needs it) instead of failing at once.
    bool wait_for_first_connection = false;
    /// Runs on the strand each time a connection that was up goes away (a cluster client asks
    /// for a new slot map then, not at its next periodic refresh: the node may have failed over).
    std::function<void()> on_drop;
  };

  /// @throws std::invalid_argument when a TLS file (CA, certificate, key) cannot be loaded
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
  /// Sends `wire`, which holds `replies` commands (RESP) back to back, nothing else in between;
  /// the handler gets their replies as one array (one reply: as it is), or the error that
  /// ended them all.
  void execute_pipeline(std::string wire, std::size_t replies, reply_handler handler);
  /// Runs a write acknowledged only once `replicas` replicas have it: one `WAIT` goes behind
  /// all such writes of a batch; the handler gets the write's reply once the WAIT answered,
  /// or `error::store_unavailable` when fewer replicas had it in `timeout`.
  /// `wire` may hold `replies` commands (ASKING before a redirected write): the handler gets the
  /// last one's reply.
  void execute_with_wait(std::string wire, unsigned replicas, std::chrono::milliseconds timeout,
                         reply_handler handler, std::size_t replies = 1);
  /// Runs `fn` on the strand.
  void post(unique_function<void()> fn);
  /// Runs `fn` on the strand after `delay`.
  void post_after(std::chrono::milliseconds delay, unique_function<void()> fn);
  /// Connected and logged in.
  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }
  /// How many writes have gone to the socket (batching makes it fewer than the commands).
  std::uint64_t writes() const noexcept { return writes_.load(std::memory_order_relaxed); }

 private:
  struct command;
  using tcp_socket = boost::asio::ip::tcp::socket;
  using unix_socket = boost::asio::local::stream_protocol::socket;
  using tls_stream = boost::asio::ssl::stream<tcp_socket>;

  void connect();
  void connect_to_target(std::uint64_t gen);
  // Sentinel: asks the sentinels in turn for the master's address, then connects to it.
  void ask_sentinel(std::uint64_t gen, std::size_t attempt);
  void read_sentinel_answer(std::uint64_t gen, std::size_t attempt, std::shared_ptr<sentinel_link> socket,
                            std::shared_ptr<redis_reply_reader> reader, std::shared_ptr<std::array<char, 4096>> buffer,
                            int replies_left);
  void start_handshake(std::uint64_t gen);
  template <class Handler>
  void sentinel_handshake(sentinel_link& link, const std::string& host, Handler&& handler);
  // Sentinel: a subscription to +switch-master on one sentinel, so a failover is followed at
  // once (not only when the old master's connection drops or answers READONLY).
  void watch_sentinels(std::size_t attempt);
  void read_switch_messages(std::uint64_t watch, std::shared_ptr<sentinel_link> socket,
                            std::shared_ptr<redis_reply_reader> reader, std::shared_ptr<std::array<char, 4096>> buffer);
  void on_transport_ready();
  void drop_quietly_and_retry();
  void on_logged_in();
  void drop(const std::string& reason);  // a connection that was up went away
  void fail_pending(std::error_code ec);
  void close_transport() noexcept;
  void note_failure(const std::string& message);
  void schedule_reconnect();
  void submit(std::string wire, reply_handler handler, std::size_t replies, unsigned wait_replicas,
              std::chrono::milliseconds wait_timeout);
  std::unique_ptr<command> make_command(std::string wire, reply_handler handler, std::size_t replies);
  void recycle(std::unique_ptr<command> cmd);
  void fail_soon(std::unique_ptr<command> cmd, std::error_code ec);
  void send(std::unique_ptr<command> cmd);
  void flush();
  void append_wait();
  void start_read();
  void on_read(std::size_t size);
  void arm_watchdog();
  template <class F>
  void with_stream(F&& f);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  settings settings_;
  std::optional<boost::asio::ssl::context> tls_context_;  // rediss:// only
  // Everything below is touched only on the strand.
  // Shared: a stream closed while an operation is in flight stays alive until its handler ran.
  std::variant<std::monostate, std::shared_ptr<tcp_socket>, std::shared_ptr<unix_socket>, std::shared_ptr<tls_stream>>
      stream_;
  std::uint64_t generation_ = 0;  // bumped when a connection goes; stale callbacks check it
  bool open_ = false;             // transport connected (and TLS handshake done)
  bool handshaking_ = false;      // TCP connected, TLS handshake under way
  // Where the connection goes: the URL's host and port, or the master the sentinels named.
  std::string target_host_;
  std::uint16_t target_port_ = 0;
  std::size_t first_sentinel_ = 0;              // the one that answered last is asked first
  std::shared_ptr<sentinel_link> sentinel_socket_;  // a query in flight (closed on timeout)
  std::shared_ptr<sentinel_link> watch_socket_;     // the +switch-master subscription
  std::uint64_t watch_generation_ = 0;           // bumped when the subscription goes
  bool stopped_ = false;
  bool reconnect_pending_ = false;
  unsigned failures_ = 0;  // connection attempts failed since the last success
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer reconnect_timer_;
  // Commands sent and not yet answered, oldest first: Redis answers in order, so one timer on
  // the oldest deadline times them all out (no timer per command).
  std::deque<std::unique_ptr<command>> pending_;
  // Commands waiting for the first connection (settings::wait_for_first_connection).
  std::deque<std::unique_ptr<command>> waiting_;
  bool first_attempt_ended_ = false;
  std::string outgoing_;           // commands waiting for the next write
  // Writes in `outgoing_` that need replicas: the WAIT that goes behind them.
  unsigned batch_wait_replicas_ = 0;
  std::chrono::milliseconds batch_wait_timeout_{0};
  // Writes answered by Redis, waiting for the WAIT behind them (oldest first).
  std::deque<std::unique_ptr<command>> held_;
  std::vector<std::unique_ptr<command>> spare_commands_;  // answered, kept for reuse
  std::string writing_;            // the write in progress
  bool write_in_progress_ = false;
  bool flush_posted_ = false;
  std::array<char, 16 * 1024> incoming_{};
  std::unique_ptr<redis_reply_reader> reader_;
  boost::asio::steady_timer watchdog_;
  bool watchdog_armed_ = false;
  boost::asio::steady_timer watch_timer_;  // before subscribing to a sentinel again
  std::chrono::milliseconds backoff_;
  std::atomic<bool> ready_{false};
  std::atomic<std::uint64_t> writes_{0};
};

}  // namespace sessionkit::detail
