// Micro-benchmarks of the core: signing, cookie parsing and serialisation, session JSON, the
// MemoryStore, and the engine's per-request work without I/O.

#include <sessionkit/cookie.hpp>
#include <sessionkit/engine.hpp>
#include <sessionkit/id.hpp>
#include <sessionkit/json.hpp>
#include <sessionkit/signer.hpp>
#include <sessionkit/stores/memory_store.hpp>

#include <boost/asio/thread_pool.hpp>

#include <benchmark/benchmark.h>

#include <deque>

namespace {

using namespace sessionkit;

const std::string id = "nyeVZrM6Gu1XdlRNeL88sdNhEwW80Wni";
const std::string secret = "Rs89I67YEA55cLMgi0t6oyr8568e6KtD";
const std::string record =
    R"({"cookie":{"originalMaxAge":60000,"expires":"2026-11-21T21:07:07.869Z","httpOnly":true,"path":"/"},"count":3,"user":"bob"})";

void sign_id(benchmark::State& state) {
  signer s({secret});
  for (auto _ : state) benchmark::DoNotOptimize(s.sign(id));
}
BENCHMARK(sign_id);

void unsign_id(benchmark::State& state) {
  signer s({secret});
  const std::string signed_value = s.sign(id);
  for (auto _ : state) benchmark::DoNotOptimize(s.unsign(signed_value));
}
BENCHMARK(unsign_id);

void parse_cookie_header_typical(benchmark::State& state) {
  const std::string header = "_ga=GA1.2.123456789.1234567890; theme=dark; connect.sid=" +
                             encode_uri_component("s:" + sign(id, secret)) + "; lang=en";
  for (auto _ : state) benchmark::DoNotOptimize(find_cookie(header, "connect.sid"));
}
BENCHMARK(parse_cookie_header_typical);

void serialize_set_cookie_typical(benchmark::State& state) {
  set_cookie_options o;
  o.path = "/";
  o.http_only = true;
  o.expires = now() + std::chrono::hours(24);
  o.same_site = std::string("lax");
  const std::string value = "s:" + sign(id, secret);
  for (auto _ : state) benchmark::DoNotOptimize(serialize_set_cookie("connect.sid", value, o));
}
BENCHMARK(serialize_set_cookie_typical);

void session_json_parse(benchmark::State& state) {
  for (auto _ : state) {
    std::error_code ec;
    benchmark::DoNotOptimize(parse_json(record, ec));
  }
}
BENCHMARK(session_json_parse);

void session_json_serialize(benchmark::State& state) {
  std::error_code ec;
  const auto value = *parse_json(record, ec);
  for (auto _ : state) benchmark::DoNotOptimize(stringify(value));
}
BENCHMARK(session_json_serialize);

void generate_session_id(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(generate_id());
}
BENCHMARK(generate_session_id);

// MemoryStore set + get on 10k sessions; completions go to a one-thread pool.
boost::asio::thread_pool& completion_pool() {
  static boost::asio::thread_pool pool(1);
  return pool;
}

memory_store& shared_store() {
  static memory_store store(completion_pool().get_executor());
  return store;
}

void memory_store_set_get(benchmark::State& state) {
  memory_store& store = shared_store();
  std::vector<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.push_back(generate_id());
  const timestamp expires = now() + std::chrono::hours(1);
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string& key = ids[i++ % ids.size()];
    store.set(key, {record, expires}, [](std::error_code) {});
    store.get(key, [](std::error_code, std::optional<std::string>) {});
  }
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(memory_store_set_get)->Threads(1)->Threads(2)->UseRealTime();

// A store that completes through a queue the benchmark drains itself: no I/O, no threads.
class queue_store final : public store {
 public:
  std::optional<std::string> value;
  void get(std::string_view, get_handler h) override {
    queue_.push_back([this, h = std::move(h)]() mutable { h({}, value); });
  }
  void set(std::string_view, session_record r, completion_handler h) override {
    value = std::move(r.json);
    queue_.push_back([h = std::move(h)]() mutable { h({}); });
  }
  void destroy(std::string_view, completion_handler h) override {
    queue_.push_back([h = std::move(h)]() mutable { h({}); });
  }
  void defer(detail::unique_function<void()> fn) override { queue_.push_back(std::move(fn)); }
  void drain() {
    while (!queue_.empty()) {
      auto f = std::move(queue_.front());
      queue_.pop_front();
      f();
    }
  }

 private:
  std::deque<detail::unique_function<void()>> queue_;
};

// One counter request through the engine: cookie check, record parse, modify, decide, record
// and Set-Cookie serialisation, with the store answering from memory.
void engine_counter_request(benchmark::State& state) {
  auto store = std::make_shared<queue_store>();
  options o;
  o.secrets = {secret};
  o.resave = false;
  o.cookie.max_age = std::chrono::hours(24);
  engine e(o, store);
  store->value = R"({"cookie":{"originalMaxAge":86400000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"count":1})";
  const std::string cookie = "connect.sid=" + encode_uri_component("s:" + sign(id, secret));
  for (auto _ : state) {
    request_info info;
    info.path = "/memory-store-counter";
    info.cookie_header = cookie;
    auto ctx = e.begin(info);
    ctx->load([](std::error_code) {});
    store->drain();
    auto& count = (*ctx->current())["count"];
    count = count.as_int64() + 1;
    ctx->end([](std::error_code, std::optional<std::string> set_cookie) { benchmark::DoNotOptimize(set_cookie); });
    store->drain();
  }
}
BENCHMARK(engine_counter_request);

}  // namespace

BENCHMARK_MAIN();
