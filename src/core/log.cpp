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

namespace {

bool names_a_secret(std::string_view key) {
  std::string lower(key);
  for (char& c : lower) c = char(c >= 'A' && c <= 'Z' ? c + 32 : c);
  for (std::string_view word : {"pass", "secret", "token", "key", "auth"})
    if (lower.find(word) != std::string::npos) return true;
  return false;
}

}  // namespace

std::string redact_url(std::string_view url) {
  std::string out;
  const std::size_t query_at = url.find('?');
  std::string_view before_query = url.substr(0, query_at);
  // `scheme://user:password@host...`: everything up to the last '@' before the query is user
  // information (an unencoded '@' or '/' in a password included).
  if (const std::size_t scheme_end = before_query.find("://"); scheme_end != std::string_view::npos) {
    const std::size_t at = before_query.rfind('@');
    if (at != std::string_view::npos && at > scheme_end) {
      out.append(before_query.substr(0, scheme_end + 3)).append("***");
      before_query = before_query.substr(at);
    }
  } else if (const std::size_t at = before_query.rfind('@'); at != std::string_view::npos) {
    out.append("***");  // no scheme, but something that looks like user information
    before_query = before_query.substr(at);
  }
  out.append(before_query);
  if (query_at == std::string_view::npos) return out;
  out.push_back('?');
  std::string_view query = url.substr(query_at + 1);
  bool first = true;
  while (true) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!first) out.push_back('&');
    first = false;
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && names_a_secret(pair.substr(0, eq)))
      out.append(pair.substr(0, eq + 1)).append("***");
    else
      out.append(pair);
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return out;
}

}  // namespace sessionkit
