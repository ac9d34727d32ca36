// The Asio completion-token forms (asio.hpp): completion inside the call exactly when the store
// answers at once, through the executor otherwise, and per-operation cancellation.

#include <sessionkit/asio.hpp>

#include "engine_harness.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace sessionkit::test {
namespace {

request_info at_root(const std::string& cookie) {
  request_info info;
  info.path = "/";
  info.cookie_header = cookie;
  return info;
}

// A stored session and the cookie that names it.
std::string stored_session(engine_harness& h) {
  const auto first = counting_request(h, "");
  EXPECT_TRUE(first.set_cookie);
  return first.cookie_header();
}

TEST(asio_forms, complete_inside_the_call_when_the_store_answers_at_once) {
  engine_harness h(test_options());
  h.store->answers_at_once = true;
  const std::string cookie = stored_session(h);
  boost::asio::io_context io;
  auto driver = h.eng.begin(at_root(cookie));
  int calls = 0;
  // Started on the executor, as a coroutine would be: the completion is dispatched there and
  // runs at once.
  boost::asio::post(io, [&] {
    async_load(*driver, boost::asio::bind_executor(io, [&](std::error_code ec) {
                 EXPECT_FALSE(ec);
                 ++calls;
               }));
    EXPECT_EQ(calls, 1);  // inside the call
  });
  io.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ((*driver->current())["count"].as_int64(), 1);
}

TEST(asio_forms, an_at_once_completion_still_goes_to_its_own_executor) {
  engine_harness h(test_options());
  h.store->answers_at_once = true;
  const std::string cookie = stored_session(h);
  boost::asio::io_context io;
  auto driver = h.eng.begin(at_root(cookie));
  int calls = 0;
  // Started outside the handler's executor: never run on the wrong thread.
  async_load(*driver, boost::asio::bind_executor(io, [&](std::error_code ec) {
               EXPECT_FALSE(ec);
               ++calls;
             }));
  EXPECT_EQ(calls, 0);
  io.run();
  EXPECT_EQ(calls, 1);
}

TEST(asio_forms, go_through_the_executor_when_the_store_completes_later) {
  engine_harness h(test_options());
  const std::string cookie = stored_session(h);
  boost::asio::io_context io;
  auto driver = h.eng.begin(at_root(cookie));
  int calls = 0;
  async_load(*driver, boost::asio::bind_executor(io, [&](std::error_code ec) {
               EXPECT_FALSE(ec);
               ++calls;
             }));
  h.store->drain();
  EXPECT_EQ(calls, 0);  // posted, not run on the store's context
  io.poll();
  EXPECT_EQ(calls, 1);
  int ends = 0;
  async_end(*driver, boost::asio::bind_executor(io, [&](std::error_code ec, std::optional<std::string>) {
              EXPECT_FALSE(ec);
              ++ends;
            }));
  h.store->drain();
  io.restart();
  io.poll();
  EXPECT_EQ(ends, 1);
}

// The same through a type-erased executor (a coroutine's `any_io_executor` holding the
// io_context's executor): the handler is called directly instead of through dispatch; same
// results, inside the call, and still never on a thread outside the executor.
TEST(asio_forms, a_type_erased_io_context_executor_completes_the_same_way) {
  engine_harness h(test_options());
  h.store->answers_at_once = true;
  const std::string cookie = stored_session(h);
  boost::asio::io_context io;
  const boost::asio::any_io_executor erased(io.get_executor());
  auto driver = h.eng.begin(at_root(cookie));
  int calls = 0;
  boost::asio::post(io, [&] {
    async_load(*driver, boost::asio::bind_executor(erased, [&](std::error_code ec) {
                 EXPECT_FALSE(ec);
                 EXPECT_TRUE(io.get_executor().running_in_this_thread());
                 ++calls;
               }));
    EXPECT_EQ(calls, 1);  // inside the call
  });
  io.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ((*driver->current())["count"].as_int64(), 1);
  // Started off the executor's thread: not run here, but on the executor.
  auto second = h.eng.begin(at_root(cookie));
  int loads = 0;
  async_load(*second, boost::asio::bind_executor(erased, [&](std::error_code ec) {
               EXPECT_FALSE(ec);
               EXPECT_TRUE(io.get_executor().running_in_this_thread());
               ++loads;
             }));
  EXPECT_EQ(loads, 0);
  io.restart();
  io.run();
  EXPECT_EQ(loads, 1);
}

// A store whose completions may continue inline (RedisStore): a completion that runs on the
// handler's executor runs the handler inside it; elsewhere it is still posted. Either way the
// same results as the posted form above.
TEST(asio_forms, a_later_completion_continues_inline_when_the_store_allows_it) {
  engine_harness h(test_options());
  h.store->continues_inline = true;
  const std::string cookie = stored_session(h);
  boost::asio::io_context io;
  auto driver = h.eng.begin(at_root(cookie));
  int calls = 0, ends = 0;
  async_load(*driver, boost::asio::bind_executor(io, [&](std::error_code ec) {
               EXPECT_FALSE(ec);
               ++calls;
             }));
  h.store->drain();  // not on the executor: posted
  EXPECT_EQ(calls, 0);
  io.poll();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ((*driver->current())["count"].as_int64(), 1);
  (*driver->current())["count"] = 2;
  // Bound as a coroutine's handler is (a type-erased executor): called directly when inline.
  const boost::asio::any_io_executor erased(io.get_executor());
  async_end(*driver, boost::asio::bind_executor(erased, [&](std::error_code ec, std::optional<std::string>) {
              EXPECT_FALSE(ec);
              ++ends;
            }));
  // The store completes on the executor's thread: the handler runs inside that completion.
  io.restart();
  boost::asio::post(io, [&] {
    h.store->drain();
    EXPECT_EQ(ends, 1);
  });
  io.run();
  EXPECT_EQ(ends, 1);
  // What was saved is what the posted form saves: the next request reads it.
  auto next = h.eng.begin(at_root(cookie));
  int loads = 0;
  async_load(*next, boost::asio::bind_executor(io, [&](std::error_code ec) {
               EXPECT_FALSE(ec);
               ++loads;
             }));
  h.store->drain();
  io.restart();
  io.poll();
  EXPECT_EQ(loads, 1);
  EXPECT_EQ((*next->current())["count"].as_int64(), 2);
}

TEST(asio_forms, cancellation_completes_the_wait_once) {
  engine_harness h(test_options());
  const std::string cookie = stored_session(h);
  boost::asio::io_context io;
  auto driver = h.eng.begin(at_root(cookie));
  boost::asio::cancellation_signal signal;
  int calls = 0;
  std::error_code got;
  async_load(*driver, boost::asio::bind_cancellation_slot(
                          signal.slot(), boost::asio::bind_executor(io, [&](std::error_code ec) {
                            got = ec;
                            ++calls;
                          })));
  signal.emit(boost::asio::cancellation_type::terminal);
  io.poll();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, std::errc::operation_canceled);
  // The store's answer arrives later and finds the wait gone; it is not applied behind the
  // caller's back (the request has no session).
  h.store->drain();
  io.restart();
  io.poll();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(driver->current(), nullptr);
}

TEST(asio_forms, a_cancellation_after_completion_changes_nothing) {
  engine_harness h(test_options());
  const std::string cookie = stored_session(h);
  boost::asio::io_context io;
  auto driver = h.eng.begin(at_root(cookie));
  boost::asio::cancellation_signal signal;
  int calls = 0;
  std::error_code got = make_error_code(error::store_failure);
  async_end(*driver, boost::asio::bind_cancellation_slot(
                         signal.slot(), boost::asio::bind_executor(io, [&](std::error_code ec, std::optional<std::string>) {
                           got = ec;
                           ++calls;
                         })));
  h.store->drain();
  io.poll();
  signal.emit(boost::asio::cancellation_type::terminal);
  io.restart();
  io.poll();
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(got);
}

}  // namespace
}  // namespace sessionkit::test
