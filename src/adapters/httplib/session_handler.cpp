#include <sessionkit/adapters/httplib.hpp>

#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>

namespace sessionkit::httplib {
namespace {

// Starts an operation that completes with `Args...` (on any thread) and waits for it.
template <class... Args, class Start>
std::tuple<Args...> wait_for(Start start) {
  std::promise<std::tuple<Args...>> promise;
  auto result = promise.get_future();
  start([p = std::move(promise)](Args... args) mutable { p.set_value({std::move(args)...}); });
  return result.get();
}

std::error_code wait_for_error(detail::unique_function<void(completion_handler)> start) {
  return std::get<0>(wait_for<std::error_code>(std::move(start)));
}

// All values of a header joined with `separator`, as Node joins repeated headers.
std::string joined(const ::httplib::Request& req, const char* name, std::string_view separator) {
  auto [first, last] = req.headers.equal_range(name);
  std::string out;
  for (auto it = first; it != last; ++it) {
    if (it != first) out.append(separator);
    out.append(it->second);
  }
  return out;
}

void fail_with(::httplib::Response& res, std::error_code ec) {
  // A fresh response: nothing the handler prepared (its cookies included) may go out. The old
  // one is destroyed here, which releases a content provider's resources.
  ::httplib::Response fresh;
  fresh.version = res.version;
  std::swap(res, fresh);
  if (is_unavailable(ec)) {
    res.status = 503;
    res.set_header("Retry-After", "1");
    res.set_content("Service Unavailable: " + ec.message() + "; please retry\n",
                    "text/plain; charset=utf-8");
  } else {
    res.status = 500;
    res.set_content("Internal Server Error: session store error (" + ec.message() + ")\n",
                    "text/plain; charset=utf-8");
  }
}

}  // namespace

::httplib::Server::Handler session_handler(std::shared_ptr<const sessionkit::engine> engine,
                                           handler h, options opts) {
  if (!engine) throw std::invalid_argument("sessionkit::httplib::session_handler: no engine");
  if (!h) throw std::invalid_argument("sessionkit::httplib::session_handler: no handler");
  return [engine = std::move(engine), h = std::move(h), opts](const ::httplib::Request& req,
                                                               ::httplib::Response& res) {
    const std::string cookies = joined(req, "Cookie", "; ");
    const std::string protos = joined(req, "X-Forwarded-Proto", ", ");
    const std::string_view target = req.target;
    request_info info;
    info.path = target.substr(0, target.find('?'));
    info.cookie_header = cookies;
    info.forwarded_proto = protos;
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    info.tls = req.ssl != nullptr;
#endif
    info.adapter_secure = info.tls || (opts.trust_proxy && forwarded_proto_is_https(protos));
    auto state = engine->begin(info);

    switch (state->first_step()) {
      case session_context::step::skip: {
        context none(nullptr);
        h(req, res, none);
        return;
      }
      case session_context::step::ready:  // a new session: nothing to load
      case session_context::step::load:
      case session_context::step::unavailable: {
        // A store that answers at once (in memory) is not waited for.
        std::optional<std::error_code> loaded = state->try_load();
        if (!loaded) loaded = wait_for_error([&](completion_handler done) { state->load(std::move(done)); });
        if (*loaded) {
          fail_with(res, *loaded);
          return;
        }
        break;
      }
    }

    context ctx(state);
    h(req, res, ctx);

    std::optional<end_result> ended = state->try_end();
    if (!ended) {
      auto [ec, set_cookie] = wait_for<std::error_code, std::optional<std::string>>(
          [&](auto done) { state->end(std::move(done)); });
      ended = end_result{ec, std::move(set_cookie)};
    }
    if (ended->error) fail_with(res, ended->error);
    else if (ended->set_cookie) res.headers.emplace("Set-Cookie", std::move(*ended->set_cookie));
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

std::error_code destroy(sessionkit::session& s) {
  return wait_for_error([&](completion_handler done) { s.destroy(std::move(done)); });
}

}  // namespace sessionkit::httplib
