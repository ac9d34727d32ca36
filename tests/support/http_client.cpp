#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <ctime>
#include <stdexcept>

namespace sessionkit::test {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// Generous so the tests can check the server's own limits, not ours.
constexpr std::uint32_t response_header_limit = 1024 * 1024;
constexpr std::uint64_t response_body_limit = 16 * 1024 * 1024;

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// Runs the io_context until the operation just started (and its timer
// handler) has finished; this turns Beast's async timeouts into a
// synchronous call with a deadline.
void run(net::io_context& ioc)
{
    ioc.restart();
    ioc.run();
}

void connect(net::io_context& ioc, beast::tcp_stream& stream, std::uint16_t port,
             std::chrono::milliseconds timeout)
{
    const tcp::endpoint endpoint(net::ip::make_address_v4("127.0.0.1"), port);
    error_code ec = net::error::would_block;
    stream.expires_after(timeout);
    stream.async_connect(endpoint, [&](error_code e) { ec = e; });
    run(ioc);
    if (ec) {
        throw boost::system::system_error(ec, "connect to 127.0.0.1:" + std::to_string(port));
    }
}

response to_response(http::response<http::string_body>&& m)
{
    response r;
    r.status = m.result_int();
    r.reason = std::string(m.reason());
    r.version = m.version();
    r.keep_alive = m.keep_alive();
    for (const auto& f : m) {
        std::string value(f.value());
        if (f.name() == http::field::set_cookie) {
            r.set_cookies.push_back(value);
        }
        r.headers.emplace_back(std::string(f.name_string()), std::move(value));
    }
    r.body = std::move(m.body());
    return r;
}

response exchange(net::io_context& ioc, beast::tcp_stream& stream, beast::flat_buffer& buffer,
                  std::uint16_t port, std::string_view target, const header_list& headers,
                  std::chrono::milliseconds timeout, const std::optional<std::string>& post_body = {})
{
    http::request<http::string_body> req{post_body ? http::verb::post : http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    req.set(http::field::user_agent, "sessionkit-integration-tests");
    for (const auto& [name, value] : headers) {
        req.insert(name, value);
    }
    if (post_body) {
        req.body() = *post_body;
        req.prepare_payload();
    }

    const std::string what = (post_body ? "POST " : "GET ") + std::string(target);
    error_code ec = net::error::would_block;
    stream.expires_after(timeout);
    http::async_write(stream, req, [&](error_code e, std::size_t) { ec = e; });
    run(ioc);
    if (ec) {
        throw boost::system::system_error(ec, what + ": write");
    }

    http::response_parser<http::string_body> parser;
    parser.header_limit(response_header_limit);
    parser.body_limit(response_body_limit);
    ec = net::error::would_block;
    stream.expires_after(timeout);
    http::async_read(stream, buffer, parser, [&](error_code e, std::size_t) { ec = e; });
    run(ioc);
    if (ec) {
        throw boost::system::system_error(ec, what + ": read");
    }
    return to_response(parser.release());
}

void close_quietly(beast::tcp_stream& stream) noexcept
{
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
}

}  // namespace

std::string describe(const response& r)
{
    std::string s = "status " + std::to_string(r.status) + ", body \"" + r.body + "\", " +
                    std::to_string(r.set_cookies.size()) + " Set-Cookie";
    for (const auto& c : r.set_cookies) {
        s += "\n  Set-Cookie: " + c;
    }
    return s;
}

std::optional<std::string> response::header(std::string_view name) const
{
    for (const auto& [n, v] : headers) {
        if (iequals(n, name)) {
            return v;
        }
    }
    return std::nullopt;
}

response get(std::uint16_t port, std::string_view target, const header_list& headers,
             std::chrono::milliseconds timeout)
{
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    beast::flat_buffer buffer;
    connect(ioc, stream, port, timeout);
    auto r = exchange(ioc, stream, buffer, port, target, headers, timeout);
    close_quietly(stream);
    return r;
}

response post(std::uint16_t port, std::string_view target, const std::string& body, const header_list& headers,
              std::chrono::milliseconds timeout)
{
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    beast::flat_buffer buffer;
    connect(ioc, stream, port, timeout);
    auto r = exchange(ioc, stream, buffer, port, target, headers, timeout, body);
    close_quietly(stream);
    return r;
}

struct connection::impl {
    std::uint16_t port;
    std::chrono::milliseconds timeout;
    net::io_context ioc;  // declared before the stream that uses it
    beast::tcp_stream stream{ioc};
    beast::flat_buffer buffer;  // kept across requests: it may hold read-ahead bytes
    bool open = false;

