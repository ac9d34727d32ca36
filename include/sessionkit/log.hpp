#pragma once
/// @file log.hpp
/// Where sessionkit reports what it handled on its own (an invalid stored record, a cookie that
/// could not be serialised, a store reconnecting). Never a full session id: see `redact_id`.

#include <sessionkit/config.hpp>

#include <functional>
#include <string>
#include <string_view>

namespace sessionkit {

enum class log_level { debug, info, warning, error };

/// Receives log lines; must be thread-safe.
using log_sink = std::function<void(log_level, std::string_view message)>;

/// Replaces the sink (default: warnings and errors to stderr). An empty sink silences logging.
SESSIONKIT_API void set_log_sink(log_sink sink);

/// Sends one line to the sink.
SESSIONKIT_API void log(log_level level, std::string_view message);

/// A store URL fit for a message: the user information of any `scheme://user:password@host`
/// (every host of a list, too) and the value of every query parameter whose name mentions a
/// password, a secret, a token or a key become `***`. Works on malformed URLs as well, so an
/// error about a URL can show it.
SESSIONKIT_API std::string redact_url(std::string_view url);

}  // namespace sessionkit
