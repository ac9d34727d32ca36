#pragma once
/// @file metrics.hpp
/// What operators watch: sessions created, loaded, saved, touched, destroyed and expired, requests that
/// failed on the store by kind, and the store operations' latency as a histogram, counted with
/// relaxed atomics (no lock on the request path) and rendered in the Prometheus text exposition
/// format. Give an engine one with `options::metrics`; serve `render_prometheus()` where your
/// monitoring scrapes (the examples: `GET /metrics` with `--metrics`).

#include <sessionkit/config.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>

namespace sessionkit {

/// The counters of one engine (or several: they may share one).
class SESSIONKIT_API metrics {
 public:
  /// Store operations timed by the histogram.
  enum class operation { get, set, touch, destroy };

  void session_created() noexcept { created_.fetch_add(1, std::memory_order_relaxed); }
  void session_loaded() noexcept { loaded_.fetch_add(1, std::memory_order_relaxed); }
  void session_saved() noexcept { saved_.fetch_add(1, std::memory_order_relaxed); }
  void session_touched() noexcept { touched_.fetch_add(1, std::memory_order_relaxed); }
  void session_destroyed() noexcept { destroyed_.fetch_add(1, std::memory_order_relaxed); }
  /// A request's cookie named a session the store no longer had (it expired, or was destroyed
  /// elsewhere) or whose record was broken: a new session takes its place (also counted created).
  void session_expired() noexcept { expired_.fetch_add(1, std::memory_order_relaxed); }
  /// A request waited for a session's lock (`concurrency_mode::lock`).
  void lock_waited() noexcept { lock_waits_.fetch_add(1, std::memory_order_relaxed); }
  /// A merge found the record changed and re-applied the request's changes (`merge`).
  void merge_retried() noexcept { merge_retries_.fetch_add(1, std::memory_order_relaxed); }
  /// A store error that failed a request (or a session method), by kind.
  void store_error(std::error_code ec) noexcept;
  /// How long one store operation took.
  void store_latency(operation op, std::chrono::steady_clock::duration took) noexcept;

  /// The counters in the Prometheus text format (version 0.0.4), metric names prefixed
  /// `sessionkit_`.
  std::string render_prometheus() const;

  /// The histogram's bucket bounds, in seconds (then +Inf).
  static constexpr std::array<double, 12> latency_buckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                          0.01,   0.025,   0.05,   0.1,   0.5,    1.0};

 private:
  struct histogram {
    std::array<std::atomic<std::uint64_t>, latency_buckets.size() + 1> counts{};  // last: +Inf
    std::atomic<std::uint64_t> sum_ns{0};
  };
  std::atomic<std::uint64_t> created_{0}, loaded_{0}, saved_{0}, touched_{0}, destroyed_{0};
  std::atomic<std::uint64_t> lock_waits_{0}, merge_retries_{0}, expired_{0};
  // unavailable, timeout, full, shut down, other, lock timeout, lock lost, merge conflict
  std::array<std::atomic<std::uint64_t>, 8> errors_{};
  std::array<histogram, 4> latency_{};
};

}  // namespace sessionkit
