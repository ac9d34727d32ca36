#include "support/redis_server.hpp"

#include <hiredis/hiredis.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

namespace sessionkit::test {

namespace {

// Whether 127.0.0.1:port can be bound now.
bool bindable(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::uint16_t free_port_for_later() {
  unsigned low = 32768;  // Linux's default start of the ephemeral range
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) range >> low;
  if (low <= 12000) return free_port();  // no room below it: the plain way
  std::random_device seed;
  std::mt19937 pick(seed());
  std::uniform_int_distribution<unsigned> in(10000, low - 1);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto port = static_cast<std::uint16_t>(in(pick));
    if (bindable(port)) return port;
  }
  throw std::runtime_error("cannot find a free port below the ephemeral range");
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  dirs += ":/usr/sbin:/sbin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t colon = dirs.find(':', start);
    const std::string dir = dirs.substr(start, colon - start);
    const std::string candidate = dir + "/" + name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  throw std::runtime_error(name + " is not installed (the test command installs it)");
}

redis_server::redis_server(bool persistent, std::vector<std::string> extra_args, std::uint16_t port)
    : persistent_(persistent), extra_args_(std::move(extra_args)) {
  char tmpl[] = "/tmp/sessionkit-redis-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  port_ = port ? port : free_port();
  for (int attempt = 1;; ++attempt) {
    try {
      start();
      return;
    } catch (const std::runtime_error&) {
      // A port picked here (or a cluster bus port picked by the caller with free_port()) can be
      // taken by another test's server before ours binds it: then redis-server exits at once,
      // and it starts again on ports picked anew. A server that runs but does not answer, or a
      // port the caller chose, is an error.
      const bool exited = process_ && !process_->running();
      if (port != 0 || !exited || attempt == 3) throw;
      process_.reset();
      port_ = free_port();
      for (std::size_t i = 0; i + 1 < extra_args_.size(); ++i)
        if (extra_args_[i] == "--cluster-port") extra_args_[i + 1] = std::to_string(free_port());
    }
  }
}

redis_server::~redis_server() {
  if (process_) process_->kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void redis_server::start() {
  if (process_) return;
  std::vector<std::string> args{"--port", std::to_string(port_), "--bind", "127.0.0.1", "--dir", dir_,
                                "--save", "", "--daemonize", "no", "--protected-mode", "no",
                                "--logfile", "", "--enable-debug-command", "yes"};
  if (persistent_) {
    args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
  } else {
    args.insert(args.end(), {"--appendonly", "no"});
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  process_ = std::make_unique<child_process>(find_program("redis-server"), args);
  wait_until_ready();
}

void redis_server::stop() {
  if (!process_) return;
  process_->terminate(std::chrono::seconds(10));
  process_.reset();
}

void redis_server::kill() {
  if (!process_) return;
  process_->kill();
  process_.reset();
}

void redis_server::wait_until_ready() const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    try {
      // NOAUTH: up, but started with --requirepass.
      const auto reply = command({"PING"});
      if (reply.text == "PONG" || reply.text.rfind("NOAUTH", 0) == 0) return;
    } catch (const std::runtime_error&) {
    }
    if (!process_->running())
      throw std::runtime_error("redis-server exited at start: " + process_->stdout_text());
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("redis-server did not start: " + process_->stdout_text());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

namespace {

redis_value convert(const redisReply* r) {
  redis_value v;
  switch (r->type) {
    case REDIS_REPLY_NIL: v.nil = true; break;
    case REDIS_REPLY_ERROR: v.error = true; v.text.assign(r->str, r->len); break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS: v.text.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: v.integer = r->integer; break;
    case REDIS_REPLY_ARRAY:
      for (std::size_t i = 0; i < r->elements; ++i) v.elements.push_back(convert(r->element[i]));
      break;
    default: break;
  }
  return v;
}

}  // namespace

redis_value redis_server::command(const std::vector<std::string>& args) const {
  timeval timeout{5, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeout);
  if (!c || c->err) {
    const std::string why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    throw std::runtime_error("cannot reach the test Redis: " + why);
  }
  redisSetTimeout(c, timeout);
  if (!password_.empty()) {
    auto* auth = static_cast<redisReply*>(redisCommand(c, "AUTH %b", password_.data(), password_.size()));
    if (auth) freeReplyObject(auth);
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(redisCommandArgv(c, int(argv.size()), argv.data(), lens.data()));
  if (!reply) {
    const std::string why = c->errstr;
    redisFree(c);
    throw std::runtime_error("Redis command failed: " + why);
  }
  redis_value v = convert(reply);
  freeReplyObject(reply);
  redisFree(c);
  return v;
}

std::optional<std::string> redis_server::get(const std::string& key) const {
  auto v = command({"GET", key});
  if (v.nil) return std::nullopt;
  return v.text;
}

long long redis_server::ttl(const std::string& key) const { return command({"TTL", key}).integer; }

std::vector<std::string> redis_server::keys(const std::string& pattern) const {
  std::vector<std::string> out;
  for (auto& e : command({"KEYS", pattern}).elements) out.push_back(e.text);
  return out;
}

}  // namespace sessionkit::test
