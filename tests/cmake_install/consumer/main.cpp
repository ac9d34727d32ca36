// Uses the installed sessionkit: the version header, a MemoryStore engine, the Redis URL parser
// (sessionkit::redis) and the Beast adapter's header (sessionkit::beast).
#include <sessionkit/adapters/beast.hpp>
#include <sessionkit/engine.hpp>
#include <sessionkit/stores/memory_store.hpp>
#include <sessionkit/stores/redis_store.hpp>
#include <sessionkit/version.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>

int main() {
  boost::asio::io_context io;
  auto store = std::make_shared<sessionkit::memory_store>(io.get_executor());
  sessionkit::options options;
  options.secrets = {std::string(32, 's')};
  const sessionkit::engine engine(options, store);
  const auto endpoint = sessionkit::parse_redis_url("redis://127.0.0.1:6379/2");
  sessionkit::beast::server_options server;
  store->shutdown();
  std::cout << "sessionkit " << SESSIONKIT_VERSION_STRING << " db " << endpoint.database << " cap "
            << server.max_connections << " signed " << engine.cookie_signer().sign("id").size() << "\n";
  return SESSIONKIT_VERSION_MAJOR == 0 ? 0 : 1;
}
