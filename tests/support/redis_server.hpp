#pragma once
// A redis-server of the test's own: started on a free loopback port in a temporary directory,
// stopped and removed afterwards. Tests never touch a Redis they did not start.

#include "support/child_process.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sessionkit::test {

/// One reply from the test's own synchronous Redis client.
struct redis_value {
  bool nil = false;
  bool error = false;
  std::string text;  // string, status or error text
  long long integer = 0;
  std::vector<redis_value> elements;
};

class redis_server {
 public:
  /// @param persistent append-only file with fsync on every write, so data survives restarts
  /// @param port 0: a free one
  explicit redis_server(bool persistent = false, std::vector<std::string> extra_args = {}, std::uint16_t port = 0);
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  /// Starts again on the same port and directory (after stop() or kill()).
  void start();
  /// SHUTDOWN through SIGTERM; waits for the exit.
  void stop();
  /// SIGKILL.
  void kill();
  bool running() const noexcept { return process_ != nullptr; }

  /// The password command() logs in with (for a server started with --requirepass).
  void set_password(std::string password) { password_ = std::move(password); }

  /// Runs one command on a fresh synchronous connection.
  /// @throws std::runtime_error when Redis cannot be reached
  redis_value command(const std::vector<std::string>& args) const;

  /// Convenience: GET (nil as empty optional), TTL, the keys matching a pattern.
  std::optional<std::string> get(const std::string& key) const;
  long long ttl(const std::string& key) const;
  std::vector<std::string> keys(const std::string& pattern) const;

 private:
  void wait_until_ready() const;

  bool persistent_;
  std::vector<std::string> extra_args_;
  std::string dir_;
  std::uint16_t port_ = 0;
  std::string password_;
  std::unique_ptr<child_process> process_;
};

/// A free TCP port on 127.0.0.1 (bound once and released).
std::uint16_t free_port();
/// A free TCP port on 127.0.0.1 below the kernel's ephemeral range, for a server a test starts
/// on it only later: no other test's `free_port()` and no outgoing connection is given it
/// meanwhile (an ephemeral port could be).
std::uint16_t free_port_for_later();

/// The full path of a program found in PATH.
/// @throws std::runtime_error when it is not installed
std::string find_program(const std::string& name);

}  // namespace sessionkit::test
