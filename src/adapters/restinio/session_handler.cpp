// sessionkit on RESTinio: the session layer's compiled parts.

#include <sessionkit/adapters/restinio.hpp>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace sessionkit::restinio {
namespace detail {

std::shared_ptr<request_driver> begin(const sessionkit::engine& engine,
                                      const ::restinio::http_request_header_t& header, const options& opts) {
  adapter::joined_header cookies("; "), protos(", ");
  auto add_to = [](adapter::joined_header& joined) {
    return [&joined](::restinio::string_view_t value) {
      joined.add({value.data(), value.size()});
      return ::restinio::http_header_fields_t::continue_enumeration();
    };
  };
  header.for_each_value_of(::restinio::http_field_t::cookie, add_to(cookies));
  header.for_each_value_of(::restinio::string_view_t("X-Forwarded-Proto"), add_to(protos));
  const std::string& target = header.request_target();  // origin or absolute form
  request_info info = adapter::describe_request(target, cookies.value(), protos.value(), opts.tls, opts.trust_proxy);
  adapter::joined_header ids(", ");
  if (engine.reads_id_header()) {  // header transport: the signed id may come in a header
    header.for_each_value_of(::restinio::string_view_t(engine.settings().id_header), add_to(ids));
    info.id_header = ids.value();
  }
  return engine.begin(info);
}

void load(const std::shared_ptr<request_driver>& driver, const options& opts,
          sessionkit::detail::unique_function<void(std::error_code)> then) {
  if (!opts.executor) {
    driver->load(std::move(then));
    return;
  }
  // The handler runs on the executor whatever the store: at once when already there. The
  // executor is kept busy while the store works, so it cannot run out of work meanwhile.
  auto work = boost::asio::make_work_guard(opts.executor);
  driver->load([work = std::move(work), then = std::move(then)](std::error_code ec) mutable {
    auto executor = work.get_executor();
    boost::asio::dispatch(executor, [then = std::move(then), ec]() mutable { then(ec); });
    work.reset();
  });
}

void fail(response& resp, std::error_code ec) {
  // A fresh header: nothing the handler prepared (its cookies included) may go out.
  const bool keep_alive = resp.header().should_keep_alive();
  const adapter::error_answer answer = adapter::answer_for(ec);
  resp.header() = ::restinio::http_response_header_t{
      answer.status == 503 ? ::restinio::status_service_unavailable() : ::restinio::status_internal_server_error()};
  if (answer.seconds_until_retry) resp.append_header(::restinio::http_field_t::retry_after, answer.seconds_until_retry);
  resp.set_body(answer.body);
  resp.header().should_keep_alive(keep_alive);
  resp.append_header(::restinio::http_field_t::content_type, std::string(adapter::error_answer::content_type));
}

void end_and_send(std::shared_ptr<request_driver> driver, response resp,
                  ::restinio::write_status_cb_t after_write, std::shared_ptr<const void> keep) {
  request_driver& d = *driver;
  d.end([driver = std::move(driver), resp = std::move(resp), after_write = std::move(after_write),
         keep = std::move(keep)](std::error_code ec, std::optional<std::string> set_cookie) mutable {
    if (ec) fail(resp, ec);
    else if (set_cookie) resp.append_header(::restinio::http_field_t::set_cookie, std::move(*set_cookie));
    if (!ec && driver->id_header_value())
      resp.append_header(driver->owner().settings().id_header, *driver->id_header_value());
    try {
      resp.done(std::move(after_write));
    } catch (const std::exception&) {
      // done() twice for this response; nothing left to send.
    }
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
