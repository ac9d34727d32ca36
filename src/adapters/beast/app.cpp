#include <sessionkit/adapters/beast.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <tuple>

namespace sessionkit::beast {

context::context(request& req, response& res, bool secure, cookie_memo* memo)
    : req_(req), res_(res), secure_(secure), memo_(memo) {}

std::string_view context::path() const noexcept {
  return adapter::path_of_target(std::string_view(req_.target().data(), req_.target().size()));
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

namespace detail {

request_info describe(const http::request_header<>& req, bool adapter_secure,
                      adapter::joined_header& cookies, adapter::joined_header& protos) {
  // One pass over the fields in arrival order (two lookups by name walk Beast's tree with
  // case-insensitive comparisons: ~450 instructions a request).
  for (const auto& f : req) {
    const std::string_view value(f.value().data(), f.value().size());
    if (f.name() == http::field::cookie) cookies.add(value);
    else if (f.name() == http::field::unknown && boost::beast::iequals(f.name_string(), "X-Forwarded-Proto"))
      protos.add(value);
  }
  const std::string_view target(req.target().data(), req.target().size());
  request_info info = adapter::describe_request(target, cookies.value(), protos.value(), false, false);
  info.adapter_secure = adapter_secure;
  return info;
}

void answer_store_error(response& res, std::error_code ec) {
  const adapter::error_answer answer = adapter::answer_for(ec);
  const unsigned version = res.version();
  const bool keep_alive = res.keep_alive();
  res = response{static_cast<http::status>(answer.status), version};
  res.keep_alive(keep_alive);
  if (answer.seconds_until_retry) res.set(http::field::retry_after, answer.seconds_until_retry);
  res.set(http::field::content_type, adapter::error_answer::content_type);
  res.body() = answer.body;
}

void finish_response(response& res, std::error_code ec, const std::optional<std::string>& set_cookie) {
  if (ec) answer_store_error(res, ec);
  else if (set_cookie) res.insert(http::field::set_cookie, *set_cookie);
}

}  // namespace detail

middleware session_middleware(std::shared_ptr<const sessionkit::engine> engine) {
  return [engine](context& ctx, next_handler next) -> boost::asio::awaitable<void> {
    using boost::asio::as_tuple;
    using boost::asio::use_awaitable;
    adapter::joined_header cookies("; "), protos(", "), ids(", ");
    request_info info = detail::describe(ctx.req(), ctx.secure(), cookies, protos);
    info.memo = ctx.memo();
    if (engine->reads_id_header()) {  // header transport: the signed id may come in a header
      for (auto [it, last] = ctx.req().equal_range(engine->settings().id_header); it != last; ++it)
        ids.add(std::string_view(it->value().data(), it->value().size()));
      info.id_header = ids.value();
    }
    auto driver = engine->begin(info);
    if (driver->first_step() == request_driver::step::skip) {
      co_await next();
      co_return;
    }
    // With a store that answers at once the driver completes inside the call: the coroutine
    // then does not suspend (a co_await costs ~750 instructions, bench/instructions.sh).
    std::error_code ec;
    if (driver->completes_at_once()) driver->load([&](std::error_code e) { ec = e; });
    else std::tie(ec) = co_await async_load(*driver, as_tuple(use_awaitable));
    if (ec) {
      detail::answer_store_error(ctx.res(), ec);
      co_return;
    }
    ctx.set_driver(driver);
    co_await next();
    std::optional<std::string> set_cookie;
    if (driver->completes_at_once()) {
      driver->end([&](std::error_code e, std::optional<std::string> c) {
        ec = e;
        set_cookie = std::move(c);
      });
    } else {
      std::tie(ec, set_cookie) = co_await async_end(*driver, as_tuple(use_awaitable));
    }
    detail::finish_response(ctx.res(), ec, set_cookie);
    if (!ec && driver->id_header_value()) ctx.res().set(engine->settings().id_header, *driver->id_header_value());
  };
}

}  // namespace sessionkit::beast
