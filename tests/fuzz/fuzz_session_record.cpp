// Session records from a store (also records written by Node): the engine loads anything without
// crashing; a record it accepts and saves again is stable (saving what it loads changes nothing).
#include <sessionkit/engine.hpp>
#include <sessionkit/json.hpp>
#include <sessionkit/log.hpp>
#include <sessionkit/signer.hpp>

#include <cstdint>
#include <cstdlib>
#include <deque>

namespace {

// Answers every get with the fuzzed record; completions run when the harness drains them.
class fuzz_store final : public sessionkit::store {
 public:
  std::string record;
  std::optional<std::string> saved;
  void get(std::string_view, sessionkit::get_handler h) override {
    queue.push_back([this, h = std::move(h)]() mutable { h({}, record); });
  }
  void set(std::string_view, sessionkit::session_record r, sessionkit::completion_handler h) override {
    saved = std::move(r.json);
    queue.push_back([h = std::move(h)]() mutable { h({}); });
  }
  void destroy(std::string_view, sessionkit::completion_handler h) override {
    queue.push_back([h = std::move(h)]() mutable { h({}); });
  }
  void defer(sessionkit::detail::unique_function<void()> fn) override { queue.push_back(std::move(fn)); }
  void drain() {
    while (!queue.empty()) {
      auto f = std::move(queue.front());
      queue.pop_front();
      f();
    }
  }
  std::deque<sessionkit::detail::unique_function<void()>> queue;
};

// Loads `record` for id "fuzz" and saves it unchanged (resave); returns what was saved.
std::optional<std::string> load_and_resave(const std::string& record) {
  static auto store = std::make_shared<fuzz_store>();
  static const sessionkit::engine engine(
      [] {
        sessionkit::options o;
        o.secrets = {std::string(32, 's')};
        o.resave = true;
        return o;
      }(),
      store);
  static const std::string cookie = "connect.sid=s:" + sessionkit::sign("fuzz", std::string(32, 's'));
  store->record = record;
  store->saved.reset();
  sessionkit::request_info info;
  info.path = "/";
  info.cookie_header = cookie;
  auto ctx = engine.begin(info);
  ctx->load([](std::error_code) {});
  store->drain();
  const bool loaded = ctx->current() && ctx->current()->id() == "fuzz";
  ctx->end([](std::error_code, std::optional<std::string>) {});
  store->drain();
  if (!loaded) return std::nullopt;
  return store->saved;
}

// The cookie's expiry moves on every save (touch); everything else must stay the same.
std::string without_expiry(std::string record) {
  const std::string key = "\"expires\":\"";
  const std::size_t at = record.find(key);
  if (at != std::string::npos) {
    const std::size_t end = record.find('"', at + key.size());
    if (end != std::string::npos) record.erase(at + key.size(), end - at - key.size());
  }
  return record;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = (sessionkit::set_log_sink({}), true);
  (void)quiet;
  const std::string record(reinterpret_cast<const char*>(data), size);
  auto first = load_and_resave(record);
  if (!first) return 0;
  // What we wrote must itself load, and write back byte for byte the same.
  auto second = load_and_resave(*first);
  if (!second || without_expiry(*second) != without_expiry(*first)) std::abort();
  return 0;
}
