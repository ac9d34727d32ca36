#pragma once
// A store for engine tests: records every call, completes them only when the test drains its
// queue (never inside the call, as the contract requires), and can be told to fail calls.

#include <sessionkit/store.hpp>

#include <deque>
#include <map>
#include <string>
#include <vector>

namespace sessionkit::test {

class recording_store final : public store {
 public:
  std::map<std::string, session_record, std::less<>> records;
  std::vector<std::string> calls;  // "get id", "set id", "touch id", "destroy id"
  std::error_code fail_with;       // when set, every call fails with it
  bool supports_touch = true;

  void get(std::string_view id, get_handler h) override {
    calls.push_back("get " + std::string(id));
    std::optional<std::string> found;
    if (auto it = records.find(id); it != records.end()) found = it->second.json;
    queue_.push_back([this, h = std::move(h), found = std::move(found)]() mutable {
      if (fail_with) h(fail_with, std::nullopt);
      else h({}, std::move(found));
    });
  }
  void set(std::string_view id, session_record r, completion_handler h) override {
    calls.push_back("set " + std::string(id));
    if (!fail_with) records[std::string(id)] = std::move(r);
    complete(std::move(h));
  }
  void destroy(std::string_view id, completion_handler h) override {
    calls.push_back("destroy " + std::string(id));
    if (!fail_with) records.erase(std::string(id));
    complete(std::move(h));
  }
  bool has_touch() const noexcept override { return supports_touch; }
  void touch(std::string_view id, session_record r, completion_handler h) override {
    calls.push_back("touch " + std::string(id));
    if (!fail_with) {
      if (auto it = records.find(id); it != records.end()) it->second.expires = r.expires;
    }
    complete(std::move(h));
  }
  void defer(detail::unique_function<void()> fn) override { queue_.push_back(std::move(fn)); }

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
  void complete(completion_handler h) {
    queue_.push_back([this, h = std::move(h)]() mutable { h(fail_with); });
  }
  std::deque<detail::unique_function<void()>> queue_;
};

}  // namespace sessionkit::test
