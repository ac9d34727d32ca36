#pragma once
/// @file id.hpp
/// Session ids as express-session makes them (uid-safe `uid(24)`).

#include <sessionkit/config.hpp>

#include <string>

namespace sessionkit {

/// 24 bytes from the operating system's CSPRNG (`getrandom`), base64url without padding:
/// always 32 characters from `[A-Za-z0-9_-]`, 192 bits of entropy.
/// @throws std::system_error when the OS cannot supply random bytes
SESSIONKIT_API std::string generate_id();

/// The first characters of an id followed by an ellipsis, for logs: full ids are never logged.
SESSIONKIT_API std::string redact_id(std::string_view id);

}  // namespace sessionkit
