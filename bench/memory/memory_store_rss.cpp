// Resident memory per session in MemoryStore: fills it with N small sessions (the counter's
// record, a default 32-character id) and reports the growth of RSS per session.
//
//   sessionkit_memory_probe N   ->  prints "sessions=N rss_bytes=... bytes_per_session=..."

#include <sessionkit/id.hpp>
#include <sessionkit/stores/memory_store.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <malloc.h>
#include <unistd.h>

namespace {

long rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 100000;
  boost::asio::io_context io;
  sessionkit::memory_store store(io.get_executor());
  const auto expires = sessionkit::now() + std::chrono::hours(24);
  const std::string record = "{\"cookie\":{\"originalMaxAge\":86400000,\"expires\":\"" +
                             sessionkit::format_iso_date(expires) +
                             "\",\"httpOnly\":true,\"path\":\"/\"},\"count\":1}";
  std::vector<std::string> ids;
  ids.reserve(std::size_t(n));
  for (long i = 0; i < n; ++i) ids.push_back(sessionkit::generate_id());
  malloc_trim(0);
  const long before = rss_bytes();
  for (long i = 0; i < n; ++i) {
    store.set(ids[std::size_t(i)], {record, expires}, [](std::error_code) {});
    if (i % 1024 == 0) io.poll();  // run the completions as a server would
  }
  io.poll();
  const long after = rss_bytes();
  std::printf("sessions=%ld record_bytes=%zu rss_bytes=%ld bytes_per_session=%.1f\n", n, record.size(),
              after - before, double(after - before) / double(n));
  store.shutdown();
  return 0;
}
