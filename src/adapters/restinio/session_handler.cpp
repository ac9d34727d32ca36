#include <sessionkit/adapters/restinio.hpp>

#include <boost/asio/bind_executor.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace sessionkit::restinio {
namespace detail {
namespace {

// All values of a header joined with `separator`, as Node joins repeated headers.
std::string joined(const ::restinio::http_request_header_t& header, ::restinio::http_field_t field,
                   std::string_view separator) {
  std::string out;
  bool first = true;
  header.for_each_value_of(field, [&](::restinio::string_view_t value) {
    if (!first) out.append(separator);
    first = false;
    out.append(value.data(), value.size());
    return ::restinio::http_header_fields_t::continue_enumeration();
  });
  return out;
}

std::string joined(const ::restinio::http_request_header_t& header, std::string_view name,
                   std::string_view separator) {
  std::string out;
  bool first = true;
  header.for_each_value_of(::restinio::string_view_t(name.data(), name.size()),
                           [&](::restinio::string_view_t value) {
                             if (!first) out.append(separator);
                             first = false;
                             out.append(value.data(), value.size());
                             return ::restinio::http_header_fields_t::continue_enumeration();
                           });
  return out;
}

}  // namespace

std::shared_ptr<sessionkit::session_context> begin(const sessionkit::engine& engine,
                                                   const ::restinio::http_request_header_t& header,
                                                   const options& opts) {
  const std::string cookies = joined(header, ::restinio::http_field_t::cookie, "; ");
  const std::string protos = joined(header, "X-Forwarded-Proto", ", ");
  const auto path = header.path();  // the raw path, without the query
  request_info info;
  info.path = std::string_view(path.data(), path.size());
  info.cookie_header = cookies;
  info.forwarded_proto = protos;
  info.tls = opts.tls;
  info.adapter_secure = opts.tls || (opts.trust_proxy && forwarded_proto_is_https(protos));
  return engine.begin(info);
}

void load(const std::shared_ptr<sessionkit::session_context>& state, const options& opts,
          sessionkit::detail::unique_function<void(std::error_code)> then) {
  // A store that answers at once (in memory) is not waited for: no thread hops.
  if (auto loaded = state->try_load()) {
    then(*loaded);
    return;
  }
  if (opts.executor)
    sessionkit::async_load(*state, boost::asio::bind_executor(
                                       opts.executor, [state, then = std::move(then)](std::error_code ec) mutable {
                                         then(ec);
                                       }));
  else
    state->load([state, then = std::move(then)](std::error_code ec) mutable { then(ec); });
}

void fail(response& resp, std::error_code ec) {
  // A fresh header: nothing the handler prepared (its cookies included) may go out.
  const bool keep_alive = resp.header().should_keep_alive();
  if (is_unavailable(ec)) {
    resp.header() = ::restinio::http_response_header_t{::restinio::status_service_unavailable()};
    resp.append_header(::restinio::http_field_t::retry_after, "1");
    resp.set_body("Service Unavailable: " + ec.message() + "; please retry\n");
  } else {
    resp.header() = ::restinio::http_response_header_t{::restinio::status_internal_server_error()};
    resp.set_body("Internal Server Error: session store error (" + ec.message() + ")\n");
  }
  resp.header().should_keep_alive(keep_alive);
  resp.append_header(::restinio::http_field_t::content_type, "text/plain; charset=utf-8");
}

void end_and_send(std::shared_ptr<sessionkit::session_context> state, response resp,
                  ::restinio::write_status_cb_t after_write, std::shared_ptr<const void> keep) {
  auto finish = [](response& resp, ::restinio::write_status_cb_t after_write, std::error_code ec,
                   std::optional<std::string> set_cookie) {
    if (ec) fail(resp, ec);
    else if (set_cookie) resp.append_header(::restinio::http_field_t::set_cookie, std::move(*set_cookie));
    try {
      resp.done(std::move(after_write));
    } catch (const std::exception&) {
      // done() twice for this response; nothing left to send.
    }
  };
  if (auto ended = state->try_end()) {  // the store answered at once
    finish(resp, std::move(after_write), ended->error, std::move(ended->set_cookie));
    return;
  }
  auto& context = *state;
  context.end([state = std::move(state), resp = std::move(resp), after_write = std::move(after_write),
               keep = std::move(keep), finish](std::error_code ec, std::optional<std::string> set_cookie) mutable {
    finish(resp, std::move(after_write), ec, std::move(set_cookie));
  });
}

void answer_unhandled(response resp, bool exception) {
  if (exception) {
    resp.header().status_line(::restinio::status_internal_server_error());
    resp.append_header(::restinio::http_field_t::content_type, "text/plain; charset=utf-8");
    resp.set_body("Internal Server Error\n");
  } else {
    resp.header().status_line(::restinio::status_not_implemented());
  }
  resp.connection_close();
  resp.done();
}

}  // namespace detail
}  // namespace sessionkit::restinio
