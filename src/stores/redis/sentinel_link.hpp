#pragma once
// A connection to one sentinel: plain TCP, or TLS (rediss-sentinel://) with the same CA, client
// certificate and verification as the master's connection. Used for the short query "who is the
// master?" and for the +switch-master subscription.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <optional>
#include <string>
#include <utility>

namespace sessionkit::detail {

class sentinel_link {
 public:
  using tcp_socket = boost::asio::ip::tcp::socket;
  using executor = boost::asio::strand<boost::asio::any_io_executor>;

  /// `tls`: null for plain TCP.
  sentinel_link(const executor& ex, boost::asio::ssl::context* tls) {
    if (tls) tls_.emplace(ex, *tls);
    else plain_.emplace(ex);
  }

  tcp_socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }

  void close() {
    boost::system::error_code ignored;
    socket().close(ignored);
  }

  /// After connecting: the TLS handshake (SNI and the certificate checked against `host` when
  /// `verify`), or nothing for plain TCP. `handler(error_code)` runs later, never inside.
  template <class Handler>
  void handshake(const std::string& host, bool verify, bool host_is_address, Handler&& handler) {
    if (!tls_) {
      boost::asio::post(socket().get_executor(), [h = std::forward<Handler>(handler)]() mutable {
        h(boost::system::error_code{});
      });
      return;
    }
    if (!host_is_address) SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str());
    if (verify) tls_->set_verify_callback(boost::asio::ssl::host_name_verification(host));
    tls_->async_handshake(boost::asio::ssl::stream_base::client, std::forward<Handler>(handler));
  }

  /// After a failed handshake: " (why the certificate was refused)", or "".
  std::string verify_error() {
    if (!tls_) return {};
    const long result = SSL_get_verify_result(tls_->native_handle());
    return result == X509_V_OK ? std::string() : std::string(" (") + X509_verify_cert_error_string(result) + ")";
  }

  template <class Buffer, class Handler>
  void write(const Buffer& buffer, Handler&& handler) {
    if (tls_) boost::asio::async_write(*tls_, buffer, std::forward<Handler>(handler));
    else boost::asio::async_write(*plain_, buffer, std::forward<Handler>(handler));
  }

  template <class Buffer, class Handler>
  void read_some(const Buffer& buffer, Handler&& handler) {
    if (tls_) tls_->async_read_some(buffer, std::forward<Handler>(handler));
    else plain_->async_read_some(buffer, std::forward<Handler>(handler));
  }

 private:
  std::optional<tcp_socket> plain_;
  std::optional<boost::asio::ssl::stream<tcp_socket>> tls_;
};

}  // namespace sessionkit::detail
