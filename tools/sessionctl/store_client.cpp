#include "store_client.hpp"

#include <sessionkit/log.hpp>
#include <sessionkit/stores/redis_store.hpp>
#include <sessionkit/stores/sqlite_store.hpp>

#include <future>
#include <mutex>

namespace sessionctl {
namespace {

std::mutex message_mutex;
std::string last_message;

// The library's log lines are kept, not printed: the tool says what failed in its own words and
// adds the library's reason.
void keep_library_messages() {
  sessionkit::set_log_sink([](sessionkit::log_level level, std::string_view message) {
    if (level < sessionkit::log_level::warning) return;
    std::lock_guard lock(message_mutex);
    last_message = std::string(message);
  });
}

template <class R, class Start>
std::optional<R> wait_for(std::chrono::milliseconds timeout, Start start) {
  auto promise = std::make_shared<std::promise<R>>();
  auto future = promise->get_future();
  start([promise](R r) { promise->set_value(std::move(r)); });
  if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return future.get();
}

}  // namespace

std::string last_library_message() {
  std::lock_guard lock(message_mutex);
  return last_message;
}

store_client::store_client(const store_settings& settings)
    : work_(boost::asio::make_work_guard(io_)), shown_url_(sessionkit::redact_url(settings.url)),
      timeout_(settings.timeout) {
  keep_library_messages();
  const std::string& url = settings.url;
  if (sessionkit::is_redis_url(url)) {
    sessionkit::redis_store_options o;
    try {
      o.endpoint = sessionkit::parse_redis_url(url);
    } catch (const std::invalid_argument& e) {
      throw usage_error(std::string("--store: ") + e.what());
    }
    if (!settings.tls_ca.empty() || !settings.tls_cert.empty() || !settings.tls_key.empty()) {
      if (!o.endpoint.tls.enabled) throw usage_error("--redis-tls-*: the store is not a rediss://, rediss-sentinel:// or rediss-cluster:// URL");
      o.endpoint.tls.ca_file = settings.tls_ca;
      o.endpoint.tls.cert_file = settings.tls_cert;
      o.endpoint.tls.key_file = settings.tls_key;
    }
    o.prefix = settings.redis_prefix;
    o.user_index_prefix = settings.redis_user_prefix;
    o.connect_timeout = settings.timeout;
    o.command_timeout = settings.timeout;
    try {
      store_ = std::make_shared<sessionkit::redis_store>(io_.get_executor(), std::move(o));
    } catch (const std::invalid_argument& e) {
      throw usage_error(e.what());  // a TLS file that cannot be loaded
    }
  } else if (url.rfind("sqlite:", 0) == 0) {
    sessionkit::sqlite_store_options o;
    try {
      o.path = sessionkit::parse_sqlite_url(url).path;
      store_ = std::make_shared<sessionkit::sqlite_store>(io_.get_executor(), std::move(o));
    } catch (const std::invalid_argument& e) {
      throw usage_error(std::string("--store: ") + e.what());
    } catch (const std::runtime_error& e) {
      throw store_error(std::string("cannot open ") + shown_url_ + ": " + e.what());
    }
  } else if (url == "memory") {
    throw usage_error("--store memory: a memory store lives inside its server process; sessionctl works on "
                      "Redis (redis://, unix:) and SQLite (sqlite:PATH) stores");
  } else {
    throw usage_error("--store: '" + shown_url_ + "' is not a store URL; use redis://HOST:PORT, rediss://HOST:PORT, "
                      "unix:/path.sock or sqlite:PATH");
  }
  std::promise<void> ran_out;
  ran_out_ = ran_out.get_future();
  thread_ = std::thread([this, ran_out = std::move(ran_out)]() mutable {
    io_.run();
    ran_out.set_value();
  });
  const auto deadline = std::chrono::steady_clock::now() + settings.timeout;
  while (!store_->ready() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!store_->ready()) {
    const std::string why = last_library_message();
    close();  // no destructor runs for an object whose constructor throws
    throw store_error("cannot reach the store at " + shown_url_ + (why.empty() ? "" : ": " + why));
  }
}

store_client::~store_client() { close(); }

void store_client::close() noexcept {
  if (store_) store_->shutdown();
  work_.reset();
  if (thread_.joinable()) {
    // The shutdown runs on the io_context: it fails what is still in flight (a slot-map refresh,
    // say) and closes the connections, so the handlers they hold let go of the store; stopping
    // the io_context before that left them holding each other (a leak at exit). A store with
    // work left after a second is stopped all the same.
    if (ran_out_.wait_for(std::chrono::seconds(1)) != std::future_status::ready) io_.stop();
    thread_.join();
  }
  store_.reset();
}

void store_client::fail(const std::string& what, std::error_code ec) const {
  std::string message = what + " failed on " + shown_url_ + ": " + ec.message();
  const std::string why = last_library_message();
  if (!why.empty()) message += " (" + why + ")";
  throw store_error(message);
}

sessionkit::session_page store_client::page(const std::string& cursor, std::size_t size) {
  using answer = std::pair<std::error_code, sessionkit::session_page>;
  auto r = wait_for<answer>(timeout_ * 2, [&](auto done) {
    store_->page(cursor, size, [done](std::error_code ec, sessionkit::session_page p) mutable {
      done(answer{ec, std::move(p)});
    });
  });
  if (!r) fail("listing sessions", sessionkit::error::store_timeout);
  if (r->first) fail("listing sessions", r->first);
  return std::move(r->second);
}

std::optional<std::string> store_client::get(const std::string& id) {
  using answer = std::pair<std::error_code, std::optional<std::string>>;
  auto r = wait_for<answer>(timeout_ * 2, [&](auto done) {
    store_->get(id, [done](std::error_code ec, std::optional<std::string> json) mutable {
      done(answer{ec, std::move(json)});
    });
  });
  if (!r) fail("reading a session", sessionkit::error::store_timeout);
  if (r->first) fail("reading a session", r->first);
  return std::move(r->second);
}

std::vector<sessionkit::listed_session> store_client::sessions_of(const std::string& user) {
  using answer = std::pair<std::error_code, std::vector<sessionkit::listed_session>>;
  auto r = wait_for<answer>(timeout_ * 2, [&](auto done) {
    store_->sessions_of(user, [done](std::error_code ec, std::vector<sessionkit::listed_session> v) mutable {
      done(answer{ec, std::move(v)});
    });
  });
  if (!r) fail("finding a user's sessions", sessionkit::error::store_timeout);
  if (r->first) fail("finding a user's sessions", r->first);
  return std::move(r->second);
}

void store_client::destroy(const std::string& id) { destroy_all({id}); }

void store_client::destroy_all(const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  struct tally {
    std::mutex mutex;
    std::size_t left;
    std::error_code first;
    std::promise<std::error_code> done;
  };
  auto t = std::make_shared<tally>();
  t->left = ids.size();
  auto future = t->done.get_future();
  for (const auto& id : ids) {
    store_->destroy(id, [t](std::error_code ec) {
      std::lock_guard lock(t->mutex);
      if (ec && !t->first) t->first = ec;
      if (--t->left == 0) t->done.set_value(t->first);
    });
  }
  if (future.wait_for(timeout_ * 2) != std::future_status::ready) fail("destroying sessions", sessionkit::error::store_timeout);
  if (const std::error_code ec = future.get()) fail("destroying sessions", ec);
}

}  // namespace sessionctl
