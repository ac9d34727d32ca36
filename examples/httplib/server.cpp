#include "server.hpp"

#include <sessionkit/adapter.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace sessionkit::examples {
namespace {

using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

// httplib's compile-time limits in the packaged library (CPPHTTPLIB_REQUEST_URI_MAX_LENGTH and
// CPPHTTPLIB_HEADER_MAX_LENGTH), counted with the line's CRLF.
constexpr std::size_t httplib_line_limit = 8192;

milliseconds to_ms(time_t sec, time_t usec) {
  return milliseconds(static_cast<long long>(sec) * 1000 + static_cast<long long>(usec) / 1000);
}

// poll() for `events` on `fd` for up to `timeout`, through EINTR.
bool wait_fd(int fd, short events, milliseconds timeout) {
  pollfd p{fd, events, 0};
  const auto deadline = clock_type::now() + timeout;
  for (;;) {
    const auto left = std::max<long long>(
        0, std::chrono::duration_cast<milliseconds>(deadline - clock_type::now()).count());
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
    if (r > 0) return true;  // readiness, hang-up or error: the next call says which
    if (r == 0 || errno != EINTR) return false;
  }
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                     : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (r != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
  }
  ip = text;
}

// One connection's byte stream. Unlike httplib's per-request SocketStream, its read buffer
// lives as long as the connection, so pipelined requests are kept.
class connection_stream final : public ::httplib::Stream {
 public:
  connection_stream(int fd, milliseconds read_timeout, milliseconds write_timeout)
      : fd_(fd), read_timeout_(read_timeout), write_timeout_(write_timeout), buf_(16 * 1024) {}

  bool is_readable() const override { return begin_ < end_ || wait_fd(fd_, POLLIN, read_time_left()); }

  // The current request must arrive whole (head and body) within the read timeout from now: a
  // deadline for the request, not a timeout per read, so a client trickling a byte at a time
  // cannot keep the connection's thread for longer.
  void start_request_deadline() { deadline_ = clock_type::now() + read_timeout_; }
  void end_request_deadline() { deadline_.reset(); }
  bool is_writable() const override { return wait_fd(fd_, POLLOUT, write_timeout_); }

