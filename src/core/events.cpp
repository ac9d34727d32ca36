// Session lifecycle events (events.hpp): the id hash and the delivery thread.

#include <sessionkit/events.hpp>

#include <sessionkit/log.hpp>

#include <openssl/evp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace sessionkit {

std::string_view to_string(session_event_kind kind) noexcept {
  switch (kind) {
    case session_event_kind::created: return "created";
    case session_event_kind::loaded: return "loaded";
    case session_event_kind::regenerated: return "regenerated";
    case session_event_kind::renewed: return "renewed";
    case session_event_kind::destroyed: return "destroyed";
    case session_event_kind::expired: return "expired";
  }
  return "unknown";
}

std::string hash_session_id(std::string_view id) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(id.data(), id.size(), digest, &size, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < 16 && i < size; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

struct event_dispatcher::impl {
  event_handler handler;
  std::size_t capacity;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<session_event> queue;
  std::size_t in_flight = 0;  // taken from the queue, handler still running
  bool stopping = false;
  std::atomic<std::size_t> dropped{0};
  std::thread worker;

  void run() {
    std::unique_lock lock(mutex);
    for (;;) {
      changed.wait(lock, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, all delivered
      session_event event = std::move(queue.front());
      queue.pop_front();
      ++in_flight;
      lock.unlock();
      try {
        handler(event);
      } catch (const std::exception& e) {
        log(log_level::error, std::string("a session event handler threw: ") + e.what());
      } catch (...) {
        log(log_level::error, "a session event handler threw");
      }
      lock.lock();
      --in_flight;
      changed.notify_all();
    }
  }
};

event_dispatcher::event_dispatcher(event_handler handler, std::size_t capacity) : impl_(new impl) {
  impl_->handler = std::move(handler);
  impl_->capacity = capacity;
  impl_->worker = std::thread([this] { impl_->run(); });
}

event_dispatcher::~event_dispatcher() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->changed.notify_all();
  impl_->worker.join();
  delete impl_;
}

void event_dispatcher::post(session_event event) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->queue.size() >= impl_->capacity) {
      if (impl_->dropped.fetch_add(1, std::memory_order_relaxed) == 0)
        log(log_level::warning, "session events are coming faster than the handler takes them; dropping some");
      return;
    }
    impl_->queue.push_back(std::move(event));
  }
  impl_->changed.notify_all();
}

std::size_t event_dispatcher::dropped() const noexcept { return impl_->dropped.load(std::memory_order_relaxed); }

void event_dispatcher::flush() {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait(lock, [&] { return impl_->queue.empty() && impl_->in_flight == 0; });
}

}  // namespace sessionkit
