#pragma once
// Clients counting in their own sessions (/redis-store-counter) until stopped, for the failover
// tests: every acknowledged count is checked against the client's last one (a count that does
// not go up means an acknowledged increment was lost), and failures are timed and counted per
// client.

#include "support/http_client.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sessionkit::test {

struct counter_load {
  using clock_type = std::chrono::steady_clock;

  std::atomic<bool> stop{false};
  std::atomic<int> lost{0}, failures{0}, successes_after_event{0};
  std::atomic<bool> event{false};
  std::mutex mutex;
  clock_type::time_point first_failure{}, last_failure{};
  std::vector<std::thread> clients;
  std::vector<long> last_acknowledged;
  std::vector<int> client_failures;  // read after finish()
  std::vector<cookie_jar> jars;      // each client's session (set before run() to start in one)
  std::unique_ptr<std::atomic<int>[]> client_successes_after_event;

  // `n` clients, client c on ports[c % ports.size()].
  void run(const std::vector<std::uint16_t>& ports, int n) {
    last_acknowledged.assign(std::size_t(n), 0);
    client_failures.assign(std::size_t(n), 0);
    jars.resize(std::size_t(n));
    client_successes_after_event = std::make_unique<std::atomic<int>[]>(std::size_t(n));
    for (int c = 0; c < n; ++c) {
      clients.emplace_back([this, port = ports[std::size_t(c) % ports.size()], c] {
        cookie_jar& jar = jars[std::size_t(c)];
        while (!stop) {
          response r;
          try {
            r = get(port, "/redis-store-counter", jar.headers(), std::chrono::seconds(3));
          } catch (const std::exception&) {
          }
          if (r.status == 200) {
            jar.store(r);
            const long count = std::stol(r.body.substr(r.body.rfind(' ') + 1));
            if (count <= last_acknowledged[std::size_t(c)]) ++lost;
            last_acknowledged[std::size_t(c)] = count;
            if (event) {
              ++successes_after_event;
              ++client_successes_after_event[std::size_t(c)];
            }
          } else {
            ++failures;
            ++client_failures[std::size_t(c)];
            {
              std::lock_guard lock(mutex);
              if (first_failure == clock_type::time_point{}) first_failure = clock_type::now();
              last_failure = clock_type::now();
            }
            // A client retries after a pause, as Retry-After asks: four clients retrying a
            // fast 503 in a tight loop (two such tests at once under ctest -j2) starved the
            // sentinels of CPU so that no failover happened within 20 s.
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }
      });
    }
  }
  void run(std::uint16_t port, int n) { run(std::vector<std::uint16_t>{port}, n); }

  void finish() {
    stop = true;
    for (auto& t : clients) t.join();
    clients.clear();
  }
  double window_ms() const {
    return first_failure == clock_type::time_point{}
               ? 0.0
               : std::chrono::duration<double, std::milli>(last_failure - first_failure).count();
  }
};

}  // namespace sessionkit::test
