#include <sessionkit/adapters/beast.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <tuple>

namespace sessionkit::beast {

context::context(request& req, response& res, bool secure) : req_(req), res_(res), secure_(secure) {}

std::string_view context::path() const noexcept {
  const std::string_view target(req_.target().data(), req_.target().size());
  return target.substr(0, target.find('?'));
}

std::string_view context::query() const noexcept {
  const std::string_view target(req_.target().data(), req_.target().size());
  const std::size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

void context::send(http::status status, std::string body, std::string_view content_type) {
  res_.result(status);
  res_.set(http::field::content_type, content_type);
  res_.body() = std::move(body);
}

namespace {

// Express's default routing: case-insensitive, one optional trailing slash.
bool path_matches(std::string_view pattern, std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return pattern.size() == path.size() &&
         std::equal(pattern.begin(), pattern.end(), path.begin(), [](char a, char b) {
           return (a >= 'A' && a <= 'Z' ? a + 32 : a) == (b >= 'A' && b <= 'Z' ? b + 32 : b);
         });
}

}  // namespace

app& app::use(middleware m) {
  entries_.push_back({std::move(m), {}, {}, {}});
  return *this;
}

app& app::route(http::verb method, std::string path, handler h) {
  entries_.push_back({{}, method, std::move(path), std::move(h)});
  return *this;
}

boost::asio::awaitable<void> app::dispatch(context& ctx) const {
  ctx.app_ = this;
  return run_from(ctx, 0);  // not a coroutine itself: one frame less per request
}

namespace {

boost::asio::awaitable<void> nothing_more() { co_return; }

}  // namespace

// Not a coroutine: it returns the awaitable of the middleware or route it picks, so a request
// keeps no frame of its own per step of the chain (fewer frame allocations).
boost::asio::awaitable<void> app::run_from(context& ctx, std::size_t index) const {
  const std::string_view path = ctx.path();
  const http::verb method = ctx.req().method();
  bool path_known = false;
  for (std::size_t i = index; i < entries_.size(); ++i) {
    const entry& e = entries_[i];
    if (e.use) {
      // Two words of captures fit std::function's own storage: no allocation per request.
      return e.use(ctx, [&ctx, next = i + 1]() { return ctx.app_->run_from(ctx, next); });
    }
    if (!path_matches(e.path, path)) continue;
    if (e.method == method || (method == http::verb::head && e.method == http::verb::get)) return e.fn(ctx);
    path_known = true;
  }
  if (path_known) ctx.send(http::status::method_not_allowed, "Method Not Allowed", "text/plain; charset=utf-8");
  else ctx.send(http::status::not_found, "Not Found", "text/plain; charset=utf-8");
  return nothing_more();
}

namespace {

// All values of a header joined with `separator`, as Node joins repeated headers.
template <class Key>
std::string_view joined(const request& req, Key field, std::string_view separator,
                        std::string& storage) {
  auto range = req.equal_range(field);
  if (range.first == range.second) return {};
  auto second = std::next(range.first);
  if (second == range.second) return {range.first->value().data(), range.first->value().size()};
  for (auto it = range.first; it != range.second; ++it) {
    if (!storage.empty()) storage.append(separator);
    storage.append(it->value().data(), it->value().size());
  }
  return storage;
}

void fail_with(context& ctx, std::error_code ec) {
  // A fresh response: nothing the handler prepared (its cookies included) may go out.
  response& res = ctx.res();
  const unsigned version = res.version();
  const bool keep_alive = res.keep_alive();
  res = response{};
  res.version(version);
  res.keep_alive(keep_alive);
  if (is_unavailable(ec)) {
    res.set(http::field::retry_after, "1");
    ctx.send(http::status::service_unavailable,
             "Service Unavailable: " + ec.message() + "; please retry\n",
             "text/plain; charset=utf-8");
  } else {
    ctx.send(http::status::internal_server_error,
             "Internal Server Error: session store error (" + ec.message() + ")\n",
             "text/plain; charset=utf-8");
  }
}

}  // namespace

middleware session_middleware(std::shared_ptr<const sessionkit::engine> engine) {
  return [engine](context& ctx, next_handler next) -> boost::asio::awaitable<void> {
    using boost::asio::as_tuple;
    using boost::asio::use_awaitable;
    std::string cookie_storage, proto_storage;
    request_info info;
    info.path = ctx.path();
    info.cookie_header = joined(ctx.req(), http::field::cookie, "; ", cookie_storage);
    info.forwarded_proto = joined(ctx.req(), boost::beast::string_view("X-Forwarded-Proto"), ", ", proto_storage);
    info.adapter_secure = ctx.secure();
    auto state = engine->begin(info);
    if (state->first_step() == session_context::step::skip) {
      co_await next();
      co_return;
    }
    // A store that answers at once (in memory) is not waited for: no thread hops.
    std::optional<std::error_code> loaded = state->try_load();
    if (!loaded) std::tie(loaded.emplace()) = co_await async_load(*state, as_tuple(use_awaitable));
    if (*loaded) {
      fail_with(ctx, *loaded);
      co_return;
    }
    ctx.set_session_state(state);
    co_await next();
    std::optional<end_result> ended = state->try_end();
    if (!ended) {
      auto [ec, set_cookie] = co_await async_end(*state, as_tuple(use_awaitable));
      ended = end_result{ec, std::move(set_cookie)};
    }
    if (ended->error) fail_with(ctx, ended->error);
    else if (ended->set_cookie) ctx.res().insert(http::field::set_cookie, *ended->set_cookie);
  };
}

}  // namespace sessionkit::beast
