#pragma once
// The HTTP server of sessionkit-example-httplib: cpp-httplib's `httplib::Server` with its own
// connection loop (it overrides `process_and_close_socket`, which httplib's own SSLServer
// overrides too), so that the example holds up like the Beast one. With cpp-httplib 0.11.4 (the
// version Debian 12 packages) a plain `httplib::Server`
//   - loses pipelined requests (each request reads through a fresh buffer),
//   - keeps a connection open after a request it could not parse (the rest is read as junk),
//   - ignores a body on GET (Content-Length or chunked), and accepts conflicting or non-numeric
//     Content-Length and header lines without a colon, all of which desynchronise the stream,
//   - URL-decodes every request header value (`%3B` in a cookie becomes `;`),
//   - refuses header lines over 8 KiB (a compile-time limit in the packaged library), and
//   - on stop() waits for idle keep-alive connections to time out.
// Here every request head is read and checked first (32 KiB in all, as Beast's example
// allows), answered 4xx and closed when it is bad, and handed to httplib only when it is sound;
// the header values the handlers see are the raw ones; `shutdown()` closes idle connections at
// once and lets requests in flight finish. The session layer (sessionkit::httplib) does not
// need any of this: it works with a plain httplib::Server. This class is written for
// cpp-httplib 0.11: later releases changed `process_request` and fixed most of the above.

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>

namespace sessionkit::examples {

class httplib_server : public ::httplib::Server {
 public:
  httplib_server();
  ~httplib_server() override;
  httplib_server(const httplib_server&) = delete;
  httplib_server& operator=(const httplib_server&) = delete;

  /// Limit of a request head (request line and header fields); bigger ones get 431.
  std::size_t header_limit = 32 * 1024;
  /// Connections open at once; one more is answered 503 (with `Retry-After`) and closed. 0: no
  /// limit.
  std::size_t max_connections = 1024;

  /// A task queue running each connection on a thread of its own (for `new_task_queue`): no
  /// fixed number of slow clients can take every thread.
  static ::httplib::TaskQueue* connection_threads();

  /// Stops: no new connections, idle connections closed at once, requests in flight finish and
  /// get `Connection: close`. `listen_after_bind()` then returns once they are done. Thread-safe.
  void shutdown();

 private:
  bool process_and_close_socket(socket_t sock) override;

  int stop_pipe_[2] = {-1, -1};  // readable once shutdown() ran
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> open_connections_{0};
};

}  // namespace sessionkit::examples
