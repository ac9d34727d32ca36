// Signature checks: whatever the input, unsign never crashes, and what it accepts is exactly
// what sign produces; the engine's cookie reading agrees.
#include <sessionkit/engine.hpp>
#include <sessionkit/signer.hpp>
#include <sessionkit/stores/memory_store.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sessionkit::signer signer({"first secret", "second secret"});
  static boost::asio::io_context io;
  static const sessionkit::engine engine(
      [] {
        sessionkit::options o;
        o.secrets = {"first secret", "second secret"};
        return o;
      }(),
      std::make_shared<sessionkit::memory_store>(io.get_executor()));
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto value = signer.unsign(input)) {
    if (signer.sign(*value) != input && sessionkit::sign(*value, "second secret") != input) std::abort();
  }
  const std::string header = "connect.sid=" + std::string(input);
  (void)engine.read_session_id(header);
  (void)engine.read_session_id(input);
  return 0;
}
