#pragma once
// Hashed ids at rest (options::id_hash_key): the store's key for a session id, and the sealed
// new id a renewed session's old record carries, so that no live id is in the store.

#include <optional>
#include <string>
#include <string_view>

namespace sessionkit::detail {

/// base64url(HMAC-SHA256(key, id)) without padding: 43 characters.
std::string hashed_id(std::string_view key, std::string_view id);

/// `new_id` sealed with `old_id` (XOR with an HMAC-SHA256 keystream keyed by the old id, hex):
/// only a client that holds the old id can learn the new one from it; the store, which has
/// only the old id's hash, cannot.
std::string seal_forward(std::string_view old_id, std::string_view new_id);

/// The new id `seal_forward` sealed, or none when `sealed` is not such a text.
std::optional<std::string> open_forward(std::string_view old_id, std::string_view sealed);

}  // namespace sessionkit::detail
