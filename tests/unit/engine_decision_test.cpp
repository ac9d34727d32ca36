// The engine's decision table: every combination of resave / rolling / save_uninitialized /
// unset / maxAge with new / loaded / modified / unmodified / destroyed / regenerated / unset
// sessions, checked against express-session's documented outcomes (spec section 3.7). The
// decisions are plain values: no store, no driver, only `session_state` and its plan.

#include <sessionkit/engine.hpp>

#include <gtest/gtest.h>

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

options test_options() {
  options o;
  o.secrets = {"keyboard cat"};
  return o;
}

std::vector<std::string> verbs_of(const end_plan& plan) {
  switch (plan.operation) {
    case store_operation::none: return {};
    case store_operation::save: return {"set"};
    case store_operation::touch: return {"touch"};
    case store_operation::destroy: return {"destroy"};
  }
  return {"?"};
}

request_info request_with(const std::string& cookie_header) {
  request_info info;
  info.path = "/";
  info.cookie_header = cookie_header;
  return info;
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
      const engine eng(o);  // decisions only: no store

      const bool is_new = s == scenario::new_unmodified || s == scenario::new_modified;
      std::string cookie;
      std::string record;
      std::string loaded_id;
      if (!is_new) {
        // An earlier request made the session; its plan saved this record and sent this cookie.
        session_state first(eng, request_with(""), true);
        ASSERT_EQ(first.first_step(), session_state::step::ready);
        (*first.current())["count"] = 1;
        const end_plan made = first.plan_end(true);
        ASSERT_EQ(made.operation, store_operation::save);
        ASSERT_TRUE(made.set_cookie);
        cookie = made.set_cookie->substr(0, made.set_cookie->find(';'));
        record = made.record.json;
        loaded_id = *eng.read_session_id(cookie);
        ASSERT_EQ(made.id, loaded_id);
      }
      session_state state(eng, request_with(cookie), true);
      if (!is_new) {
        ASSERT_EQ(state.first_step(), session_state::step::load);
        ASSERT_EQ(state.id_to_load(), loaded_id);
        state.on_loaded(record);
      }
      ASSERT_EQ(state.first_step(), session_state::step::ready);
      session& sess = *state.current();
      switch (s) {
        case scenario::new_modified:
        case scenario::loaded_modified: sess["count"] = 2; break;
        case scenario::destroyed: state.on_destroyed(); break;    // session.destroy()
        case scenario::regenerated: state.regenerate(); break;   // session.regenerate()
        case scenario::unset_null: state.unset_session(); break;
        default: break;
      }
      const end_plan plan = state.plan_end(true);
      ASSERT_FALSE(plan.error);
      const expectation want = expected(s, c);
      EXPECT_EQ(verbs_of(plan), want.end_calls);
      // The operation is about the right id: the loaded one, or the new one.
      if (plan.operation != store_operation::none) {
        EXPECT_EQ(plan.id, (s == scenario::destroyed || s == scenario::unset_null) ? loaded_id : state.id());
      }
      EXPECT_EQ(plan.set_cookie.has_value(), want.cookie);
      if (s == scenario::regenerated) {
        EXPECT_NE(state.id(), loaded_id);
        EXPECT_EQ(eng.read_session_id(plan.set_cookie->substr(0, plan.set_cookie->find(';'))), state.id());
      }
      if (plan.set_cookie) {
        // Expires only with a max age; the loaded session keeps its id unless regenerated.
        EXPECT_EQ(plan.set_cookie->find("; Expires=") != std::string::npos, c.max_age);
        if (s == scenario::loaded_unmodified || s == scenario::loaded_modified) {
          EXPECT_EQ(eng.read_session_id(plan.set_cookie->substr(0, plan.set_cookie->find(';'))), loaded_id);
        }
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 32 * 7);
}

}  // namespace
}  // namespace sessionkit::test
