// sessionkit on cpp-httplib: its handlers are synchronous, so the wrapper waits on the worker
// thread for the driver's completions (which run at once with an in-memory store).

#include <sessionkit/adapters/httplib.hpp>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>

namespace sessionkit::httplib {
namespace {

// Starts an operation that completes with `Args...` (inside the call, or later on any thread)
// and waits for it. No allocation: the result lives on this stack frame.
template <class... Args, class Start>
std::tuple<Args...> wait_for(Start start) {
  std::mutex mutex;
  std::condition_variable done;
  std::optional<std::tuple<Args...>> result;
  start([&](Args... args) {
    std::lock_guard lock(mutex);
    result.emplace(std::move(args)...);
    done.notify_one();
  });
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return result.has_value(); });
  return std::move(*result);
}

std::error_code wait_for_error(detail::unique_function<void(completion_handler)> start) {
  return std::get<0>(wait_for<std::error_code>(std::move(start)));
}

void fail_with(::httplib::Response& res, std::error_code ec) {
  // A fresh response: nothing the handler prepared (its cookies included) may go out. The old
  // one is destroyed here, which releases a content provider's resources.
  ::httplib::Response fresh;
  fresh.version = res.version;
  std::swap(res, fresh);
  const adapter::error_answer answer = adapter::answer_for(ec);
  res.status = answer.status;
  if (answer.seconds_until_retry) res.set_header("Retry-After", answer.seconds_until_retry);
  res.set_content(answer.body, std::string(adapter::error_answer::content_type));
}

}  // namespace

::httplib::Server::Handler session_handler(std::shared_ptr<const sessionkit::engine> engine,
                                           handler h, options opts) {
  if (!engine) throw std::invalid_argument("sessionkit::httplib::session_handler: no engine");
  if (!h) throw std::invalid_argument("sessionkit::httplib::session_handler: no handler");
  return [engine = std::move(engine), h = std::move(h), opts](const ::httplib::Request& req,
                                                               ::httplib::Response& res) {
    adapter::joined_header cookies("; "), protos(", ");
    for (auto [it, last] = req.headers.equal_range("Cookie"); it != last; ++it) cookies.add(it->second);
    for (auto [it, last] = req.headers.equal_range("X-Forwarded-Proto"); it != last; ++it) protos.add(it->second);
    bool tls = false;
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    tls = req.ssl != nullptr;
#endif
    request_info info = adapter::describe_request(req.target, cookies.value(), protos.value(), tls, opts.trust_proxy);
    adapter::joined_header ids(", ");
    if (engine->reads_id_header()) {  // header transport: the signed id may come in a header
      for (auto [it, last] = req.headers.equal_range(engine->settings().id_header); it != last; ++it) ids.add(it->second);
      info.id_header = ids.value();
    }
    auto driver = engine->begin(info);
    if (driver->first_step() == request_driver::step::skip) {
      context none;
      h(req, res, none);
      return;
    }
    if (auto ec = wait_for_error([&](completion_handler done) { driver->load(std::move(done)); })) {
      fail_with(res, ec);
      return;
    }
    context ctx(driver);
    h(req, res, ctx);
    auto [ec, set_cookie] = wait_for<std::error_code, std::optional<std::string>>(
        [&](auto done) { driver->end(std::move(done)); });
    if (ec) fail_with(res, ec);
    else if (set_cookie) res.headers.emplace("Set-Cookie", std::move(*set_cookie));
    if (!ec && driver->id_header_value()) res.set_header(engine->settings().id_header, *driver->id_header_value());
  };
}

sessions::sessions(std::shared_ptr<const sessionkit::engine> engine, options opts)
    : engine_(std::move(engine)), opts_(opts) {
  if (!engine_) throw std::invalid_argument("sessionkit::httplib::sessions: no engine");
}

std::error_code save(sessionkit::session& s) {
  return wait_for_error([&](completion_handler done) { s.save(std::move(done)); });
}

std::error_code reload(sessionkit::session& s) {
  return wait_for_error([&](completion_handler done) { s.reload(std::move(done)); });
}

std::error_code regenerate(sessionkit::session& s) {
  return wait_for_error([&](completion_handler done) { s.regenerate(std::move(done)); });
}

std::error_code renew(sessionkit::session& s) {
  return wait_for_error([&](completion_handler done) { s.renew(std::move(done)); });
}

std::error_code destroy(sessionkit::session& s) {
  return wait_for_error([&](completion_handler done) { s.destroy(std::move(done)); });
}

std::pair<std::error_code, std::vector<user_session>> sessions_of(const sessionkit::engine& e, std::string_view user) {
  auto [ec, sessions] = wait_for<std::error_code, std::vector<user_session>>(
      [&](auto done) { e.sessions_of(user, std::move(done)); });
  return {ec, std::move(sessions)};
}

std::pair<std::error_code, std::size_t> destroy_all_of(const sessionkit::engine& e, std::string_view user,
                                                       std::string_view keep_id) {
  auto [ec, n] = wait_for<std::error_code, std::size_t>([&](auto done) { e.destroy_all_of(user, keep_id, std::move(done)); });
  return {ec, n};
}

}  // namespace sessionkit::httplib
