// sessionkit::beast::async_run_with_session, the entry for any Beast server: the session loaded
// around a handler, Set-Cookie added, store errors answered; with a store that answers at once
// and with one that completes later.

#include <sessionkit/adapters/beast.hpp>

#include "engine_harness.hpp"

#include <boost/asio/io_context.hpp>

namespace sessionkit::test {
namespace {

namespace http = boost::beast::http;

class beast_entry : public ::testing::TestWithParam<bool> {
 protected:
  beast_entry() : h(test_options()) { h.store->answers_at_once = GetParam(); }

  // One request with `cookie`; `handler` gets the session. Returns whether it completed and the
  // error it completed with.
  std::pair<bool, std::error_code> run(const std::string& cookie, http::response<http::string_body>& res,
                                       const std::function<void(adapter::session_handle&)>& handler) {
    http::request<http::string_body> req{http::verb::get, "/counter?x=1", 11};
    if (!cookie.empty()) req.set(http::field::cookie, cookie);
    bool done = false;
    std::error_code result;
    beast::async_run_with_session(h.eng, req, res, false, handler,
                                  boost::asio::bind_executor(io, [&](std::error_code ec) {
                                    done = true;
                                    result = ec;
                                  }));
    for (int i = 0; i < 100 && !done; ++i) {
      h.store->drain();
      io.restart();
      io.poll();
    }
    return {done, result};
  }

  static void count(adapter::session_handle& s) {
    auto& v = (*s.session())["count"];
    v = v.is_int64() ? v.get_int64() + 1 : 1;
  }

  boost::asio::io_context io;
  engine_harness h;
};

TEST_P(beast_entry, loads_runs_the_handler_saves_and_sets_the_cookie) {
  http::response<http::string_body> first{http::status::ok, 11};
  auto [done, ec] = run("", first, count);
  ASSERT_TRUE(done);
  EXPECT_FALSE(ec);
  const auto set_cookie = first[http::field::set_cookie];
  ASSERT_FALSE(set_cookie.empty());
  const std::string cookie(set_cookie.substr(0, set_cookie.find(';')));
  const auto id = h.eng.read_session_id(cookie);
  ASSERT_TRUE(id);
  EXPECT_NE(h.store->records.at(*id).json.find("\"count\":1"), std::string::npos);

  http::response<http::string_body> second{http::status::ok, 11};
  std::tie(done, ec) = run(cookie, second, count);
  ASSERT_TRUE(done);
  EXPECT_FALSE(ec);
  EXPECT_NE(h.store->records.at(*id).json.find("\"count\":2"), std::string::npos);
}

TEST_P(beast_entry, a_store_outage_answers_503_without_running_the_handler) {
  http::response<http::string_body> first{http::status::ok, 11};
  ASSERT_TRUE(run("", first, count).first);
  const auto set_cookie = first[http::field::set_cookie];
  const std::string cookie(set_cookie.substr(0, set_cookie.find(';')));

  h.store->fail_with = error::store_unavailable;
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::set_cookie, "prepared=1");
  bool ran = false;
  auto [done, ec] = run(cookie, res, [&](adapter::session_handle&) { ran = true; });
  ASSERT_TRUE(done);
  EXPECT_EQ(ec, error::store_unavailable);
  EXPECT_FALSE(ran);
  EXPECT_EQ(res.result(), http::status::service_unavailable);
  EXPECT_EQ(res[http::field::retry_after], "1");
  EXPECT_TRUE(res[http::field::set_cookie].empty());
}

TEST_P(beast_entry, a_failed_save_withholds_the_cookie_and_answers_the_error) {
  h.store->fail_with = error::store_failure;  // a new session needs no load; its save fails
  http::response<http::string_body> res{http::status::ok, 11};
  auto [done, ec] = run("", res, count);
  ASSERT_TRUE(done);
  EXPECT_EQ(ec, error::store_failure);
  EXPECT_EQ(res.result(), http::status::internal_server_error);
  EXPECT_TRUE(res[http::field::set_cookie].empty());
}

INSTANTIATE_TEST_SUITE_P(stores, beast_entry, ::testing::Bool(), [](const auto& info) {
  return info.param ? "answered_at_once" : "asynchronous";
});

}  // namespace
}  // namespace sessionkit::test
