#pragma once
// sessionctl's view of a store: opened from a URL, operations made blocking (the store's
// completions run on a thread of our own), errors as messages fit for an operator.

#include <sessionkit/store.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sessionctl {

/// A usage problem (bad URL, unknown store kind): exit code 2.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The store failed or could not be reached: exit code 1.
class store_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct store_settings {
  std::string url;                      ///< redis://..., unix:..., sqlite:PATH
  std::string redis_prefix = "sess:";
  std::string redis_user_prefix = "sessionkit-user:";  ///< the user index's sets
  std::string tls_ca, tls_cert, tls_key;  ///< rediss:// files
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};
};

class store_client {
 public:
  /// Opens the store and waits until it is reachable.
  /// @throws usage_error for a URL that is not an external store, store_error when unreachable
  explicit store_client(const store_settings& settings);
  ~store_client();
  store_client(const store_client&) = delete;
  store_client& operator=(const store_client&) = delete;

  /// One page of the walk (see `sessionkit::store::page`). @throws store_error
  sessionkit::session_page page(const std::string& cursor, std::size_t size);
  /// @throws store_error
  std::optional<std::string> get(const std::string& id);
  /// @throws store_error
  void destroy(const std::string& id);
  /// The sessions of `user` through the store's user index. @throws store_error
  std::vector<sessionkit::listed_session> sessions_of(const std::string& user);
  /// Destroys several at once (sent together, waited for together). @throws store_error
  void destroy_all(const std::vector<std::string>& ids);

  /// The URL with passwords masked.
  const std::string& shown_url() const noexcept { return shown_url_; }

 private:
  void close() noexcept;
  [[noreturn]] void fail(const std::string& what, std::error_code ec) const;

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::future<void> ran_out_;  // ready once the io_context ran out of work
  std::shared_ptr<sessionkit::store> store_;
  std::string shown_url_;
  std::chrono::milliseconds timeout_;
};

/// The last warning or error the library logged (why a connection failed, say), or "".
std::string last_library_message();

}  // namespace sessionctl