  ssize_t read(char* ptr, size_t size) override {
    if (body_left_) {  // inside a body of known length: not beyond it
      if (*body_left_ == 0) return 0;
      size = static_cast<size_t>(std::min<std::uint64_t>(size, *body_left_));
    }
    if (begin_ == end_) {
      const ssize_t n = fill();
      if (n <= 0) return n;
    }
    const std::size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buf_.data() + begin_, n);
    begin_ += n;
    if (body_left_) *body_left_ -= n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    capture_status(ptr, size);
    if (!is_writable()) return -1;
    for (;;) {
      const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

  // --- for the connection loop ---

  enum class idle_result { request, closed, stopping };

  // Waits for the first byte of the next request: buffered already, or arriving within
  // `keep_alive`; gives up when `stop_fd` becomes readable.
  idle_result wait_for_request(milliseconds keep_alive, int stop_fd) {
    if (begin_ < end_) return idle_result::request;
    pollfd p[2] = {{fd_, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    const auto deadline = clock_type::now() + keep_alive;
    for (;;) {
      const auto left = std::max<long long>(
          0, std::chrono::duration_cast<milliseconds>(deadline - clock_type::now()).count());
      const int r = ::poll(p, 2, static_cast<int>(std::min<long long>(left, 1 << 30)));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return idle_result::closed;  // keep-alive timeout
      if (p[1].revents != 0) return idle_result::stopping;
      return fill() > 0 ? idle_result::request : idle_result::closed;
    }
  }

  enum class head_result { complete, too_large, bad, cut_off };

  // Reads until the buffer holds a whole request head (through its blank line); its size goes
  // to `head_size`. Empty lines before the request line are skipped (RFC 9112, 2.2).
  head_result read_head(std::size_t limit, std::size_t& head_size) {
    std::size_t searched = 0;
    for (;;) {
      while (end_ - begin_ >= 2 && buf_[begin_] == '\r' && buf_[begin_ + 1] == '\n') {
        begin_ += 2;
        searched = 0;
      }
      const std::string_view data = buffered();
      const std::size_t from = searched > 3 ? searched - 3 : 0;
      if (const auto end = data.find("\r\n\r\n", from); end != std::string_view::npos) {
        head_size = end + 4;
        return head_size > limit ? head_result::too_large : head_result::complete;
      }
      if (data.find("\n\n", from) != std::string_view::npos) return head_result::bad;  // bare LF
      if (data.size() >= limit) return head_result::too_large;
      searched = data.size();
      if (fill() <= 0) return head_result::cut_off;
    }
  }

  // Reads from now on see at most `length` bytes, then the end of the stream (a request body of
  // that length, so httplib never reads into the next request); nullopt lifts the limit.
  void limit_body(std::optional<std::uint64_t> length) noexcept { body_left_ = length; }

  std::string_view buffered() const noexcept { return {buf_.data() + begin_, end_ - begin_}; }

  // Replaces the buffered byte at `offset` (from the start of `buffered()`).
  void overwrite(std::size_t offset, char c) noexcept { buf_[begin_ + offset] = c; }

  // Removes `count` buffered bytes at `offset` (from the start of `buffered()`).
  void erase(std::size_t offset, std::size_t count) {
    char* at = buf_.data() + begin_ + offset;
    std::memmove(at, at + count, end_ - (begin_ + offset + count));
    end_ -= count;
  }

  // The status code of the response being written (0 until its status line went out).
  void expect_response() noexcept {
    status_ = 0;
    status_line_.clear();
  }
  unsigned status() const noexcept { return status_; }

  // Writes a whole message, for the loop's own answers.
  void write_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = write(data.data(), data.size());
      if (n <= 0) return;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

 private:
  // Reads what the socket has (waiting up to the read timeout) into the buffer.
  // @return bytes read, 0 at end of stream, -1 on timeout or error
  ssize_t fill() {
    if (begin_ == end_) begin_ = end_ = 0;
    if (end_ == buf_.size()) {
      if (begin_ > 0) {
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      } else {
        buf_.resize(buf_.size() * 2);
      }
    }
    if (!wait_fd(fd_, POLLIN, read_time_left())) return -1;
    for (;;) {
      const ssize_t n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) end_ += static_cast<std::size_t>(n);
      return n;
    }
  }

  milliseconds read_time_left() const {
    if (!deadline_) return read_timeout_;
    return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(*deadline_ - clock_type::now()));
  }

  // "HTTP/1.1 NNN" starts each response; interim (1xx) ones are skipped.
  void capture_status(const char* ptr, std::size_t size) {
    if (status_ != 0) return;
    status_line_.append(ptr, std::min(size, std::size_t(12) - status_line_.size()));
    if (status_line_.size() < 12) return;
    unsigned code = 0;
    for (std::size_t i = 9; i < 12; ++i) code = code * 10 + static_cast<unsigned>(status_line_[i] - '0');
    if (code >= 200) status_ = code;
    status_line_.clear();
  }

  int fd_;
  milliseconds read_timeout_;
  std::optional<clock_type::time_point> deadline_;  // of the request being read
  milliseconds write_timeout_;
  std::vector<char> buf_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::optional<std::uint64_t> body_left_;
  unsigned status_ = 0;
  std::string status_line_;
};

bool is_tchar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// What the loop learnt from a request head.
struct request_head {
  std::vector<std::pair<std::string, std::string>> fields;  // raw names and values, wire order
  bool body = false;  // Content-Length > 0 or chunked
  std::optional<std::uint64_t> length;  // the body's length, unless chunked
  // Header values too long for httplib's line limit: (offset in the head, length) of each.
  std::vector<std::pair<std::size_t, std::size_t>> long_values;
  // An absolute-form target's `scheme://authority` (offset in the head, length), which httplib
  // would take for the path: removed, so routing and the session see the path (as Node does).
  std::optional<std::pair<std::size_t, std::size_t>> absolute_prefix;
  bool absolute_without_path = false;  // `http://host` or `http://host?q`: the path is "/"
};

// Checks a request head (through its blank line) as RFC 9112 wants it and as far as httplib
// can take it. @return 0, or the status to refuse it with
unsigned check_head(std::string_view head, request_head& out) {
  std::size_t pos = 0;
  std::optional<unsigned long long> content_length;
  bool chunked = false;
  bool transfer_encoding = false;
  std::string_view method;
  for (bool first = true;; first = false) {
    const std::size_t eol = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, eol - pos);
    const std::size_t line_start = pos;
    pos = eol + 2;
    if (line.find_first_of("\r\n") != std::string_view::npos) return 400;  // bare CR or LF
    if (first) {
      if (line.size() + 2 > httplib_line_limit) return 414;
      const std::size_t sp1 = line.find(' ');
      const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
      if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) return 400;
      method = line.substr(0, sp1);
      const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      const std::string_view version = line.substr(sp2 + 1);
      if (!is_token(method) || target.empty()) return 400;
      if (std::any_of(target.begin(), target.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
        return 400;
      if (version != "HTTP/1.1" && version != "HTTP/1.0") return 400;
      if (const std::size_t prefix = adapter::absolute_form_prefix(target)) {
        out.absolute_prefix.emplace(sp1 + 1, prefix);
        out.absolute_without_path = prefix == target.size() || target[prefix] != '/';
      }
      continue;
    }
    if (line.empty()) break;  // the blank line
    if (line.front() == ' ' || line.front() == '\t') return 400;  // obsolete line folding
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) return 400;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](char c) {
          const auto u = static_cast<unsigned char>(c);
          return (u < 0x20 && c != '\t') || u == 0x7f;
        }))
      return 400;
    if (line.size() + 2 > httplib_line_limit)
      out.long_values.emplace_back(line_start + colon + 1, line.size() - colon - 1);
    out.fields.emplace_back(name, value);

    if (iequals(name, "Content-Length")) {
      // Every value (repeated, or a list) must be the same number.
      std::string_view rest = value;
      for (;;) {
        const std::size_t comma = rest.find(',');
        const std::string_view digits = trim(rest.substr(0, comma));
        if (digits.empty() || digits.size() > 18 ||
            !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
          return 400;
        const unsigned long long n = std::stoull(std::string(digits));
        if (content_length && *content_length != n) return 400;
        content_length = n;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    } else if (iequals(name, "Transfer-Encoding")) {
      // httplib understands "chunked" and nothing else.
      if (transfer_encoding || !iequals(value, "chunked")) return 501;
      transfer_encoding = chunked = true;
    }
  }
  if (transfer_encoding && content_length) return 400;
  out.body = chunked || content_length.value_or(0) > 0;
  if (!chunked) out.length = content_length.value_or(0);  // no Content-Length: no body
  // httplib reads a body only for these methods; elsewhere it would be read as the next request.
  if (out.body && method != "POST" && method != "PUT" && method != "PATCH" && method != "DELETE")
    return 400;
  return 0;
}

