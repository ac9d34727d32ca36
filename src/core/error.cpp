#include <sessionkit/error.hpp>

namespace sessionkit {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sessionkit"; }

  std::string message(int value) const override {
    switch (static_cast<error>(value)) {
      case error::store_unavailable: return "session store unavailable";
      case error::store_timeout: return "session store timed out";
      case error::store_failure: return "session store failure";
      case error::invalid_record: return "stored session record is invalid";
      case error::failed_to_load_session: return "failed to load session";
      case error::session_too_large: return "session too large";
      case error::not_supported: return "operation not supported by this store";
      case error::shut_down: return "session store shut down";
      case error::no_session: return "no session";
      case error::invalid_cookie_option: return "invalid cookie option";
      case error::store_full: return "session store full";
      case error::session_gone: return "session no longer exists";
      case error::lock_timeout: return "timed out waiting for the session's lock";
      case error::lock_lost: return "the session's lock expired before the request ended";
      case error::record_changed: return "the stored session changed concurrently";
    }
    return "unknown sessionkit error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

std::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

bool is_unavailable(std::error_code ec) noexcept {
  return ec == error::store_unavailable || ec == error::store_timeout || ec == error::shut_down ||
         ec == error::store_full || ec == error::lock_timeout || ec == error::lock_lost ||
         ec == error::record_changed;
}

}  // namespace sessionkit
