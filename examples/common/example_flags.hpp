#pragma once
// Command-line flags of the example servers: where to listen, which store, and every session
// option, so behaviour can be tried without recompiling.

#include <sessionkit/options.hpp>
#include <sessionkit/stores/memory_store.hpp>
#include <sessionkit/stores/redis_store.hpp>
#include <sessionkit/stores/sqlite_store.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sessionkit::examples {

struct example_flags {
  std::string host = "127.0.0.1";
  unsigned short port = 3000;
  unsigned threads = 0;  // 0: one per core
  std::string store = "memory";  // "memory", a Redis URL, or sqlite:PATH
  sessionkit::redis_store_options redis;
  sessionkit::sqlite_store_options sqlite;
  sessionkit::memory_store_options memory;
  bool trust_proxy = false;
  /// Time allowed to receive a request (slow clients) and to wait on an idle connection.
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)};
  /// Connections open at once (Beast and cpp-httplib examples); 0: no limit.
  std::size_t max_connections = 1024;
  std::chrono::milliseconds prune_interval{std::chrono::seconds(60)};
  sessionkit::options session;  // defaults are the seed app's
  /// Whether the secret is the seed's public demo secret (no --secret given).
  bool demo_secret = true;
  bool help = false;
};

/// A flag that is unknown or has a bad value; the message says which and why.
class flag_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The seed app's settings: secret `Rs89I67YEA55cLMgi0t6oyr8568e6KtD` (public: anyone can forge
/// cookies signed with it; the examples warn when it is used), resave false, saveUninitialized
/// true.
example_flags default_flags();

/// Parses argv (without argv[0]) over `default_flags()`.
/// @throws flag_error
example_flags parse_flags(const std::vector<std::string>& args);

/// The `--help` text.
std::string usage(const std::string& program);

}  // namespace sessionkit::examples
