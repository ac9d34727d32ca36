#pragma once
/// @file unique_function.hpp
/// A move-only `std::function` (C++20 has no `std::move_only_function`). Store completions are
/// move-only because they usually own an Asio completion handler.

#include <memory>
#include <type_traits>
#include <utility>

namespace sessionkit::detail {

template <class Signature>
class unique_function;

template <class R, class... Args>
class unique_function<R(Args...)> {
 public:
  unique_function() noexcept = default;
  unique_function(std::nullptr_t) noexcept {}

  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, unique_function> &&
                                              std::is_invocable_r_v<R, F&, Args...>>>
  unique_function(F&& f) : impl_(std::make_unique<model<std::decay_t<F>>>(std::forward<F>(f))) {}

  unique_function(unique_function&&) noexcept = default;
  unique_function& operator=(unique_function&&) noexcept = default;

  R operator()(Args... args) { return impl_->call(std::forward<Args>(args)...); }
  explicit operator bool() const noexcept { return impl_ != nullptr; }

 private:
  struct concept_ {
    virtual ~concept_() = default;
    virtual R call(Args... args) = 0;
  };
  template <class F>
  struct model final : concept_ {
    explicit model(F&& f) : fn(std::move(f)) {}
    explicit model(const F& f) : fn(f) {}
    R call(Args... args) override { return fn(std::forward<Args>(args)...); }
    F fn;
  };
  std::unique_ptr<concept_> impl_;
};

}  // namespace sessionkit::detail
