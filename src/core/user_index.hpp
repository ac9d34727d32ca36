#pragma once
// The engine's side of the user index (user_index.cpp), for the request driver's in-process path.

#include <sessionkit/engine.hpp>

#include <vector>

namespace sessionkit::detail {

/// A store's listing as the user's sessions: records decoded, oldest login first.
std::vector<user_session> user_sessions_from(std::vector<listed_session> listed);

/// The sessions `options::max_sessions_per_user` ends among `sessions` (oldest login first):
/// the oldest beyond `limit`, never `keep_id`.
std::vector<user_session> sessions_over_limit(std::vector<user_session> sessions, std::string_view keep_id,
                                              std::size_t limit);

}  // namespace sessionkit::detail
