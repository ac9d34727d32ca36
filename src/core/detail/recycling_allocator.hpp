#pragma once
// An allocator that keeps the last block it freed on each thread for the next allocation of the
// same size: every request allocates its driver (with the shared_ptr's count) and frees it at
// the end, so the next request on the thread takes the same block instead of calling malloc.
// (Asio recycles its handlers' memory the same way.) One block per thread at most: bounded.

#include <cstddef>
#include <new>
#include <utility>

namespace sessionkit::detail {

struct recycled_block {
  void* block = nullptr;
  std::size_t size = 0;
  bool gone = false;  // the thread is ending: free blocks at once
  ~recycled_block() {
    ::operator delete(block);
    block = nullptr;
    gone = true;
  }
};

inline recycled_block& recycled_block_of_thread() noexcept {
  thread_local recycled_block kept;
  return kept;
}

template <class T>
struct recycling_allocator {
  using value_type = T;
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "plain operator new must suit T");

  recycling_allocator() noexcept = default;
  template <class U>
  recycling_allocator(const recycling_allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    recycled_block& kept = recycled_block_of_thread();
    if (kept.block && kept.size == bytes) return static_cast<T*>(std::exchange(kept.block, nullptr));
    return static_cast<T*>(::operator new(bytes));
  }

  void deallocate(T* p, std::size_t n) noexcept {
    recycled_block& kept = recycled_block_of_thread();
    if (!kept.block && !kept.gone) {
      kept.block = p;
      kept.size = n * sizeof(T);
      return;
    }
    ::operator delete(p);
  }

  template <class U>
  bool operator==(const recycling_allocator<U>&) const noexcept { return true; }
};

}  // namespace sessionkit::detail
