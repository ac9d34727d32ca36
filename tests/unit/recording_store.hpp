#pragma once
// A store for engine tests: records every call, completes them only when the test drains its
// queue (never inside the call, as the contract requires), and can be told to fail calls.

#include <sessionkit/store.hpp>

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sessionkit::test {

class recording_store final : public store, private immediate_store {
 public:
  std::map<std::string, session_record, std::less<>> records;
  std::vector<std::string> calls;  // "get id", "set id", "touch id", "destroy id"
  std::error_code fail_with;       // when set, every call fails with it
  bool supports_touch = true;

  // The asynchronous forms do the work now and complete when the test drains the queue (with
  // `fail_with` as it is then); `immediate()` answers at once when `answers_at_once` is set.
  void get(std::string_view id, get_handler h) override {
    queue_.push_back([this, h = std::move(h), found = do_get(id)]() mutable {
      if (fail_with) h(fail_with, std::nullopt);
      else h({}, std::move(found));
    });
  }
  void set(std::string_view id, session_record r, completion_handler h) override {
    do_set(id, r);
    complete(std::move(h));
  }
  bool conditional = true;  // honours set_if's conditions (as the shipped stores do)
  bool has_conditional_set() const noexcept override { return conditional; }
  void set_if(std::string_view id, session_record r, write_condition c, completion_handler h) override {
    if (!condition_holds(id, c)) {
      calls.push_back("set-refused " + std::string(id));
      queue_.push_back([h = std::move(h)]() mutable { h(error::session_gone); });
      return;
    }
    do_set(id, r);
    complete(std::move(h));
  }
  void destroy(std::string_view id, completion_handler h) override {
    do_destroy(id);
    complete(std::move(h));
  }
  bool has_touch() const noexcept override { return supports_touch; }
  void touch(std::string_view id, session_record r, completion_handler h) override {
    do_touch(id, r);
    complete(std::move(h));
  }
  void defer(detail::unique_function<void()> fn) override { queue_.push_back(std::move(fn)); }

  /// When set, the store answers at once (`immediate()`, as an in-memory store does);
  /// otherwise the driver must use the asynchronous forms.
  bool answers_at_once = false;
  std::size_t answered_at_once = 0;  // how many calls were answered at once
  /// `store::continuations_may_run_inline`, as the test sets it.
  bool continues_inline = false;
  bool continuations_may_run_inline() const noexcept override { return continues_inline; }

  immediate_store* immediate() noexcept override { return answers_at_once ? this : nullptr; }

  get_result get_now(std::string_view id) override {
    ++answered_at_once;
    auto found = do_get(id);
    if (fail_with) return get_result{fail_with, std::nullopt};
    return get_result{{}, std::move(found)};
  }
  std::error_code set_now(std::string_view id, session_record r, write_condition c) override {
    ++answered_at_once;
    if (!condition_holds(id, c)) {
      calls.push_back("set-refused " + std::string(id));
      return error::session_gone;
    }
    do_set(id, r);
    return fail_with;
  }
  std::error_code touch_now(std::string_view id, session_record r) override {
    ++answered_at_once;
    do_touch(id, r);
    return fail_with;
  }
  std::error_code destroy_now(std::string_view id) override {
    ++answered_at_once;
    do_destroy(id);
    return fail_with;
  }

  /// Runs queued completions (and any they queue) until none is left.
  void drain() {
    while (!queue_.empty()) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      fn();
    }
  }
  std::size_t pending() const { return queue_.size(); }

 private:
  bool condition_holds(std::string_view id, write_condition c) const {
    const bool live = records.find(id) != records.end();
    return c == write_condition::always || (c == write_condition::if_present) == live;
  }
  std::optional<std::string> do_get(std::string_view id) {
    calls.push_back("get " + std::string(id));
    if (auto it = records.find(id); it != records.end()) return it->second.json;
    return std::nullopt;
  }
  void do_set(std::string_view id, session_record& r) {
    calls.push_back("set " + std::string(id));
    if (!fail_with) records[std::string(id)] = std::move(r);
  }
  void do_touch(std::string_view id, const session_record& r) {
    calls.push_back("touch " + std::string(id));
    if (fail_with) return;
    if (auto it = records.find(id); it != records.end()) it->second.expires = r.expires;
  }
  void do_destroy(std::string_view id) {
    calls.push_back("destroy " + std::string(id));
    if (!fail_with) records.erase(std::string(id));
  }
  void complete(completion_handler h) {
    queue_.push_back([this, h = std::move(h)]() mutable { h(fail_with); });
  }
  std::deque<detail::unique_function<void()>> queue_;
};

}  // namespace sessionkit::test
