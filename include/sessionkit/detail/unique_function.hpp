#pragma once
/// @file unique_function.hpp
/// A move-only `std::function` (C++20 has no `std::move_only_function`). Store completions are
/// move-only because they usually own an Asio completion handler.

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace sessionkit::detail {

template <class Signature>
class unique_function;

/// Callables of up to four pointers that move without throwing (a lambda holding a few
/// references, say: the adapters' completions) are kept inside the object; larger ones on the
/// heap. Every request's load and end go through one, so the small case allocates nothing.
template <class R, class... Args>
class unique_function<R(Args...)> {
 public:
  unique_function() noexcept = default;
  unique_function(std::nullptr_t) noexcept {}

  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, unique_function> &&
                                              std::is_invocable_r_v<R, F&, Args...>>>
  unique_function(F&& f) {
    using D = std::decay_t<F>;
    if constexpr (fits_inline<D>) ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
    else *reinterpret_cast<D**>(storage_) = new D(std::forward<F>(f));
    ops_ = &ops_for<D>;
  }

  unique_function(unique_function&& other) noexcept { take(other); }
  unique_function& operator=(unique_function&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  unique_function& operator=(std::nullptr_t) noexcept {
    reset();
    return *this;
  }
  unique_function(const unique_function&) = delete;
  unique_function& operator=(const unique_function&) = delete;
  ~unique_function() { reset(); }

  R operator()(Args... args) { return ops_->call(storage_, std::forward<Args>(args)...); }
  explicit operator bool() const noexcept { return ops_ != nullptr; }

 private:
  static constexpr std::size_t inline_size = 4 * sizeof(void*);

  template <class F>
  static constexpr bool fits_inline = sizeof(F) <= inline_size && alignof(F) <= alignof(std::max_align_t) &&
                                      std::is_nothrow_move_constructible_v<F>;

  template <class F>
  static F* target(void* storage) noexcept {
    if constexpr (fits_inline<F>) return std::launder(reinterpret_cast<F*>(storage));
    else return *reinterpret_cast<F**>(storage);
  }

  struct operations {
    R (*call)(void* storage, Args&&... args);
    void (*move)(void* from, void* to) noexcept;  // leaves `from` empty (nothing to destroy)
    void (*destroy)(void* storage) noexcept;
  };

  template <class F>
  static constexpr operations ops_for{
      [](void* s, Args&&... args) -> R { return (*target<F>(s))(std::forward<Args>(args)...); },
      [](void* from, void* to) noexcept {
        if constexpr (fits_inline<F>) {
          ::new (to) F(std::move(*target<F>(from)));
          target<F>(from)->~F();
        } else {
          *reinterpret_cast<F**>(to) = target<F>(from);
        }
      },
      [](void* s) noexcept {
        if constexpr (fits_inline<F>) target<F>(s)->~F();
        else delete target<F>(s);
      }};

  void take(unique_function& other) noexcept {
    if (!other.ops_) return;
    other.ops_->move(other.storage_, storage_);
    ops_ = std::exchange(other.ops_, nullptr);
  }
  void reset() noexcept {
    if (auto* ops = std::exchange(ops_, nullptr)) ops->destroy(storage_);
  }

  alignas(std::max_align_t) unsigned char storage_[inline_size];
  const operations* ops_ = nullptr;
};

}  // namespace sessionkit::detail
