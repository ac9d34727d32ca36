#include <sessionkit/log.hpp>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace sessionkit {
namespace {

void default_sink(log_level level, std::string_view message) {
  if (level < log_level::warning) return;
  const char* prefix = level == log_level::error ? "sessionkit error: " : "sessionkit warning: ";
  std::string line = prefix;
  line.append(message).push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines from threads don't mix
}

std::mutex sink_mutex;
std::shared_ptr<const log_sink> current_sink = std::make_shared<const log_sink>(default_sink);

}  // namespace

void set_log_sink(log_sink sink) {
  auto next = std::make_shared<const log_sink>(std::move(sink));
  std::lock_guard lock(sink_mutex);
  current_sink = std::move(next);
}

void log(log_level level, std::string_view message) {
  std::shared_ptr<const log_sink> sink;
  {
    std::lock_guard lock(sink_mutex);
    sink = current_sink;
  }
  if (sink && *sink) (*sink)(level, message);
}

}  // namespace sessionkit