    impl(std::uint16_t p, std::chrono::milliseconds t) : port(p), timeout(t) {}
};

connection::connection(std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>(port, timeout))
{
    connect(impl_->ioc, impl_->stream, port, timeout);
    impl_->open = true;
}

connection::~connection()
{
    close_quietly(impl_->stream);
}

response connection::get(std::string_view target, const header_list& headers)
{
    if (!impl_->open) {
        throw std::logic_error("connection to port " + std::to_string(impl_->port) +
                               " is closed; the server did not keep it alive");
    }
    try {
        auto r = exchange(impl_->ioc, impl_->stream, impl_->buffer, impl_->port, target, headers,
                          impl_->timeout);
        impl_->open = r.keep_alive;
        return r;
    } catch (...) {
        impl_->open = false;
        throw;
    }
}

bool connection::is_open() const noexcept
{
    return impl_->open;
}

int connect_raw(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

raw_result raw_exchange(std::uint16_t port, std::string_view bytes,
                        std::chrono::milliseconds timeout, bool half_close)
{
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    connect(ioc, stream, port, timeout);

    raw_result result;
    error_code ec;
    if (!bytes.empty()) {
        stream.expires_at(deadline);
        net::async_write(stream, net::buffer(bytes.data(), bytes.size()),
                         [&](error_code e, std::size_t) { ec = e; });
        run(ioc);
        // Beast closed the socket on a timeout: nothing more can be read.
        if (ec == beast::error::timeout) {
            return result;
        }
    }
    if (half_close) {
        error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }

    std::array<char, 16 * 1024> chunk{};
    for (;;) {
        std::size_t got = 0;
        ec = {};
        stream.expires_at(deadline);
        stream.async_read_some(net::buffer(chunk), [&](error_code e, std::size_t n) {
            ec = e;
            got = n;
        });
        run(ioc);
        result.data.append(chunk.data(), got);
        if (!ec) {
            continue;
        }
        // EOF and resets both mean the server ended the connection.
        result.closed_by_peer = ec != beast::error::timeout;
        break;
    }
    close_quietly(stream);
    return result;
}

void cookie_jar::store(const response& r)
{
    for (const auto& sc : r.set_cookies) {
        store(sc);
    }
}

void cookie_jar::store(std::string_view set_cookie)
{
    const auto semi = set_cookie.find(';');
    const std::string_view pair = set_cookie.substr(0, semi);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
        return;
    }
    const std::string_view name = trim(pair.substr(0, eq));
    const std::string_view value = trim(pair.substr(eq + 1));
    if (name.empty()) {
        return;
    }

    // Max-Age wins over Expires wherever it appears (RFC 6265 5.3 step 3).
    std::optional<long long> max_age;
    std::optional<std::time_t> expires;
    std::string_view rest =
        semi == std::string_view::npos ? std::string_view{} : set_cookie.substr(semi + 1);
    while (!rest.empty()) {
        const auto next = rest.find(';');
        const std::string_view attr = trim(rest.substr(0, next));
        rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
        const auto aeq = attr.find('=');
        const std::string_view key = trim(attr.substr(0, aeq));
        const std::string_view val =
            aeq == std::string_view::npos ? std::string_view{} : trim(attr.substr(aeq + 1));
        if (iequals(key, "max-age")) {
            long long n = 0;
            const auto [ptr, ec] = std::from_chars(val.data(), val.data() + val.size(), n);
            if (ec == std::errc{} && ptr == val.data() + val.size()) {
                max_age = n;
            }
        } else if (iequals(key, "expires")) {
            std::tm tm{};
            const std::string text(val);
            if (::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &tm) != nullptr) {
                expires = ::timegm(&tm);
            }
        }
    }

    const bool expired = max_age ? *max_age <= 0 : (expires && *expires <= std::time(nullptr));
    if (expired) {
        erase(name);
    } else {
        set(std::string(name), std::string(value));
    }
}

std::optional<std::string> cookie_jar::value(std::string_view name) const
{
    for (const auto& [n, v] : cookies_) {
        if (n == name) {
            return v;
        }
    }
    return std::nullopt;
}

void cookie_jar::set(std::string name, std::string value)
{
    for (auto& [n, v] : cookies_) {
        if (n == name) {
            v = std::move(value);
            return;
        }
    }
    cookies_.emplace_back(std::move(name), std::move(value));
}

void cookie_jar::erase(std::string_view name)
{
    std::erase_if(cookies_, [&](const auto& c) { return c.first == name; });
}

void cookie_jar::clear() noexcept
{
    cookies_.clear();
}

bool cookie_jar::empty() const noexcept
{
    return cookies_.empty();
}

std::size_t cookie_jar::size() const noexcept
{
    return cookies_.size();
}

std::string cookie_jar::cookie_header() const
{
    std::string out;
    for (const auto& [n, v] : cookies_) {
        if (!out.empty()) {
            out += "; ";
        }
        out += n;
        out += '=';
        out += v;
    }
    return out;
}

header_list cookie_jar::headers() const
{
    if (cookies_.empty()) {
        return {};
    }
    return {{"Cookie", cookie_header()}};
}

std::string cookie_jar::session_id() const
{
    const std::string header = cookie_header();
    const auto start = header.find("s%3A");
    if (start == std::string::npos) {
        return {};
    }
    const std::string rest = header.substr(start + 4, header.find(';', start) - start - 4);
    return rest.substr(0, rest.rfind('.'));
}

}  // namespace sessionkit::test
