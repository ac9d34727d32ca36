#pragma once
/// @file cookie_memo.hpp
/// A connection's memory of the signed session id it last verified, so that a keep-alive client
/// sending the same cookie on every request costs one HMAC check per connection, not per request.

#include <sessionkit/config.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sessionkit {

/// What one connection last verified: the signed value (`id.signature`) its client sent and
/// which secret verified it. The engine checks the HMAC the first time; when a later request on
/// the same connection brings the same bytes (the whole value, compared in constant time) it
/// takes the answer from here. The memo holds only a value this connection sent that verified
/// with this engine's secrets, so it tells a client nothing the response to that request did not:
/// no other value is accepted because of it, and any other value is verified as always.
///
/// An adapter keeps one per connection and passes it in `request_info::memo` (the Beast server
/// does); without one every request is verified. Not thread-safe: one connection's requests use
/// it one at a time.
class SESSIONKIT_API cookie_memo {
 public:
  /// Whether `signed_value` is what engine `serial` verified last on this connection; then
  /// `secret_index` is the secret that verified it.
  bool holds(std::uint64_t serial, std::string_view signed_value, std::size_t& secret_index) const noexcept;

  /// Remembers a value that engine `serial` verified with secret `secret_index`.
  void remember(std::uint64_t serial, std::string_view signed_value, std::size_t secret_index);

  /// Forgets the value (an engine whose secrets change, say).
  void clear() noexcept;

 private:
  std::uint64_t serial_ = 0;  // the engine that verified it (0: nothing remembered)
  std::string value_;
  std::size_t secret_index_ = 0;
};

}  // namespace sessionkit
