// A small synchronous HTTP/1.1 client for integration tests (Boost.Beast
// underneath, kept out of this header). Every operation has a deadline, so a
// hung server fails a test instead of hanging the run.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sessionkit::test {

/// Request or response header fields in wire order; names may repeat.
using header_list = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::chrono::milliseconds default_http_timeout{5000};

/// The parts of an HTTP response the tests look at.
struct response {
    unsigned status = 0;
    std::string reason;
    unsigned version = 0;  ///< 10 or 11
    std::string body;
    header_list headers;                   ///< all fields, wire order
    std::vector<std::string> set_cookies;  ///< every Set-Cookie value, wire order
    bool keep_alive = false;               ///< the server will keep the connection open

    /// First value of the field `name` (case-insensitive), if present.
    [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

/// Status, body and Set-Cookie values, for assertion messages.
std::string describe(const response& r);

/// One GET on a fresh connection to 127.0.0.1:`port`. `headers` are added
/// as given (repeats allowed) after Host and User-Agent.
/// @throws boost::system::system_error on connect/IO errors or timeout.
response get(std::uint16_t port, std::string_view target, const header_list& headers = {},
             std::chrono::milliseconds timeout = default_http_timeout);

/// One POST of `body` (with Content-Length; give Content-Type in `headers`) on a fresh
/// connection, as `get`.
response post(std::uint16_t port, std::string_view target, const std::string& body, const header_list& headers = {},
              std::chrono::milliseconds timeout = default_http_timeout);

/// A persistent (keep-alive) connection. It never reconnects on its own:
/// a test that expects reuse must see a failure if the server closed it.
class connection {
public:
    /// Connects to 127.0.0.1:`port`. Each later request gets `timeout`.
    explicit connection(std::uint16_t port,
                        std::chrono::milliseconds timeout = default_http_timeout);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// GET `target` on this connection.
    /// @throws std::logic_error if the server announced it would close
    ///         (Connection: close) on an earlier response.
    /// @throws boost::system::system_error on IO errors or timeout.
    response get(std::string_view target, const header_list& headers = {});

    /// False after a response without keep-alive or after an error.
    [[nodiscard]] bool is_open() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// A plain TCP connection to 127.0.0.1:`port` (for idle and slow clients): the socket's file
/// descriptor, to `::close()`, or -1 when it cannot connect.
int connect_raw(std::uint16_t port);

/// What came back from raw_exchange().
struct raw_result {
    std::string data;             ///< every byte the server sent
    bool closed_by_peer = false;  ///< EOF or reset seen (false: our timeout ended it)
};

/// Writes `bytes` verbatim to 127.0.0.1:`port`, optionally shuts down the
/// sending side, then collects what the server sends until it closes the
/// connection or `timeout` (counted from the start) expires. Errors while
/// writing are ignored: a server may legitimately close early.
/// @throws boost::system::system_error if the connection cannot be made.
raw_result raw_exchange(std::uint16_t port, std::string_view bytes,
                        std::chrono::milliseconds timeout = std::chrono::seconds(3),
                        bool half_close = false);

/// Remembers cookies from Set-Cookie and produces the Cookie header, like
/// curl -c/-b for a single host. Domain, Path and Secure are ignored; a
/// cookie whose Max-Age is <= 0 or whose Expires is in the past is removed.
class cookie_jar {
public:
    /// Stores every Set-Cookie of `r`.
    void store(const response& r);
    /// Stores one Set-Cookie header value.
    void store(std::string_view set_cookie);

    /// Stored value of `name`, if any.
    [[nodiscard]] std::optional<std::string> value(std::string_view name) const;
    void set(std::string name, std::string value);
    void erase(std::string_view name);
    void clear() noexcept;
    [[nodiscard]] bool empty() const noexcept;
    [[nodiscard]] std::size_t size() const noexcept;

    /// "a=1; b=2" in the order the cookies were first stored.
    [[nodiscard]] std::string cookie_header() const;
    /// {{"Cookie", cookie_header()}}, or nothing when the jar is empty.
    [[nodiscard]] header_list headers() const;
    /// The session id in the signed session cookie (`connect.sid=s%3A<id>.<signature>`), or ""
    /// when the jar holds none.
    [[nodiscard]] std::string session_id() const;

private:
    std::vector<std::pair<std::string, std::string>> cookies_;
};

}  // namespace sessionkit::test
