#pragma once
// Drives the engine through whole requests against a recording store, the way an HTTP adapter
// does: begin, load, handler, end.

#include "recording_store.hpp"

#include <sessionkit/cookie.hpp>
#include <sessionkit/engine.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <memory>

namespace sessionkit::test {

struct request_result {
  std::error_code load_error;
  std::error_code end_error;
  std::optional<std::string> set_cookie;
  std::string id;  // the session id at the end of the request ("" when none)
  std::optional<std::string> id_header;  // the id header to send (header transports)

  /// The `name=value` part of the Set-Cookie, to send back as a Cookie header.
  std::string cookie_header() const {
    if (!set_cookie) return {};
    return set_cookie->substr(0, set_cookie->find(';'));
  }
};

class engine_harness {
 public:
  explicit engine_harness(options opts)
      : store(std::make_shared<recording_store>()), eng(std::move(opts), store) {}

  request_result request(const std::string& cookie_header,
                         const std::function<void(request_driver&)>& handler = {},
                         std::string path = "/", bool tls = false,
                         std::string forwarded_proto = "", std::string id_header = "") {
    request_info info;
    info.path = path;
    info.cookie_header = cookie_header;
    info.id_header = id_header;
    info.tls = tls;
    info.forwarded_proto = forwarded_proto;
    auto ctx = eng.begin(info);
    request_result result;
    // As the adapters do: through the driver. It completes inside the call exactly when it
    // needs no asynchronous store call: the store answers at once, or there is nothing to ask.
    const bool at_once = ctx->completes_at_once();
    EXPECT_EQ(at_once, store->answers_at_once);
    bool loaded = false;
    ctx->load([&](std::error_code ec) {
      result.load_error = ec;
      loaded = true;
    });
    EXPECT_EQ(loaded, store->pending() == 0) << "inside the call exactly when no store call waits";
    EXPECT_TRUE(loaded || !at_once);
    store->drain();
    EXPECT_TRUE(loaded);
    if (result.load_error) return result;
    if (handler) handler(*ctx);
    store->drain();
    if (auto* s = ctx->current()) result.id = s->id();
    bool ended = false;
    ctx->end([&](std::error_code ec, std::optional<std::string> cookie) {
      result.end_error = ec;
      result.set_cookie = std::move(cookie);
      ended = true;
    });
    EXPECT_EQ(ended, store->pending() == 0) << "inside the call exactly when no store call waits";
    EXPECT_TRUE(ended || !at_once);
    store->drain();
    EXPECT_TRUE(ended);
    result.id_header = ctx->id_header_value();
    return result;
  }

  /// The id a Set-Cookie value carries, verified with the engine's secrets.
  std::optional<std::string> id_in(const std::optional<std::string>& set_cookie) const {
    if (!set_cookie) return std::nullopt;
    return eng.read_session_id(set_cookie->substr(0, set_cookie->find(';')));
  }

  std::shared_ptr<recording_store> store;
  engine eng;
};

/// A request whose handler counts: `count` 1 for a new session, +1 for a loaded one.
inline request_result counting_request(engine_harness& h, const std::string& cookie) {
  return h.request(cookie, [](request_driver& ctx) {
    auto& v = (*ctx.current())["count"];
    v = v.is_int64() ? v.get_int64() + 1 : 1;
  });
}

inline options test_options() {
  options o;
  o.secrets = {"keyboard cat"};
  return o;
}

}  // namespace sessionkit::test
