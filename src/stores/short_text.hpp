#pragma once
// short_text: an immutable string in 16 bytes, for MemoryStore's entries (a million sessions
// keep a million of them). Up to 15 bytes live inside the object (a small session's record tail,
// `,"count":1}`, is 11); longer text lives in one heap block holding its length and bytes,
// exactly as long as it needs to be. std::string takes 32 bytes for the same job.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace sessionkit::detail {

class short_text {
 public:
  short_text() noexcept { bytes_[last] = 0; }
  explicit short_text(std::string_view text) { set(text); }
  short_text(short_text&& other) noexcept {
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    other.bytes_[last] = 0;  // the heap block, if any, is ours now
  }
  short_text& operator=(short_text&& other) noexcept {
    if (this != &other) {
      release();
      std::memcpy(bytes_, other.bytes_, sizeof bytes_);
      other.bytes_[last] = 0;
    }
    return *this;
  }
  short_text(const short_text&) = delete;
  short_text& operator=(const short_text&) = delete;
  ~short_text() { release(); }

  void assign(std::string_view text) {
    short_text fresh(text);
    *this = std::move(fresh);
  }

  std::string_view view() const noexcept {
    if (!on_heap()) return {bytes_, static_cast<unsigned char>(bytes_[last])};
    const char* block = heap_block();
    std::uint32_t size;
    std::memcpy(&size, block, sizeof size);
    return {block + sizeof size, size};
  }
  std::size_t size() const noexcept { return view().size(); }

 private:
  static constexpr std::size_t last = 15;  // the inline length, or heap_mark
  static constexpr unsigned char heap_mark = 0xFF;

  bool on_heap() const noexcept { return static_cast<unsigned char>(bytes_[last]) == heap_mark; }
  char* heap_block() const noexcept {
    char* block;
    std::memcpy(&block, bytes_, sizeof block);
    return block;
  }
  void set(std::string_view text) {
    if (text.size() < last + 1) {
      std::memcpy(bytes_, text.data(), text.size());
      bytes_[last] = static_cast<char>(text.size());
      return;
    }
    if (text.size() > UINT32_MAX) throw std::length_error("session record too long");
    const auto size = static_cast<std::uint32_t>(text.size());
    char* block = new char[sizeof size + size];
    std::memcpy(block, &size, sizeof size);
    std::memcpy(block + sizeof size, text.data(), size);
    std::memcpy(bytes_, &block, sizeof block);
    bytes_[last] = static_cast<char>(heap_mark);
  }
  void release() noexcept {
    if (on_heap()) delete[] heap_block();
    bytes_[last] = 0;
  }

  alignas(8) char bytes_[16];
};

}  // namespace sessionkit::detail
