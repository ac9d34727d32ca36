// metrics: relaxed counters, rendered in the Prometheus text format.

#include <sessionkit/metrics.hpp>

#include <sessionkit/error.hpp>
#include <sessionkit/json.hpp>

namespace sessionkit {
namespace {

constexpr std::array<const char*, 8> error_kinds{"unavailable", "timeout",   "full",           "shut_down",
                                                 "other",       "lock_timeout", "lock_lost", "merge_conflict"};
constexpr std::array<const char*, 4> operation_names{"get", "set", "touch", "destroy"};

void append_number(std::string& out, double v) { append_js_number(out, v); }

}  // namespace

void metrics::store_error(std::error_code ec) noexcept {
  std::size_t kind = 4;
  if (ec == error::store_unavailable) kind = 0;
  else if (ec == error::store_timeout) kind = 1;
  else if (ec == error::store_full) kind = 2;
  else if (ec == error::shut_down) kind = 3;
  else if (ec == error::lock_timeout) kind = 5;
  else if (ec == error::lock_lost) kind = 6;
  else if (ec == error::record_changed) kind = 7;
  errors_[kind].fetch_add(1, std::memory_order_relaxed);
}

void metrics::store_latency(operation op, std::chrono::steady_clock::duration took) noexcept {
  histogram& h = latency_[static_cast<std::size_t>(op)];
  const double seconds = std::chrono::duration<double>(took).count();
  std::size_t bucket = 0;
  while (bucket < latency_buckets.size() && seconds > latency_buckets[bucket]) ++bucket;
  h.counts[bucket].fetch_add(1, std::memory_order_relaxed);
  h.sum_ns.fetch_add(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count()),
                     std::memory_order_relaxed);
}

std::string metrics::render_prometheus() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    out.append("# HELP sessionkit_").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE sessionkit_").append(name).append(" counter\n");
    out.append("sessionkit_").append(name).append(" ").append(std::to_string(value)).append("\n");
  };
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  counter("sessions_created_total", "New sessions (no cookie, or an unknown, expired or broken one).", load(created_));
  counter("sessions_loaded_total", "Sessions loaded from the store.", load(loaded_));
  counter("sessions_saved_total", "Sessions written to the store.", load(saved_));
  counter("sessions_touched_total", "Sessions whose expiry was renewed without a write.", load(touched_));
  counter("sessions_destroyed_total", "Sessions destroyed (destroy(), regenerate(), unset with destroy).",
          load(destroyed_));
  counter("sessions_expired_total",
          "Requests whose cookie named a session the store no longer had (expired, or destroyed elsewhere).",
          load(expired_));
  counter("lock_waits_total", "Requests that waited for a session's lock (concurrency lock).", load(lock_waits_));
  counter("merge_retries_total", "Saves that found the record changed and merged (concurrency merge).",
          load(merge_retries_));
  out.append("# HELP sessionkit_store_errors_total Store errors that failed a request, by kind.\n");
  out.append("# TYPE sessionkit_store_errors_total counter\n");
  for (std::size_t i = 0; i < errors_.size(); ++i)
    out.append("sessionkit_store_errors_total{kind=\"").append(error_kinds[i]).append("\"} ")
        .append(std::to_string(load(errors_[i]))).append("\n");
  out.append("# HELP sessionkit_store_operation_seconds Store operation latency.\n");
  out.append("# TYPE sessionkit_store_operation_seconds histogram\n");
  for (std::size_t op = 0; op < latency_.size(); ++op) {
    const histogram& h = latency_[op];
    const std::string labels = std::string("operation=\"") + operation_names[op] + "\"";
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= latency_buckets.size(); ++b) {
      cumulative += load(h.counts[b]);
      out.append("sessionkit_store_operation_seconds_bucket{").append(labels).append(",le=\"");
      if (b < latency_buckets.size()) append_number(out, latency_buckets[b]);
      else out.append("+Inf");
      out.append("\"} ").append(std::to_string(cumulative)).append("\n");
    }
    out.append("sessionkit_store_operation_seconds_sum{").append(labels).append("} ");
    append_number(out, double(load(h.sum_ns)) / 1e9);
    out.append("\n");
    out.append("sessionkit_store_operation_seconds_count{").append(labels).append("} ")
        .append(std::to_string(cumulative)).append("\n");
  }
  return out;
}

}  // namespace sessionkit
