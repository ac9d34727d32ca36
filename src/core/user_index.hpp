#pragma once
// The engine's side of the user index (user_index.cpp), for the request driver's in-process path,
// and the reading of the times a session's data keeps (the index orders by them, the timeouts
// and rotation decide by them).

#include <sessionkit/engine.hpp>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace sessionkit::detail {

/// A time the session data keeps under `key` (`session_keys::created`, `seen`, `renewed`), in
/// ms since the epoch; none when absent or not a number.
std::optional<std::int64_t> read_ms(const boost::json::object& data, std::string_view key);

/// A store's listing as the user's sessions: records decoded, oldest login first.
std::vector<user_session> user_sessions_from(std::vector<listed_session> listed);

/// The sessions `options::max_sessions_per_user` ends among `sessions` (oldest login first):
/// the oldest beyond `limit`, never `keep_id`.
std::vector<user_session> sessions_over_limit(std::vector<user_session> sessions, std::string_view keep_id,
                                              std::size_t limit);

}  // namespace sessionkit::detail