std::string_view reason(unsigned status) {
  switch (status) {
    case 400: return "Bad Request";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    default: return "Error";
  }
}

void refuse(connection_stream& strm, unsigned status) {
  const std::string body = std::string(reason(status)) + "\n";
  strm.write_all("HTTP/1.1 " + std::to_string(status) + " " + std::string(reason(status)) +
                 "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

}  // namespace

// A thread per connection, started on demand: a connection waiting on a slow client holds
// only its own thread (for at most the read timeout per request), never a slot in a fixed pool
// that others wait for. The number of connections is capped in process_and_close_socket.
class thread_per_connection final : public ::httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override {
    std::lock_guard lock(mutex_);
    ++running_;
    std::thread([this, fn = std::move(fn)] {
      fn();
      std::lock_guard lock(mutex_);
      if (--running_ == 0) idle_.notify_all();
    }).detach();
  }
  // Waits for every connection's thread to finish (the server has stopped accepting).
  void shutdown() override {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return running_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable idle_;
  std::size_t running_ = 0;
};

::httplib::TaskQueue* httplib_server::connection_threads() { return new thread_per_connection(); }

httplib_server::httplib_server() {
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  // httplib's default adds SO_REUSEPORT, which would let a second server share the port.
  set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
}

httplib_server::~httplib_server() {
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

void httplib_server::shutdown() {
  if (stopping_.exchange(true)) return;
  const char byte = 1;
  [[maybe_unused]] const auto written = ::write(stop_pipe_[1], &byte, 1);
  // What httplib's stop() does, also before listen_after_bind() has started.
  const socket_t listener = svr_sock_.exchange(INVALID_SOCKET);
  if (listener != INVALID_SOCKET) {
    ::shutdown(listener, SHUT_RDWR);
    ::close(listener);
  }
}

bool httplib_server::process_and_close_socket(socket_t sock) {
  int yes = 1;  // headers and body go out in separate writes: no Nagle delay between them
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  connection_stream strm(sock, to_ms(read_timeout_sec_, read_timeout_usec_),
                         to_ms(write_timeout_sec_, write_timeout_usec_));
  struct counted {
    std::atomic<std::size_t>& open;
    ~counted() { --open; }
  } count_this{open_connections_};
  if (++open_connections_ > max_connections && max_connections != 0) {
    // At the cap: a clear answer and a close; the connections already open keep being served.
    strm.write_all(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 34\r\nConnection: close\r\n\r\nServer busy: too many connections\n");
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return true;
  }
  bool ret = true;
  for (std::size_t count = keep_alive_max_count_; count > 0; --count) {
    if (stopping_ || svr_sock_ == INVALID_SOCKET) break;
    using idle = connection_stream::idle_result;
    if (strm.wait_for_request(std::chrono::seconds(keep_alive_timeout_sec_), stop_pipe_[0]) != idle::request)
      break;
    strm.start_request_deadline();  // from its first byte, the request has the read timeout

    using head = connection_stream::head_result;
    std::size_t head_size = 0;
    const auto got = strm.read_head(header_limit, head_size);
    if (got == head::too_large) refuse(strm, 431);
    if (got == head::bad) refuse(strm, 400);
    if (got != head::complete) break;  // refused, or cut off / timed out: nothing to answer
    request_head parsed;
    if (const unsigned status = check_head(strm.buffered().substr(0, head_size), parsed)) {
      refuse(strm, status);
      break;
    }
    // Lines httplib would refuse reach it without their value, restored below.
    for (auto it = parsed.long_values.rbegin(); it != parsed.long_values.rend(); ++it)
      strm.erase(it->first, it->second);
    // An absolute-form target reaches it in origin form (its path, "/" when it has none).
    if (const auto& prefix = parsed.absolute_prefix) {
      if (parsed.absolute_without_path) {
        strm.erase(prefix->first, prefix->second - 1);
        strm.overwrite(prefix->first, '/');
      } else {
        strm.erase(prefix->first, prefix->second);
      }
    }

    bool reached_handler = false;
    bool connection_closed = false;
    strm.expect_response();
    ret = process_request(strm, count == 1 || stopping_, connection_closed, [&](::httplib::Request& req) {
      reached_handler = true;
      // The raw header values (httplib 0.11.4 URL-decodes them), and its own entries from the
      // connection rather than from anything the client sent under those names.
      ::httplib::Headers raw;
      for (auto& [name, value] : parsed.fields)
        if (!iequals(name, "REMOTE_ADDR") && !iequals(name, "REMOTE_PORT") &&
            !iequals(name, "LOCAL_ADDR") && !iequals(name, "LOCAL_PORT"))
          raw.emplace(std::move(name), std::move(value));
      raw.emplace("REMOTE_ADDR", req.remote_addr);
      raw.emplace("REMOTE_PORT", std::to_string(req.remote_port));
      raw.emplace("LOCAL_ADDR", req.local_addr);
      raw.emplace("LOCAL_PORT", std::to_string(req.local_port));
      req.headers = std::move(raw);
      strm.limit_body(parsed.length);
    });
    strm.limit_body(std::nullopt);
    strm.end_request_deadline();
    // httplib refused the request itself (an unknown method, say) or the connection asked to
    // close; after an error on a request with a body, the stream may be out of step.
    if (!ret || connection_closed || !reached_handler) break;
    if (parsed.body && (strm.status() == 400 || strm.status() == 413)) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace sessionkit::examples
