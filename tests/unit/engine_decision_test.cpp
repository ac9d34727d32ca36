// The engine's decision table: every combination of resave / rolling / save_uninitialized /
// unset / maxAge with new / loaded / modified / unmodified / destroyed / regenerated / unset
// sessions, checked against express-session's documented outcomes (spec section 3.7).

#include "engine_harness.hpp"

#include <algorithm>

namespace sessionkit::test {
namespace {

enum class scenario { new_unmodified, new_modified, loaded_unmodified, loaded_modified, destroyed, regenerated, unset_null };

const char* name_of(scenario s) {
  switch (s) {
    case scenario::new_unmodified: return "new_unmodified";
    case scenario::new_modified: return "new_modified";
    case scenario::loaded_unmodified: return "loaded_unmodified";
    case scenario::loaded_modified: return "loaded_modified";
    case scenario::destroyed: return "destroyed";
    case scenario::regenerated: return "regenerated";
    case scenario::unset_null: return "unset_null";
  }
  return "?";
}

struct combo {
  bool resave, rolling, save_uninitialized, unset_destroy, max_age;
};

// What express-session does, stated as in its documentation rather than as the engine computes
// it: the store calls made at the end of the request and whether a cookie is sent.
struct expectation {
  std::vector<std::string> end_calls;  // "set", "touch", "destroy" (in order)
  bool cookie;
};

expectation expected(scenario s, const combo& c) {
  switch (s) {
    case scenario::new_unmodified:
      if (!c.save_uninitialized) return {{}, false};
      return {{"set"}, true};
    case scenario::new_modified:
      return {{"set"}, true};
    case scenario::loaded_unmodified:
      return {{c.resave ? "set" : "touch"}, c.rolling};
    case scenario::loaded_modified:
      return {{"set"}, c.rolling || c.max_age};
    case scenario::destroyed:
      // destroy() already ran in the handler; `unset: destroy` destroys a second time.
      return {c.unset_destroy ? std::vector<std::string>{"destroy"} : std::vector<std::string>{}, false};
    case scenario::unset_null:
      return {c.unset_destroy ? std::vector<std::string>{"destroy"} : std::vector<std::string>{}, false};
    case scenario::regenerated:
      // A regenerated session counts as modified: always saved and sent.
      return {{"set"}, true};
  }
  return {};
}

std::vector<std::string> verbs(const std::vector<std::string>& calls) {
  std::vector<std::string> out;
  for (const auto& c : calls) {
    const std::string verb = c.substr(0, c.find(' '));
    if (verb != "get") out.push_back(verb);
  }
  return out;
}

TEST(engine_decision, matches_express_session_for_every_combination) {
  const scenario scenarios[] = {scenario::new_unmodified, scenario::new_modified, scenario::loaded_unmodified,
                                scenario::loaded_modified, scenario::destroyed, scenario::regenerated,
                                scenario::unset_null};
  int checked = 0;
  for (int bits = 0; bits < 32; ++bits) {
    const combo c{bool(bits & 1), bool(bits & 2), bool(bits & 4), bool(bits & 8), bool(bits & 16)};
    for (scenario s : scenarios) {
      SCOPED_TRACE(std::string(name_of(s)) + " resave=" + std::to_string(c.resave) +
                   " rolling=" + std::to_string(c.rolling) + " saveUninitialized=" +
                   std::to_string(c.save_uninitialized) + " unset=" + (c.unset_destroy ? "destroy" : "keep") +
                   " maxAge=" + std::to_string(c.max_age));
      options o = test_options();
      o.resave = c.resave;
      o.rolling = c.rolling;
      o.save_uninitialized = c.save_uninitialized;
      o.unset = c.unset_destroy ? unset_action::destroy : unset_action::keep;
      if (c.max_age) o.cookie.max_age = std::chrono::milliseconds(60000);
      engine_harness h(o);

      const bool is_new = s == scenario::new_unmodified || s == scenario::new_modified;
      std::string cookie;
      std::string loaded_id;
      if (!is_new) {
        // An earlier request made and stored the session.
        auto first = h.request("", [](session_context& ctx) { (*ctx.current())["count"] = 1; });
        ASSERT_TRUE(first.set_cookie);
        cookie = first.cookie_header();
        loaded_id = *h.id_in(first.set_cookie);
        ASSERT_EQ(h.store->records.count(loaded_id), 1u);
      }
      std::vector<std::string> handler_calls;
      h.store->calls.clear();
      auto result = h.request(cookie, [&](session_context& ctx) {
        session& sess = *ctx.current();
        switch (s) {
          case scenario::new_modified:
          case scenario::loaded_modified: sess["count"] = 2; break;
          case scenario::destroyed: sess.destroy([](std::error_code) {}); break;
          case scenario::regenerated: sess.regenerate([](std::error_code) {}); break;
          case scenario::unset_null: ctx.unset_session(); break;
          default: break;
        }
        h.store->drain();
        handler_calls = verbs(h.store->calls);
        h.store->calls.clear();
      });
      ASSERT_FALSE(result.load_error);
      ASSERT_FALSE(result.end_error);
      const expectation want = expected(s, c);
      // Each end-of-request call is about the right id: the loaded one, or the new one.
      const std::string id_for_calls =
          (s == scenario::destroyed || s == scenario::unset_null) ? loaded_id : result.id;
      std::vector<std::string> want_calls;
      for (const auto& verb : want.end_calls) want_calls.push_back(verb + " " + id_for_calls);
      EXPECT_EQ(h.store->calls, want_calls);
      EXPECT_EQ(result.set_cookie.has_value(), want.cookie);
      if (s == scenario::destroyed || s == scenario::regenerated) {
        EXPECT_EQ(handler_calls, std::vector<std::string>{"destroy"});
      }
      if (s == scenario::regenerated) {
        EXPECT_NE(result.id, loaded_id);
        EXPECT_EQ(h.id_in(result.set_cookie), result.id);
        EXPECT_EQ(h.store->records.count(loaded_id), 0u);
        EXPECT_EQ(h.store->records.count(result.id), 1u);
      }
      if (result.set_cookie) {
        // Expires only with a max age; the loaded session keeps its id unless regenerated.
        EXPECT_EQ(result.set_cookie->find("; Expires=") != std::string::npos, c.max_age);
        if (s == scenario::loaded_unmodified || s == scenario::loaded_modified) {
          EXPECT_EQ(h.id_in(result.set_cookie), loaded_id);
        }
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 32 * 7);
}

}  // namespace
}  // namespace sessionkit::test
